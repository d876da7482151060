#include <doctest/doctest.h>

#include "daemon/media_feed.hpp"

using namespace partyhub;
using namespace partyhub::controller;

namespace {

std::uint64_t get(const std::string& s, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<std::uint8_t>(s[at + static_cast<std::size_t>(i)]);
  return v;
}

}  // namespace

TEST_CASE("web media records: header fields big-endian, each frame's size, then the frames") {
  v1::Chunk audio;
  audio.set_kind(v1::MEDIA_KIND_AUDIO);
  audio.set_codec(v1::CODEC_OPUS);
  audio.set_anchor(true);
  audio.set_capture_us(1'764'000'000'123'456);
  audio.set_media_seq(77);
  audio.set_duration_us(40'000);
  audio.add_frame_sizes(3);
  audio.add_frame_sizes(2);
  audio.set_payload("abcde");
  v1::Chunk video;  // no frame sizes: the payload is one frame
  video.set_kind(v1::MEDIA_KIND_VIDEO);
  video.set_codec(v1::CODEC_H264);
  video.set_payload("xyz");

  std::string out;
  frameChunk(audio, out);
  const std::size_t first = out.size();
  frameChunk(video, out);

  CHECK(get(out, 0, 4) == first - 4);
  CHECK(out[4] == 2);  // audio
  CHECK(out[5] == 3);  // Opus
  CHECK(out[6] == 1);  // anchor
  CHECK(get(out, 8, 8) == 1'764'000'000'123'456u);
  CHECK(get(out, 16, 4) == 77);
  CHECK(get(out, 20, 4) == 40'000);
  CHECK(get(out, 24, 2) == 2);
  CHECK(get(out, 26, 4) == 3);
  CHECK(get(out, 30, 4) == 2);
  CHECK(out.substr(34, 5) == "abcde");
  CHECK(first == 39);
  CHECK(get(out, first, 4) == out.size() - first - 4);
  CHECK(out[first + 4] == 1);  // video
  CHECK(get(out, first + 24, 2) == 1);
  CHECK(get(out, first + 26, 4) == 3);
  CHECK(out.substr(out.size() - 3) == "xyz");
}
