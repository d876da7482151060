// The epidemic overlay in real streamers on loopback: one source streamer,
// peers that know only a bootstrap address, one player each.
#include <doctest/doctest.h>

#include <google/protobuf/util/json_util.h>

#include "partyhub/v1/stats.pb.h"
#include "process.hpp"

using namespace partyhub;
using namespace std::chrono_literals;
using partyhub::test::Process;

namespace {

/// A source streamer and four peers that know only its address, over
/// `scheduler`, one player each; P4 crashes mid-stream. The others play it all.
/// How chunk copies go: as a header and body datagrams (cut-through, the
/// default), checked to have been relayed as they landed (the source
/// injecting one copy of each chunk: the peers relay the rest); or whole.
enum class Forwarding { kDefault, kCutThroughChecked, kStoreAndForward };

void bootstrapPeersPlay(const std::string& scheduler, int portOffset, Forwarding forwarding = Forwarding::kDefault) {
  const bool cutThrough = forwarding == Forwarding::kCutThroughChecked;
  const std::vector<std::string> extra =
      forwarding == Forwarding::kStoreAndForward ? std::vector<std::string>{"--store-and-forward"}
                                                  : std::vector<std::string>{};
  const std::string dir = test::tempDir();
  const int base = test::portBase() + portOffset;
  const std::string boot = "127.0.0.1:" + std::to_string(base);
  const std::string src = "ipc://" + dir + "/ov-src.ipc";
  constexpr int kPeers = 4;
  std::vector<std::string> sArgs{"--name", "S", "--listen", boot, "--overlay", scheduler, "--source", src, "--players",
                                 "ipc://" + dir + "/ov-s.ipc", "--overlay-size", "4", "--duration", "22"};
  if (cutThrough) sArgs.insert(sArgs.end(), {"--cut-through", "--source-copies", "1"});
  sArgs.insert(sArgs.end(), extra.begin(), extra.end());
  Process s("partyhub-streamer", sArgs, "ov-s");
  std::vector<std::unique_ptr<Process>> peers, players;
  for (int i = 1; i <= kPeers; ++i) {
    const std::string play = "ipc://" + dir + "/ov-p" + std::to_string(i) + ".ipc";
    std::vector<std::string> args{"--name", "P" + std::to_string(i), "--listen", "127.0.0.1:" + std::to_string(base + i),
                                  "--overlay", scheduler, "--bootstrap", boot, "--players", play, "--overlay-size", "4",
                                  "--duration", "22", "--stats-json"};
    if (cutThrough) args.push_back("--cut-through");
    args.insert(args.end(), extra.begin(), extra.end());
    peers.push_back(std::make_unique<Process>("partyhub-streamer", args, "ov-p" + std::to_string(i)));
    players.push_back(std::make_unique<Process>(
        "partyhub-player",
        std::vector<std::string>{"--name", "v" + std::to_string(i), "--streamer", play, "--sink", "fake", "--duration",
                                 "18", "--stats-json"},
        "ov-v" + std::to_string(i)));
  }
  std::this_thread::sleep_for(1s);
  Process source("partyhub-source", {"--name", "Ov", "--streamer", src, "--duration", "16"}, "ov-source");
  std::this_thread::sleep_for(6s);
  peers.back().reset();  // P4 crashes (SIGKILL): its neighbours must route around it
  players.back().reset();
  REQUIRE(source.wait(40s) == 0);
  for (int i = 0; i < kPeers - 1; ++i) {
    CAPTURE(i + 1);
    REQUIRE(players[static_cast<std::size_t>(i)]->wait(40s) == 0);
    v1::Stats st;
    const std::string line = test::lastLineWith(players[static_cast<std::size_t>(i)]->out(), "\"player\"");
    REQUIRE(google::protobuf::util::JsonStringToMessage(line, &st).ok());
    const auto& p = st.player();
    CHECK(p.frames_expected() >= 400);
    CHECK(static_cast<double>(p.frames_rendered()) >= 0.99 * static_cast<double>(p.frames_expected()));
    CHECK(p.frames_lost() <= 2);
  }
  if (!cutThrough) return;
  // The peers relayed the bodies as they landed, and nearly every chunk
  // told by a header came whole.
  std::uint64_t relayed = 0, completed = 0, failed = 0, garbage = 0;
  for (int i = 0; i < kPeers - 1; ++i) {
    REQUIRE(peers[static_cast<std::size_t>(i)]->wait(40s) == 0);
    v1::Stats st;
    const std::string line = test::lastLineWith(peers[static_cast<std::size_t>(i)]->out(), "\"streamer\"");
    REQUIRE(google::protobuf::util::JsonStringToMessage(line, &st).ok());
    relayed += st.streamer().cut_relayed();
    completed += st.streamer().cut_completed();
    failed += st.streamer().cut_failed();
    garbage += st.streamer().body_garbage();
  }
  MESSAGE("cut-through: " << completed << " chunks completed, " << failed << " failed, " << relayed
                          << " body datagrams relayed as they landed");
  CHECK(completed >= 300);  // the chunks of more than one datagram (the test picture's small ones go whole)
  CHECK(relayed > 0);
  CHECK(failed * 100 <= completed);
  CHECK(garbage == 0);
}

}  // namespace

