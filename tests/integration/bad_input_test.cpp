// Bad input gets a clear error or is counted and dropped; nothing crashes.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <fstream>
#include <random>

#include <google/protobuf/util/json_util.h>
#include <zmq.hpp>

#include "partyhub/v1/local.pb.h"
#include "partyhub/v1/peer.pb.h"
#include "process.hpp"

using namespace partyhub;
using namespace std::chrono_literals;
using partyhub::test::Process;

namespace {

struct Expect {
  std::string exe;
  std::vector<std::string> args;
  int code;
  std::string message;  // must appear on stderr
};

void sendUdp(int port, const std::string& bytes) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  (void)sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  close(fd);
}

std::optional<v1::Stats> requestStats(zmq::socket_t& dealer) {
  v1::PlayerToStreamer req;
  req.mutable_stats_request();
  dealer.send(zmq::buffer(req.SerializeAsString()));
  for (int i = 0; i < 100; ++i) {
    zmq::message_t reply;
    if (dealer.recv(reply, zmq::recv_flags::dontwait)) {
      v1::StreamerToPlayer msg;
      if (msg.ParseFromArray(reply.data(), static_cast<int>(reply.size())) && msg.has_stats()) return msg.stats();
      continue;
    }
    std::this_thread::sleep_for(20ms);
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("command-line and start-up errors are clear, with documented exit codes") {
  const std::string dir = test::tempDir();
  const int port = test::portBase() + 5;
  {
    std::ofstream junk(dir + "/not-a-video.mp4");
    junk << "this is not a video file";
  }
  const std::vector<Expect> cases = {
      {"partyhub-source", {"--bogus"}, 109, "--bogus"},  // CLI11: ExtrasError
      {"partyhub-streamer", {"--listen"}, 114, "--listen"},
      {"partyhub-player", {"--unknown-flag"}, 109, "--unknown-flag"},
      {"partyhub-source", {"--video", "webcam"}, 2, "unknown kind 'webcam'"},
      {"partyhub-player", {"--sink", "screen"}, 2, "unknown kind 'screen'"},
      {"partyhub-source", {"--video", "file:/nonexistent/clip.mkv", "--audio", "none", "--streamer", "ipc://" + dir + "/x.ipc"},
       3, "clip.mkv"},
      {"partyhub-source", {"--video", "file:" + dir + "/not-a-video.mp4", "--audio", "none", "--streamer", "ipc://" + dir + "/x.ipc"},
       3, "media pipeline"},
      {"partyhub-source", {"--video", "v4l2:/dev/video-missing", "--audio", "none", "--streamer", "ipc://" + dir + "/x.ipc"},
       3, "video-missing"},
      {"partyhub-source", {"--video", "pipeline:videotestsrc ! ! nonsense", "--streamer", "ipc://" + dir + "/x.ipc"},
       3, "does not parse"},
      {"partyhub-source", {"--video", "pipeline:nosuchelement", "--streamer", "ipc://" + dir + "/x.ipc"}, 3, "nosuchelement"},
      {"partyhub-streamer", {"--listen", "127.0.0.1:99999"}, 2, "99999"},
      {"partyhub-streamer", {"--listen", "127.0.0.1:" + std::to_string(port), "--players", "bogus://endpoint"}, 3,
       "cannot bind bogus://endpoint"},
      {"partyhub-streamer", {"--peer", "no-port-here"}, 2, "HOST:PORT"},
  };
  for (const Expect& e : cases) {
    std::string joined;
    for (const auto& a : e.args) joined += a + " ";
    CAPTURE(e.exe);
    CAPTURE(joined);
    Process p(e.exe, e.args, "bad-cli");
    const auto code = p.wait(15s);
    REQUIRE_MESSAGE(code.has_value(), "hung instead of failing");
    CHECK(*code == e.code);
    const std::string err = p.err() + p.out();
    CAPTURE(err);
    CHECK(err.find(e.message) != std::string::npos);
  }
}

TEST_CASE("a UDP port already in use is a clear start-up error") {
  const int port = test::portBase() + 6;
  const std::string dir = test::tempDir();
  Process first("partyhub-streamer", {"--listen", "127.0.0.1:" + std::to_string(port), "--players",
                                      "ipc://" + dir + "/busy1.ipc", "--duration", "10"}, "busy1");
  REQUIRE(test::waitUdpBound(port));
  Process second("partyhub-streamer", {"--listen", "127.0.0.1:" + std::to_string(port), "--players",
                                       "ipc://" + dir + "/busy2.ipc"}, "busy2");
  CHECK(second.wait(10s) == 3);
  CHECK(second.err().find("cannot bind UDP") != std::string::npos);
  first.terminate();
  CHECK(first.wait(10s) == 0);
}

TEST_CASE("garbage on the UDP port and malformed ZeroMQ messages are counted and dropped") {
  const std::string dir = test::tempDir();
  const int port = test::portBase() + 7;
  const std::string players = "ipc://" + dir + "/garbage-play.ipc";
  const std::string source = "ipc://" + dir + "/garbage-src.ipc";
  Process streamer("partyhub-streamer", {"--name", "G", "--listen", "127.0.0.1:" + std::to_string(port),
                                         "--source", source, "--players", players, "--duration", "60"}, "garbage");
  REQUIRE(test::waitUdpBound(port));

  zmq::context_t ctx;
  zmq::socket_t player(ctx, zmq::socket_type::dealer);
  player.set(zmq::sockopt::linger, 0);
  player.connect(players);
  v1::PlayerToStreamer sub;
  sub.mutable_subscribe()->set_channel_id(1);
  player.send(zmq::buffer(sub.SerializeAsString()));

  // Random datagrams, our framing with a non-protobuf body, and truncations.
  std::mt19937 rng(11);
  for (int i = 0; i < 3000; ++i) {
    std::string junk(rng() % 1400, '\0');
    for (char& c : junk) c = static_cast<char>(rng() & 0xFF);
    sendUdp(port, junk);
  }
  const std::string framed("P\x21", 2);  // our framing: version 2, a whole message
  sendUdp(port, framed + "\xff\xff\xff\xff not protobuf");

  // Malformed local messages: garbage, empty, and multipart nonsense.
  zmq::socket_t src(ctx, zmq::socket_type::dealer);
  src.set(zmq::sockopt::linger, 0);
  src.connect(source);
  src.send(zmq::str_buffer("\xff\xfe garbage"));
  src.send(zmq::str_buffer(""));
  player.send(zmq::str_buffer("\x08\x96\x01 junk"), zmq::send_flags::sndmore);
  player.send(zmq::str_buffer("more"));

  std::this_thread::sleep_for(500ms);
  REQUIRE(streamer.running());
  auto stats = requestStats(player);
  REQUIRE(stats.has_value());
  const auto& s = stats->streamer();
  CHECK(s.datagrams_in() >= 2900);  // a few empty datagrams may be folded by the kernel
  CHECK(s.datagrams_garbage() + s.messages_malformed() >= 2900);
  CHECK(s.messages_malformed() >= 1);
  CHECK(s.local_malformed() >= 3);

  // Still serving: a well-formed chunk from the source reaches the player.
  v1::SourceToStreamer good;
  auto* chunk = good.mutable_chunk();
  chunk->set_kind(v1::MEDIA_KIND_AUDIO);
  chunk->set_payload("opus");
  src.send(zmq::buffer(good.SerializeAsString()));
  bool delivered = false;
  for (int i = 0; i < 100 && !delivered; ++i) {
    zmq::message_t m;
    if (player.recv(m, zmq::recv_flags::dontwait)) {
      v1::StreamerToPlayer msg;
      delivered = msg.ParseFromArray(m.data(), static_cast<int>(m.size())) && msg.has_chunk() &&
                  msg.chunk().payload() == "opus";
    } else {
      std::this_thread::sleep_for(20ms);
    }
  }
  CHECK(delivered);
  streamer.terminate();
  CHECK(streamer.wait(10s) == 0);
}
