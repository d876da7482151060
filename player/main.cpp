// partyhub-player: subscribes to a streamer and plays the channel out.
#include <algorithm>
#include <array>
#include <csignal>
#include <limits>
#include <iostream>
#include <mutex>

#include <CLI/CLI.hpp>
#include <glib-unix.h>

#include "core/playout_buffer.hpp"
#include "core/playout_delay.hpp"
#include "media/player_pipeline.hpp"
#include "partyhub/common/clock.hpp"
#include "partyhub/common/event_loop.hpp"
#include "partyhub/common/latency_histogram.hpp"
#include "partyhub/common/logging.hpp"
#include "partyhub/common/process.hpp"
#include "partyhub/common/run_options.hpp"
#include "partyhub/common/zmq_util.hpp"
#include "partyhub/v1/local.pb.h"

using namespace partyhub;
using namespace partyhub::player;

namespace {

struct Options {
  std::string name = "player";
  std::string streamer = "ipc:///tmp/partyhub-players.ipc";
  std::uint32_t channel = 1;
  std::string sink = "auto";
  std::string audioSink;  // default: auto with the auto video sink, else fake
  std::string h264Decoder = "auto";
  double minDelayMs = 0;
  double maxDelayMs = 1000;
  double marginMs = 2;
  double lateToleranceMs = 150;
  double videoLateToleranceMs = 300;
  double warmup = 0;
  std::string snapshotPath;
  double snapshotAfter = 0;
  RunOptions run;
};

class PlayerApp {
 public:
  explicit PlayerApp(const Options& o)
      : mOptions(o), mLog(logger("player")), mSocket(mCtx, zmq::socket_type::dealer),
        mVideo(v1::MEDIA_KIND_VIDEO, bufferConfig(o, true)), mAudio(v1::MEDIA_KIND_AUDIO, bufferConfig(o, false)),
        mVideoDelay(delayConfig(o)), mAudioDelay(delayConfig(o)) {
    mSocket.set(zmq::sockopt::linger, 0);
    mSocket.set(zmq::sockopt::rcvhwm, 4000);
    mSocket.set(zmq::sockopt::reconnect_ivl, 50);
    connectOrThrow(mSocket, o.streamer);
    PlayerPipelineConfig pc;
    pc.videoSink = parseSinkSpec(o.sink);
    const std::string audio = o.audioSink.empty() ? (pc.videoSink.kind == "auto" ? "auto" : "fake") : o.audioSink;
    pc.audioSink = parseMediaSpec("--audio-sink", audio, {"auto", "fake", "none"}, {});
    pc.h264Decoder = chooseH264Decoder(o.h264Decoder);
    if (pc.videoSink.kind == "auto") {
      pc.videoDevice = resolveAutoSink("autovideosink");
      if (pc.videoDevice.empty()) mLog->warn("no display: video is decoded but not shown (use --sink to choose)");
    }
    if (pc.audioSink.kind == "auto") {
      pc.audioDevice = resolveAutoSink("autoaudiosink");
      if (pc.audioDevice.empty()) mLog->warn("no audio output device: audio is decoded but not played");
    }
    mLog->info("video sink: {}, audio sink: {}, H.264 decoder: {}",
               pc.videoDevice.empty() ? pc.videoSink.kind : pc.videoDevice,
               pc.audioDevice.empty() ? pc.audioSink.kind : pc.audioDevice, pc.h264Decoder);
    mPipeline = std::make_unique<PlayerPipeline>(
        pc, [this](v1::MediaKind k, std::int64_t c, std::int64_t at) { onReady(k, c, at); },
        [this](v1::MediaKind k, std::int64_t c, std::int64_t at) { onRendered(k, c, at); },
        [this](const std::string& e) {
          mLog->error("playback failed: {}", e);
          mExitCode = static_cast<int>(ExitCode::kRuntimeError);
          mLoop.quit();
        });
  }

