// Media features through the real processes: recording, snapshots, keyframe
// requests on join (also before the source is up), a streamer that restarts,
// and the GStreamer elements.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>

#include <google/protobuf/util/json_util.h>
#include <zmq.hpp>

#include "partyhub/v1/local.pb.h"
#include "partyhub/v1/stats.pb.h"
#include "process.hpp"

using namespace partyhub;
using namespace std::chrono_literals;
using partyhub::test::Process;

namespace {

v1::Stats lastStats(const Process& p, const std::string& kind) {
  const std::string line = test::lastLineWith(p.out(), "\"" + kind + "\"");
  v1::Stats s;
  REQUIRE_MESSAGE(google::protobuf::util::JsonStringToMessage(line, &s).ok(), "no " << kind << " stats in: " << p.out());
  return s;
}

struct Endpoints {
  std::string src, sPlay, pPlay, a, b;
  explicit Endpoints(const std::string& tag, int portOffset) {
    const std::string d = test::tempDir();
    src = "ipc://" + d + "/" + tag + "-src.ipc";
    sPlay = "ipc://" + d + "/" + tag + "-s.ipc";
    pPlay = "ipc://" + d + "/" + tag + "-p.ipc";
    a = "127.0.0.1:" + std::to_string(test::portBase() + portOffset);
    b = "127.0.0.1:" + std::to_string(test::portBase() + portOffset + 1);
  }
};

}  // namespace

TEST_CASE("the player records a playable file and writes PNG snapshots") {
  const Endpoints e("rec", 10);
  const std::string dir = test::tempDir();
  Process s("partyhub-streamer", {"--listen", e.a, "--source", e.src, "--players", e.sPlay, "--duration", "9"}, "rec-s");
  Process player("partyhub-player", {"--streamer", e.sPlay, "--sink", "file:" + dir + "/rec.mkv", "--duration", "6",
                                     "--snapshot-after", "3", "--snapshot", dir + "/snap.png", "--stats-json"}, "rec-player");
  std::this_thread::sleep_for(300ms);
  Process source("partyhub-source", {"--name", "Rec", "--streamer", e.src, "--duration", "6.5"}, "rec-source");
  REQUIRE(player.wait(30s) == 0);
  CHECK(lastStats(player, "player").player().snapshots() == 1);
  const std::string png = test::readFile(dir + "/snap.png");
  REQUIRE(png.size() > 1000);
  CHECK(png.substr(1, 3) == "PNG");
  // Played back by GStreamer's own playbin, audio and video, to the end.
  Process play("gst-launch-1.0", {"playbin", "uri=file://" + dir + "/rec.mkv", "video-sink=fakesink",
                                  "audio-sink=fakesink"}, "rec-play");
  REQUIRE(play.wait(30s) == 0);
  CHECK(play.out().find("Got EOS") != std::string::npos);
  CHECK(source.wait(30s) == 0);
}

TEST_CASE("a late joiner asks for a keyframe, which travels back to the source") {
  const Endpoints e("kf", 12);
  // GOPs of 30 s: without a forced keyframe the player could not start.
  Process s("partyhub-streamer", {"--listen", e.a, "--peer", e.b, "--source", e.src, "--players", e.sPlay,
                                  "--duration", "14"}, "kf-s");
  Process p("partyhub-streamer", {"--listen", e.b, "--players", e.pPlay, "--duration", "14"}, "kf-p");
  Process source("partyhub-source", {"--name", "Kf", "--streamer", e.src, "--keyframe-interval", "30", "--duration", "12",
                                     "--stats-json", "--audio", "none"}, "kf-source");
  std::this_thread::sleep_for(3s);  // well inside the first GOP
  Process player("partyhub-player", {"--streamer", e.pPlay, "--sink", "fake", "--duration", "6", "--stats-json"}, "kf-player");
  REQUIRE(player.wait(30s) == 0);
  REQUIRE(source.wait(30s) == 0);
  const auto st = lastStats(player, "player").player();
  CHECK(st.keyframe_requests() >= 1);
  CHECK(st.frames_rendered() >= 150);  // playing within ~1 s of joining
  CHECK(lastStats(source, "source").source().keyframes_forced() >= 1);
}

TEST_CASE("the source waits for a streamer that is not up yet and survives its restart") {
  const Endpoints e("restart", 14);
  Process source("partyhub-source", {"--name", "Rs", "--streamer", e.src, "--duration", "12", "--stats-json",
                                     "--queue", "20"}, "restart-source");
  std::this_thread::sleep_for(2s);  // no streamer yet: the queue keeps the newest 20 chunks
  {
    Process s1("partyhub-streamer", {"--listen", e.a, "--source", e.src, "--players", e.sPlay}, "restart-s1");
    std::this_thread::sleep_for(3s);
    s1.terminate();
    CHECK(s1.wait(10s) == 0);
  }
  std::this_thread::sleep_for(1s);
  Process s2("partyhub-streamer", {"--listen", e.a, "--source", e.src, "--players", e.sPlay, "--duration", "10"},
             "restart-s2");
  Process player("partyhub-player", {"--streamer", e.sPlay, "--sink", "fake", "--duration", "4", "--stats-json"},
                 "restart-player");
  REQUIRE(player.wait(30s) == 0);
  REQUIRE(source.wait(30s) == 0);
  const auto src = lastStats(source, "source").source();
  CHECK(src.chunks_dropped_queue() > 0);  // counted, not blocking capture
  CHECK(src.video_frames() >= 300);       // capture never stalled: ~30 fps throughout
  const auto st = lastStats(player, "player").player();
  CHECK(st.frames_rendered() >= 90);
}

