// The real processes on loopback: source -> streamer -> streamer -> player.
#include <doctest/doctest.h>

#include <cmath>

#include <google/protobuf/util/json_util.h>

#include "partyhub/v1/stats.pb.h"
#include "process.hpp"

using namespace partyhub;
using namespace std::chrono_literals;
using partyhub::test::Process;

namespace {

v1::Stats parseStats(const std::string& line) {
  v1::Stats s;
  REQUIRE_MESSAGE(google::protobuf::util::JsonStringToMessage(line, &s).ok(), "bad stats line: " << line);
  return s;
}

}  // namespace

TEST_CASE("source -> streamer -> streamer -> player renders >= 99% of frames with latency reported") {
  const std::string dir = test::tempDir();
  const int port = test::portBase();
  const std::string a = "127.0.0.1:" + std::to_string(port), b = "127.0.0.1:" + std::to_string(port + 1);
  const std::string src = "ipc://" + dir + "/chain-src.ipc";
  const std::string play = "ipc://" + dir + "/chain-play.ipc";
  const double seconds = 20;

  Process s("partyhub-streamer", {"--name", "S", "--listen", a, "--peer", b, "--source", src, "--players",
                                  "ipc://" + dir + "/chain-s-play.ipc", "--duration", "26"}, "chain-s");
  Process p("partyhub-streamer", {"--name", "P", "--listen", b, "--players", play, "--duration", "26",
                                  "--stats-json"}, "chain-p");
  Process player("partyhub-player", {"--name", "viewer", "--streamer", play, "--sink", "fake", "--duration",
                                     "24", "--stats-json"}, "chain-player");
  std::this_thread::sleep_for(500ms);
  Process source("partyhub-source", {"--name", "Chain", "--streamer", src, "--duration",
                                     std::to_string(seconds), "--stats-json"}, "chain-source");

  REQUIRE(source.wait(40s) == 0);
  REQUIRE(player.wait(40s) == 0);
  REQUIRE(s.wait(40s) == 0);
  REQUIRE(p.wait(40s) == 0);

  const std::string line = test::lastLineWith(player.out(), "\"player\"");
  INFO("player stdout tail: " << line << "\nstderr: " << player.err());
  const v1::PlayerStats st = parseStats(line).player();
  const auto sourceStats = parseStats(test::lastLineWith(source.out(), "\"source\"")).source();

  // Every frame the source made after the player started playing is accounted for.
  CHECK(st.frames_expected() >= static_cast<std::uint64_t>(0.9 * 30 * seconds));
  CHECK(sourceStats.video_frames() >= st.frames_expected());
  const double ratio = static_cast<double>(st.frames_rendered()) / static_cast<double>(st.frames_expected());
  CHECK(ratio >= 0.99);
  CHECK(st.frames_late() == 0);
  CHECK(st.frames_lost() == 0);
  CHECK(st.audio_frames_played() >= static_cast<std::uint64_t>(0.9 * 50 * seconds));
  CHECK(st.g2g().count() == st.frames_rendered());
  CHECK(st.g2g().p50_ms() > 0.0);
  CHECK(st.g2g().p95_ms() >= st.g2g().p50_ms());
  CHECK(st.g2g().p95_ms() < 500.0);
  // Audio and video share the playout delay: lip sync within 20 ms (ITU-R
  // BT.1359 detectability is -125..+45 ms).
  REQUIRE(st.audio_g2g().count() > 0);
  CHECK(std::abs(st.audio_g2g().p50_ms() - st.g2g().p50_ms()) <= 20.0);

  const auto relay = parseStats(test::lastLineWith(p.out(), "\"streamer\"")).streamer();
  CHECK(relay.chunks_from_peers() > 0);
  CHECK(relay.datagrams_garbage() == 0);
  CHECK(relay.overlay_delay().count() == relay.chunks_from_peers());
}