  int run() {
    auto watch = mLoop.addZmq(mSocket, [this] { onMessage(); });
    mWatch = watch.get();
    mPipeline->warmUp();  // while the streamer gets us the first chunks
    subscribe();
    mLoop.addTimer(std::chrono::milliseconds(100), [this] {
      // Subscriptions are soft state at the streamer: renew every second,
      // and every 200 ms while nothing arrives (a restarted streamer is
      // found within a fifth of a second).
      const std::int64_t now = wallNowUs();
      const std::int64_t sinceSub = now - mLastSubscribeUs;
      if (sinceSub >= 1'000'000 || (now - mLastChunkUs > 200'000 && sinceSub >= 200'000)) subscribe();
      return true;
    });
    // Chunks are released as they arrive (see onMessage); the clock only
    // matters for deadlines, armed exactly (armDeadline), and for start-up
    // and keyframe requests, which this slow timer covers. A 5 ms poll cost
    // each player 200 wake-ups a second, and a conference runs many players.
    mLoop.addTimer(std::chrono::milliseconds(50), [this] {
      pump(wallNowUs());
      return true;
    });
    scheduleRun(mLoop, mOptions.run, [this] { printStats(); });
    if (mOptions.snapshotAfter > 0) {
      mLoop.addTimer(std::chrono::milliseconds(static_cast<int>(mOptions.snapshotAfter * 1000)), [this] {
        snapshot();
        return false;
      });
    }
    g_unix_signal_add(SIGUSR1, [](gpointer self) {
      static_cast<PlayerApp*>(self)->snapshot();
      return gboolean(G_SOURCE_CONTINUE);
    }, this);
    mLoop.run();
    v1::PlayerToStreamer bye;
    bye.mutable_unsubscribe();
    (void)sendProto(mSocket, bye);
    mPipeline->stop();
    printStats();
    mLog->info("stopped");
    return mExitCode;
  }