TEST_CASE("the GStreamer elements: listed, and streaming through real streamers") {
  setenv("GST_PLUGIN_PATH", test::pluginDir().c_str(), 1);
  {
    Process inspect("gst-inspect-1.0", {"partyhubsink"}, "inspect-sink");
    REQUIRE(inspect.wait(30s) == 0);
    CHECK(inspect.out().find("PartyHub chunkizer sink") != std::string::npos);
    Process inspect2("gst-inspect-1.0", {"partyhubsrc"}, "inspect-src");
    REQUIRE(inspect2.wait(30s) == 0);
    CHECK(inspect2.out().find("PartyHub channel source") != std::string::npos);
  }
  const Endpoints e("gst", 16);
  Process s("partyhub-streamer", {"--listen", e.a, "--peer", e.b, "--source", e.src, "--players", e.sPlay,
                                  "--duration", "14"}, "gst-s");
  Process p("partyhub-streamer", {"--listen", e.b, "--players", e.pPlay, "--duration", "14"}, "gst-p");
  // partyhubsrc into a decoder; identity ends the stream after 60 decoded frames.
  Process out("gst-launch-1.0", {"-q", "partyhubsrc", "endpoint=" + e.pPlay, "!", "h264parse", "!", "avdec_h264", "!",
                                 "identity", "eos-after=60", "!", "fakesink"}, "gst-out");
  Process player("partyhub-player", {"--streamer", e.pPlay, "--sink", "fake", "--duration", "8", "--stats-json"},
                 "gst-player");
  std::this_thread::sleep_for(500ms);
  // partyhubsink fed by a user's own pipeline, as in README.
  Process in("gst-launch-1.0", {"-q", "videotestsrc", "is-live=true", "num-buffers=240", "!",
                                "video/x-raw,format=I420,width=640,height=360,framerate=30/1", "!", "x264enc",
                                "tune=zerolatency", "speed-preset=ultrafast", "!",
                                "video/x-h264,profile=constrained-baseline", "!", "partyhubsink", "endpoint=" + e.src},
             "gst-in");
  CHECK(in.wait(30s) == 0);
  CHECK(out.wait(30s) == 0);
  REQUIRE(player.wait(30s) == 0);
  const auto st = lastStats(player, "player").player();
  CHECK(st.frames_rendered() >= 200);
  CHECK(static_cast<double>(st.frames_rendered()) >= 0.99 * static_cast<double>(st.frames_expected()));
}

TEST_CASE("a keyframe asked for before the source is up reaches the source when it comes") {
  // A joiner's player asks at once; the source streamer learns where its
  // source is only from the source's first message, so it holds the request.
  const Endpoints e("held", 18);
  Process s("partyhub-streamer", {"--listen", e.a, "--source", e.src, "--players", e.sPlay, "--duration", "20"},
            "held-s");
  std::this_thread::sleep_for(500ms);
  zmq::context_t ctx;
  zmq::socket_t player(ctx, zmq::socket_type::dealer);
  player.set(zmq::sockopt::linger, 0);
  player.connect(e.sPlay);
  v1::PlayerToStreamer ask;
  ask.mutable_control()->mutable_keyframe()->set_reason("join");
  player.send(zmq::buffer(ask.SerializeAsString()));
  std::this_thread::sleep_for(300ms);

  zmq::socket_t source(ctx, zmq::socket_type::dealer);
  source.set(zmq::sockopt::linger, 0);
  source.connect(e.src);
  v1::SourceToStreamer first;
  first.mutable_chunk()->set_kind(v1::MEDIA_KIND_AUDIO);
  first.mutable_chunk()->set_payload("opus");
  source.send(zmq::buffer(first.SerializeAsString()));
  std::optional<std::string> reason;
  for (int i = 0; i < 100 && !reason; ++i) {
    zmq::message_t m;
    if (source.recv(m, zmq::recv_flags::dontwait)) {
      v1::StreamerToSource msg;
      if (msg.ParseFromArray(m.data(), static_cast<int>(m.size())) && msg.control().has_keyframe()) {
        reason = msg.control().keyframe().reason();
      }
    } else {
      std::this_thread::sleep_for(20ms);
    }
  }
  REQUIRE(reason.has_value());
  CHECK(*reason == "join");
}