TEST_CASE("peers joining through a bootstrap address all play the stream: a crashed peer does not hurt the rest") {
  bootstrapPeersPlay("push", 30, Forwarding::kStoreAndForward);  // chunks whole (cut-through: the tests below)
}

TEST_CASE("the tree scheduler in real streamers: peers joining through a bootstrap address all play, past a crash") {
  bootstrapPeersPlay("tree", 60);
}

TEST_CASE("cut-through forwarding in real streamers: chunk bodies relayed as they land, every peer plays, past a crash") {
  bootstrapPeersPlay("push", 90, Forwarding::kCutThroughChecked);
}

TEST_CASE("link emulation in the streamer: delay shows in the overlay delay, lost datagrams are repaired") {
  const std::string dir = test::tempDir();
  const int base = test::portBase() + 40;
  const std::string boot = "127.0.0.1:" + std::to_string(base);
  const std::string src = "ipc://" + dir + "/em-src.ipc";
  const std::string play = "ipc://" + dir + "/em-p.ipc";
  Process s("partyhub-streamer", {"--name", "S", "--listen", boot, "--overlay", "push", "--source", src, "--players",
                                  "ipc://" + dir + "/em-s.ipc", "--overlay-size", "1", "--emulate-delay-ms", "40",
                                  "--emulate-loss", "0.01", "--emulate-upload-kbps", "4000", "--duration", "14",
                                  "--stats-json"},
            "em-s");
  Process p("partyhub-streamer", {"--name", "P", "--listen", "127.0.0.1:" + std::to_string(base + 1), "--overlay",
                                  "push", "--bootstrap", boot, "--players", play, "--overlay-size", "1", "--duration",
                                  "14", "--stats-json", "--estimate-upload"},
            "em-p");
  Process player("partyhub-player", {"--name", "em", "--streamer", play, "--sink", "fake", "--duration", "12",
                                     "--stats-json"},
                 "em-v");
  std::this_thread::sleep_for(1s);
  Process source("partyhub-source", {"--name", "Em", "--streamer", src, "--duration", "10"}, "em-source");
  REQUIRE(source.wait(30s) == 0);
  REQUIRE(player.wait(30s) == 0);
  REQUIRE(p.wait(30s) == 0);
  REQUIRE(s.wait(30s) == 0);
  v1::Stats st;
  REQUIRE(google::protobuf::util::JsonStringToMessage(test::lastLineWith(p.out(), "\"streamer\""), &st).ok());
  CHECK(st.streamer().overlay_delay().p50_ms() >= 40);
  CHECK(st.streamer().overlay_delay().p50_ms() < 80);
  // Its budget is estimated, and it sends no chunk (no acknowledgement to
  // judge by): the estimate's start. The source's is the configured default.
  CHECK(st.streamer().upload_budget_kbps() == 2000);
  v1::Stats ss;
  REQUIRE(google::protobuf::util::JsonStringToMessage(test::lastLineWith(s.out(), "\"streamer\""), &ss).ok());
  CHECK(ss.streamer().emulation_dropped() > 0);  // 1 % of ~4000 datagrams
  // A chunk's header lost while its body came is asked for again (its
  // overlay would not hear of the chunk); only asked-for headers are resent.
  MESSAGE("headers asked for " << st.streamer().cut_headers_asked() << ", resent " << ss.streamer().cut_headers_resent());
  CHECK(ss.streamer().cut_headers_resent() <= st.streamer().cut_headers_asked());
  CHECK(ss.streamer().upload_budget_kbps() == 20000);
  v1::Stats ps;
  REQUIRE(google::protobuf::util::JsonStringToMessage(test::lastLineWith(player.out(), "\"player\""), &ps).ok());
  CHECK(ps.player().frames_expected() >= 250);
  CHECK(static_cast<double>(ps.player().frames_rendered()) >= 0.97 * static_cast<double>(ps.player().frames_expected()));
}