 private:
  // Video waits longer for a late frame than audio does: every frame after
  // it needs it, and dropping it freezes the picture until a keyframe comes
  // (in the test bed 10-28 frames a time, after a 0.3 s stall of the path).
  // It asks for that keyframe where audio gives up, though, so a frame that
  // never comes costs no longer a freeze than before.
  static PlayoutBufferConfig bufferConfig(const Options& o, bool video) {
    PlayoutBufferConfig c;
    const double ms = video ? std::max(o.videoLateToleranceMs, o.lateToleranceMs) : o.lateToleranceMs;
    c.lateToleranceUs = static_cast<std::int64_t>(ms * 1000);
    c.keyframeAfterUs = static_cast<std::int64_t>(o.lateToleranceMs * 1000);
    return c;
  }
  static PlayoutDelayConfig delayConfig(const Options& o) {
    PlayoutDelayConfig c;
    c.minUs = static_cast<std::int64_t>(o.minDelayMs * 1000);
    c.maxUs = static_cast<std::int64_t>(o.maxDelayMs * 1000);
    c.marginUs = static_cast<std::int64_t>(o.marginMs * 1000);
    c.initialUs = std::clamp<std::int64_t>(60'000, c.minUs, c.maxUs);
    return c;
  }

  void subscribe() {
    mLastSubscribeUs = wallNowUs();
    v1::PlayerToStreamer msg;
    msg.mutable_subscribe()->set_channel_id(mOptions.channel);
    msg.mutable_subscribe()->set_name(mOptions.name);
    (void)sendProto(mSocket, msg);
    mWatch->poke();
  }

  std::int64_t delay(std::int64_t now) {
    std::lock_guard lock(mStatsMutex);
    // Both streams share one delay so audio and video stay in sync.
    std::int64_t d = mVideoDelay.current(now);
    if (mAudioDelay.hasSamples()) d = std::max(d, mAudioDelay.current(now));
    return d;
  }

  void onMessage() {
    auto received = recvMessage(mSocket, false);
    if (!received) return;
    v1::StreamerToPlayer msg;
    if (!msg.ParseFromString(received->body) || !msg.has_chunk()) {
      if (!msg.has_stats()) ++mMalformed;
      return;
    }
    const std::int64_t now = wallNowUs();
    mLastChunkUs = now;
    v1::Chunk& chunk = *msg.mutable_chunk();
    mBytesThisInterval += chunk.payload().size();
    if (chunk.kind() == v1::MEDIA_KIND_VIDEO) {
      if (!mSawVideo) {
        mLog->debug("first video chunk: frame {}{}, {:.1f} ms after capture", chunk.media_seq(),
                    chunk.anchor() ? " (a keyframe)" : "", static_cast<double>(now - chunk.capture_us()) / 1000.0);
      }
      mSawVideo = true;
      const std::uint64_t seq = chunk.media_seq();
      const std::int64_t age = now - chunk.capture_us();
      {
        std::lock_guard lock(mStatsMutex);
        mArrival.record(age);
        mVideoDelay.addArrival(age);
      }
      const std::int64_t d = delay(now);
      if (mVideo.push(std::move(chunk), now, d) == PushResult::kLate) {
        mLog->info("video: frame {} came {:.1f} ms after capture, too late (delay {:.1f} ms)", seq,
                   static_cast<double>(age) / 1000.0, static_cast<double>(d) / 1000.0);
      }
    } else if (chunk.kind() == v1::MEDIA_KIND_AUDIO) {
      mSawAudio = true;
      {
        std::lock_guard lock(mStatsMutex);
        mAudioDelay.addArrival(now - chunk.capture_us());
      }
      (void)mAudio.push(std::move(chunk), now, delay(now));
    } else {
      ++mMalformed;
    }
    pump(now);
  }

  void pump(std::int64_t now) {
    const std::int64_t d = delay(now);
    mReleased.clear();
    const PlayoutStats before = mVideo.stats();
    mVideo.poll(now, d, mReleased);
    mAudio.poll(now, d, mReleased);
    logVideoTrouble(before, now, d);
    if (!mPipeline->started()) {
      startPipeline(now);
    } else {
      for (const v1::Chunk& c : mReleased) mPipeline->present(c, d);
    }
    if (mVideo.takeKeyframeRequest(now)) {
      v1::PlayerToStreamer req;
      auto* kf = req.mutable_control()->mutable_keyframe();
      kf->set_channel_id(mOptions.channel);
      kf->set_reason(mVideo.stats().released == 0 ? "join" : "loss");
      (void)sendProto(mSocket, req);
      mWatch->poke();
      mLog->debug("asked for a keyframe ({})", kf->reason());
    }
    armDeadline(now, d);
  }

  // One timer at the earliest deadline either buffer has.
  void armDeadline(std::int64_t now, std::int64_t d) {
    std::optional<std::int64_t> due = mVideo.nextDeadlineUs(d);
    if (auto a = mAudio.nextDeadlineUs(d); a && (!due || *a < *due)) due = a;
    if (!due || (mDeadlineArmed && mDeadlineAtUs <= *due)) return;
    if (mDeadlineArmed) mLoop.remove(mDeadlineTimer);
    mDeadlineArmed = true;
    mDeadlineAtUs = *due;
    const std::int64_t waitUs = std::max<std::int64_t>(0, *due - now);
    mDeadlineTimer = mLoop.addTimer(std::chrono::milliseconds((waitUs + 999) / 1000), [this] {
      mDeadlineArmed = false;
      pump(wallNowUs());
      return false;
    });
  }

  // A lost or skipped frame is what a user sees as a freeze: say so, with
  // what the buffer knew, so a log tells why a stream stuttered. (Late
  // frames are refused on arrival and logged there.)
  void logVideoTrouble(const PlayoutStats& before, std::int64_t now, std::int64_t d) {
    const PlayoutStats& after = mVideo.stats();
    if (after.lost == before.lost && after.skipped == before.skipped) return;
    mLog->info("video: {} lost, {} skipped (delay {:.1f} ms, {} pending{}) at {}", after.lost - before.lost,
               after.skipped - before.skipped, static_cast<double>(d) / 1000.0, mVideo.pending(),
               mVideo.waitingForAnchor() ? ", waiting for a keyframe" : "", now);
  }

  void startPipeline(std::int64_t now) {
    // Learn the stream's make-up before building the pipeline: hold what is
    // released until video has started on an anchor and audio has shown up
    // (or 300 ms have passed without audio, or 1 s without video).
    if (mFirstChunkUs == 0 && (mSawVideo || mSawAudio)) mFirstChunkUs = now;
    for (v1::Chunk& c : mReleased) mBacklog.push_back(std::move(c));
    while (mBacklog.size() > 256) mBacklog.erase(mBacklog.begin());
    const v1::Chunk* anchor = nullptr;
    for (const v1::Chunk& c : mBacklog) {
      if (c.kind() == v1::MEDIA_KIND_VIDEO) {
        anchor = &c;
        break;
      }
    }
    const std::int64_t waited = mFirstChunkUs == 0 ? 0 : now - mFirstChunkUs;
    const bool ready = (anchor != nullptr && (mSawAudio || waited >= 300'000)) ||
                       (!mSawVideo && mSawAudio && waited >= 1'000'000);
    if (!ready || mFailed) return;
    try {
      mPipeline->start(anchor, mSawAudio);
      mLog->debug("pipeline started on keyframe {} ({} ms after the first chunk)", anchor ? anchor->media_seq() : 0,
                  waited / 1000);
      {
        std::lock_guard lock(mStatsMutex);
        mPipelineStartedUs = wallNowUs();
      }
      const std::int64_t d = delay(now);
      for (const v1::Chunk& c : mBacklog) mPipeline->present(c, d);
      mBacklog.clear();
    } catch (const std::exception& e) {
      mLog->error("{}", e.what());
      mExitCode = static_cast<int>(ExitCode::kStartup);
      mFailed = true;
      mLoop.quit();
    }
  }

  void onReady(v1::MediaKind kind, std::int64_t captureUs, std::int64_t atUs) {
    std::lock_guard lock(mStatsMutex);
    // Frames captured while the pipeline was still being built waited for it:
    // they say nothing about the path, and would hold D high for seconds.
    if (captureUs < mPipelineStartedUs || ++mSamplesSinceStart <= kStartupFrames) return;
    (kind == v1::MEDIA_KIND_VIDEO ? mVideoDelay : mAudioDelay).addSample(atUs - captureUs, atUs);
    if (kind == v1::MEDIA_KIND_VIDEO) mReady.record(atUs - captureUs);
  }

  void onRendered(v1::MediaKind kind, std::int64_t captureUs, std::int64_t atUs) {
    std::lock_guard lock(mStatsMutex);
    if (kind == v1::MEDIA_KIND_AUDIO) {
      if (mFirstRenderUs != 0 && atUs - mFirstRenderUs >= static_cast<std::int64_t>(mOptions.warmup * 1e6)) {
        mAudioG2g.record(atUs - captureUs);
      }
      return;
    }
    ++mFramesRendered;
    if (mFirstRenderUs == 0) {
      mFirstRenderUs = atUs;
      mLog->debug("first frame rendered, {:.1f} ms after capture", static_cast<double>(atUs - captureUs) / 1000.0);
    }
    // The whole-run summary may leave out a warm-up (benchmarks compare steady states).
    if (atUs - mFirstRenderUs >= static_cast<std::int64_t>(mOptions.warmup * 1e6)) mG2g.record(atUs - captureUs);
    mG2gLast.record(atUs - captureUs);
    mG2gRecent[mG2gRecentNext++ % mG2gRecent.size()] = atUs - captureUs;
  }

  // p95 of the last (up to) 300 frames' glass-to-glass latency, ms.
  double recentP95Ms() {
    const std::size_t n = std::min<std::size_t>(mG2gRecentNext, mG2gRecent.size());
    if (n == 0) return 0;
    std::vector<std::int64_t> v(mG2gRecent.begin(), mG2gRecent.begin() + static_cast<std::ptrdiff_t>(n));
    const std::size_t k = (95 * n + 99) / 100 - 1;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return static_cast<double>(v[k]) / 1000.0;
  }

  void snapshot() {
    const std::string path = mOptions.snapshotPath.empty() ? "partyhub-" + mOptions.name + ".png" : mOptions.snapshotPath;
    if (mPipeline->snapshot(path)) {
      ++mSnapshots;
      mLog->info("snapshot written to {}", path);
    } else {
      mLog->warn("no frame to snapshot yet");
    }
  }

  void printStats() {
    const std::int64_t now = wallNowUs();
    const std::int64_t d = delay(now);
    v1::Stats out;
    out.set_wall_us(now);
    auto* s = out.mutable_player();
    const auto& vs = mVideo.stats();
    const auto& as = mAudio.stats();
    {
      std::lock_guard lock(mStatsMutex);
      s->set_frames_rendered(mFramesRendered);
      *s->mutable_g2g() = mG2g.summary();
      *s->mutable_g2g_last() = mG2gLast.summary();
      s->set_g2g_recent_p95_ms(recentP95Ms());
      *s->mutable_arrival() = mArrival.summary();
      *s->mutable_ready() = mReady.summary();
      *s->mutable_audio_g2g() = mAudioG2g.summary();
      mG2gLast.reset();
    }
    s->set_name(mOptions.name);
    s->set_frames_late(vs.late);
    s->set_frames_lost(vs.lost);
    s->set_frames_skipped(vs.skipped);
    s->set_frames_expected(mVideo.expectedSinceStart());
    s->set_audio_frames_played(as.releasedFrames);
    s->set_audio_frames_lost(as.lost + as.late);
    s->set_keyframe_requests(vs.keyframeRequests);
    s->set_duplicates(vs.duplicates + as.duplicates);
    const double seconds = static_cast<double>(now - mLastStatsUs) / 1e6;
    s->set_bitrate_kbps(mLastStatsUs == 0 || seconds <= 0 ? 0.0 : static_cast<double>(mBytesThisInterval) * 8 / 1000 / seconds);
    s->set_playout_delay_ms(static_cast<double>(d) / 1000.0);
    s->set_snapshots(mSnapshots);
    s->set_messages_malformed(mMalformed);
    mBytesThisInterval = 0;
    mLastStatsUs = now;
    if (mOptions.run.statsJson) {
      std::cout << toJsonLine(out) << std::endl;
    } else {
      std::cout << mOptions.name << ": rendered " << s->frames_rendered() << "/" << s->frames_expected()
                << " late " << s->frames_late() << " lost " << s->frames_lost() << " skipped "
                << s->frames_skipped() << " | g2g p50 " << s->g2g_last().p50_ms() << " ms p95 "
                << s->g2g_last().p95_ms() << " ms | delay " << s->playout_delay_ms() << " ms | "
                << static_cast<int>(s->bitrate_kbps()) << " kbit/s" << std::endl;
    }
  }

  const Options& mOptions;
  std::shared_ptr<spdlog::logger> mLog;
  std::int64_t mLastSubscribeUs = 0;
  std::int64_t mLastChunkUs = 0;
  bool mDeadlineArmed = false;
  std::int64_t mDeadlineAtUs = 0;
  unsigned mDeadlineTimer = 0;
  EventLoop mLoop;
  zmq::context_t mCtx{1};
  zmq::socket_t mSocket;
  EventLoop::ZmqWatch* mWatch = nullptr;
  PlayoutBuffer mVideo;
  PlayoutBuffer mAudio;
  std::mutex mStatsMutex;  // delays and render stats are fed from streaming threads
  PlayoutDelay mVideoDelay;
  PlayoutDelay mAudioDelay;
  LatencyHistogram mG2g;
  LatencyHistogram mG2gLast;
  std::array<std::int64_t, 300> mG2gRecent{};
  std::size_t mG2gRecentNext = 0;
  LatencyHistogram mArrival;
  LatencyHistogram mReady;
  LatencyHistogram mAudioG2g;
  std::uint64_t mFramesRendered = 0;
  std::int64_t mFirstRenderUs = 0;
  std::int64_t mPipelineStartedUs = std::numeric_limits<std::int64_t>::max();
  static constexpr int kStartupFrames = 5;  // decoder warm-up, not the path
  int mSamplesSinceStart = 0;
  std::unique_ptr<PlayerPipeline> mPipeline;
  std::vector<v1::Chunk> mReleased;
  std::vector<v1::Chunk> mBacklog;  // released before the pipeline exists
  bool mSawVideo = false;
  bool mSawAudio = false;
  std::int64_t mFirstChunkUs = 0;
  std::uint64_t mMalformed = 0;
  std::uint64_t mSnapshots = 0;
  std::uint64_t mBytesThisInterval = 0;
  std::int64_t mLastStatsUs = 0;
  int mExitCode = 0;
  bool mFailed = false;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"partyhub-player: play a PartyHub channel out"};
  app.add_option("--name", o.name, "Name in logs and statistics");
  app.add_option("--streamer", o.streamer, "ZeroMQ endpoint of the streamer's player socket");
  app.add_option("--channel", o.channel, "Channel id");
  app.add_option("--sink", o.sink, "auto | fake | file:PATH (Matroska recording) | pipeline:DESC");
  app.add_option("--audio-sink", o.audioSink, "auto | fake | none (default: auto with --sink auto, else fake)");
  app.add_option("--h264-decoder", o.h264Decoder, "auto (openh264 when installed) | openh264 | libav")
      ->check(CLI::IsMember({"auto", "openh264", "libav"}));
  app.add_option("--min-delay-ms", o.minDelayMs, "Lower bound of the adaptive playout delay")->check(CLI::Range(0.0, 10000.0));
  app.add_option("--max-delay-ms", o.maxDelayMs, "Upper bound of the adaptive playout delay")->check(CLI::Range(1.0, 10000.0));
  app.add_option("--delay-margin-ms", o.marginMs, "Added to the measured ready latency")->check(CLI::Range(0.0, 1000.0));
  app.add_option("--late-tolerance-ms", o.lateToleranceMs,
                 "How far past its slot a chunk is still played (audio); a video hole this old asks for a keyframe")
      ->check(CLI::Range(0.0, 10000.0));
  app.add_option("--video-late-tolerance-ms", o.videoLateToleranceMs,
                 "How far past its slot a video frame is still decoded (the picture catches up; at least --late-tolerance-ms)")
      ->check(CLI::Range(0.0, 10000.0));
  app.add_option("--warmup", o.warmup, "Seconds of playback left out of the whole-run latency summary")
      ->check(CLI::Range(0.0, 3600.0));
  app.add_option("--snapshot", o.snapshotPath, "PNG path written on SIGUSR1 (default partyhub-NAME.png)");
  app.add_option("--snapshot-after", o.snapshotAfter, "Also write a snapshot after this many seconds");
  addRunOptions(app, o.run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (o.minDelayMs > o.maxDelayMs) {
    std::cerr << "partyhub-player: --min-delay-ms must not exceed --max-delay-ms\n";
    return static_cast<int>(ExitCode::kUsage);
  }
  setupLogging(o.run.logLevel, "player[" + o.name + "]");
  logger("player")->info("name={} streamer={} channel={} sink={} delay [{} .. {}] ms margin {} ms", o.name,
                         o.streamer, o.channel, o.sink, o.minDelayMs, o.maxDelayMs, o.marginMs);
  try {
    gst::initOnce();
    PlayerApp player(o);
    return player.run();
  } catch (const std::invalid_argument& e) {
    std::cerr << "partyhub-player: " << e.what() << "\n";
    return static_cast<int>(ExitCode::kUsage);
  } catch (const std::exception& e) {
    std::cerr << "partyhub-player: " << e.what() << "\n";
    return static_cast<int>(ExitCode::kStartup);
  }
}
