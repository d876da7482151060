#include <doctest/doctest.h>

#include <numeric>

#include "core/chunkizer.hpp"
#include "core/h264_bitstream.hpp"
#include "h264_test_data.hpp"

using namespace partyhub;
using namespace partyhub::source;
namespace t = partyhub::test;

namespace {

EncodedFrame video(const std::string& data, std::int64_t captureUs) {
  return EncodedFrame{v1::MEDIA_KIND_VIDEO, v1::CODEC_H264, data, captureUs, 33'333};
}
EncodedFrame audio(const std::string& data, std::int64_t captureUs) {
  return EncodedFrame{v1::MEDIA_KIND_AUDIO, v1::CODEC_OPUS, data, captureUs, 20'000};
}

std::uint32_t sum(const v1::Chunk& c) {
  return std::accumulate(c.frame_sizes().begin(), c.frame_sizes().end(), 0u);
}

}  // namespace

TEST_CASE("one access unit per chunk by default, with anchors and GOP ids") {
  ChunkizerConfig cfg;
  cfg.channelId = 7;
  Chunkizer ck(cfg);
  const std::string key = t::keyAu(), delta = t::slice();
  struct Step {
    const std::string* data;
    bool anchor;
    std::uint64_t gop;
  };
  const Step steps[] = {{&key, true, 1}, {&delta, false, 1}, {&delta, false, 1}, {&key, true, 2}, {&delta, false, 2}};
  std::int64_t now = 1'000'000;
  std::uint64_t seq = 0;
  for (const Step& s : steps) {
    auto out = ck.push(video(*s.data, now));
    REQUIRE(out.size() == 1);
    const v1::Chunk& c = out[0];
    CHECK(c.channel_id() == 7);
    CHECK(c.anchor() == s.anchor);
    CHECK(c.gop_id() == s.gop);
    CHECK(c.media_seq() == seq++);
    CHECK(c.capture_us() == now);
    CHECK(c.payload() == *s.data);
    CHECK(c.frame_sizes_size() == 1);
    CHECK(sum(c) == c.payload().size());
    now += 33'333;
  }
  CHECK(ck.stats().anchors == 2);
}

TEST_CASE("frames before the first keyframe are dropped: they cannot be decoded") {
  Chunkizer ck({});
  CHECK(ck.push(video(t::slice(), 0)).empty());
  CHECK(ck.push(video(t::slice(), 1)).empty());
  CHECK(ck.stats().framesBeforeFirstAnchor == 2);
  auto out = ck.push(video(t::keyAu(), 2));
  REQUIRE(out.size() == 1);
  CHECK(out[0].anchor());
  CHECK(out[0].media_seq() == 0);
}

TEST_CASE("an IDR without parameter sets gets the last SPS/PPS prepended") {
  Chunkizer ck({});
  (void)ck.push(video(t::keyAu(), 0));
  auto out = ck.push(video(t::idr(40), 100));
  REQUIRE(out.size() == 1);
  CHECK(out[0].anchor());
  CHECK(out[0].payload() == t::sps() + t::pps() + t::idr(40));
  CHECK(ck.stats().parameterSetsInserted == 1);
  const auto info = analyzeH264(out[0].payload());
  CHECK((info.idr && info.sps && info.pps));
}

TEST_CASE("several frames per chunk: whole frames, a keyframe always starts a chunk") {
  ChunkizerConfig cfg;
  cfg.maxVideoFramesPerChunk = 3;
  Chunkizer ck(cfg);
  std::vector<v1::Chunk> all;
  auto feed = [&](const std::string& d, std::int64_t ts) {
    for (auto& c : ck.push(video(d, ts))) all.push_back(std::move(c));
  };
  feed(t::keyAu(), 0);
  feed(t::slice(10), 33'333);
  feed(t::slice(11), 66'666);  // closes chunk 0 (3 frames)
  feed(t::slice(12), 100'000);
  feed(t::keyAu(), 133'333);   // flushes the 1-frame delta chunk, opens an anchor chunk
  for (auto& c : ck.flush()) all.push_back(std::move(c));
  REQUIRE(all.size() == 3);
  CHECK(all[0].anchor());
  CHECK(all[0].frame_sizes_size() == 3);
  CHECK(all[0].duration_us() == 3 * 33'333);
  CHECK(all[0].payload() == t::keyAu() + t::slice(10) + t::slice(11));
  CHECK_FALSE(all[1].anchor());
  CHECK(all[1].frame_sizes_size() == 1);
  CHECK(all[1].capture_us() == 100'000);
  CHECK(all[2].anchor());
  CHECK(all[2].capture_us() == 133'333);
  for (const auto& c : all) CHECK(sum(c) == c.payload().size());
}

TEST_CASE("a multi-frame chunk closes at the byte limit rather than split a frame") {
  ChunkizerConfig cfg;
  cfg.maxVideoFramesPerChunk = 10;
  cfg.maxChunkBytes = 300;
  Chunkizer ck(cfg);
  std::size_t chunks = 0;
  chunks += ck.push(video(t::keyAu(150), 0)).size();
  chunks += ck.push(video(t::slice(100), 1)).size();
  auto out = ck.push(video(t::slice(100), 2));  // would exceed 300 bytes
  REQUIRE(out.size() == 1);
  CHECK(out[0].frame_sizes_size() == 2);
  CHECK(chunks == 0);
}

TEST_CASE("Opus frames are packed up to the audio chunk duration") {
  ChunkizerConfig cfg;
  cfg.audioChunkUs = 60'000;
  Chunkizer ck(cfg);
  const std::string f(80, 'o');
  CHECK(ck.push(audio(f, 0)).empty());
  CHECK(ck.push(audio(f, 20'000)).empty());
  auto out = ck.push(audio(f, 40'000));
  REQUIRE(out.size() == 1);
  CHECK(out[0].kind() == v1::MEDIA_KIND_AUDIO);
  CHECK(out[0].anchor());
  CHECK(out[0].capture_us() == 0);
  CHECK(out[0].duration_us() == 60'000);
  CHECK(out[0].frame_sizes_size() == 3);
  CHECK(out[0].sample_rate() == 48000);
}

TEST_CASE("audio and video keep separate media sequences: empty frames are ignored") {
  Chunkizer ck({});
  (void)ck.push(video(t::keyAu(), 0));
  auto a0 = ck.push(audio("xx", 0));
  auto v1c = ck.push(video(t::slice(), 1));
  auto a1 = ck.push(audio("yy", 20'000));
  CHECK(ck.push(audio("", 1)).empty());
  CHECK(ck.stats().emptyFrames == 1);
  CHECK(a0.at(0).media_seq() == 0);
  CHECK(a1.at(0).media_seq() == 1);
  CHECK(v1c.at(0).media_seq() == 1);
}

TEST_CASE("VP8 anchors come from the frame tag") {
  Chunkizer ck({});
  const std::string key("\x10\x02\x00\x9d\x01\x2a", 6), inter("\x11\x02\x00", 3);
  auto k = ck.push(EncodedFrame{v1::MEDIA_KIND_VIDEO, v1::CODEC_VP8, key, 0, 33'333});
  auto d = ck.push(EncodedFrame{v1::MEDIA_KIND_VIDEO, v1::CODEC_VP8, inter, 1, 33'333});
  CHECK(k.at(0).anchor());
  CHECK(k.at(0).codec() == v1::CODEC_VP8);
  CHECK_FALSE(d.at(0).anchor());
}

TEST_CASE("mute: frames are dropped before they get a sequence number, video comes back on a keyframe") {
  Chunkizer ck(ChunkizerConfig{});
  const std::string key = t::keyAu(), delta = t::slice();
  REQUIRE(ck.push(video(key, 0)).size() == 1);
  REQUIRE(ck.push(audio("opus", 0)).size() == 1);
  CHECK(ck.setMuted(v1::MEDIA_KIND_VIDEO, true).empty());
  CHECK(ck.muted(v1::MEDIA_KIND_VIDEO));
  CHECK_FALSE(ck.muted(v1::MEDIA_KIND_AUDIO));
  CHECK(ck.push(video(delta, 33'333)).empty());
  CHECK(ck.push(video(key, 66'666)).empty());
  auto a = ck.push(audio("opus", 20'000));  // the microphone is still on
  REQUIRE(a.size() == 1);
  CHECK(a[0].media_seq() == 1);
  CHECK(ck.stats().mutedFrames == 2);
  (void)ck.setMuted(v1::MEDIA_KIND_VIDEO, false);
  CHECK(ck.push(video(delta, 100'000)).empty());  // undecodable: its references were never sent
  auto back = ck.push(video(key, 133'333));
  REQUIRE(back.size() == 1);
  CHECK(back[0].anchor());
  CHECK(back[0].media_seq() == 1);  // no gap: players see a pause, not a loss
  (void)ck.setMuted(v1::MEDIA_KIND_AUDIO, true);
  CHECK(ck.push(audio("opus", 140'000)).empty());
}
