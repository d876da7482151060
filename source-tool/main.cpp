// partyhub-source: capture, encode, chunkize, push to a streamer.
#include <atomic>
#include <iostream>
#include <mutex>

#include <CLI/CLI.hpp>

#include "core/chunkizer.hpp"
#include "core/keyframe_policy.hpp"
#include "io/chunk_publisher.hpp"
#include "media/source_pipeline.hpp"
#include "partyhub/common/clock.hpp"
#include "partyhub/common/event_loop.hpp"
#include "partyhub/common/logging.hpp"
#include "partyhub/common/process.hpp"
#include "partyhub/common/run_options.hpp"
#include "partyhub/v1/stats.pb.h"

using namespace partyhub;

namespace {

struct Options {
  source::SourceConfig media;
  std::string videoSpec = "test";
  std::string audioSpec = "test";
  std::string codec = "h264";
  std::string streamer = "ipc:///tmp/partyhub-source.ipc";
  std::uint32_t channel = 1;
  std::uint32_t framesPerChunk = 1;
  std::uint32_t maxChunkBytes = 512 * 1024;
  std::uint32_t audioChunkMs = 20;
  std::size_t queueChunks = 256;
  double queueMaxAgeS = 2.0;
  double keyframeMinGapS = 0.25;
  RunOptions run;
};

int run(const Options& o) {
  setupLogging(o.run.logLevel, "source");
  auto log = logger("source");
  source::SourceConfig media = o.media;
  media.video = source::parseVideoInput(o.videoSpec);
  media.audio = source::parseAudioInput(o.audioSpec);
  media.videoCodec = source::parseVideoCodec(o.codec);
  log->info("name={} channel={} streamer={} video={} audio={} codec={} {}x{}@{} {} kbit/s",
            media.name, o.channel, o.streamer, o.videoSpec, o.audioSpec, o.codec, media.width,
            media.height, media.fps, media.videoKbps);

  source::ChunkizerConfig cc;
  cc.channelId = o.channel;
  cc.maxVideoFramesPerChunk = std::max<std::uint32_t>(1, o.framesPerChunk);
  cc.maxChunkBytes = o.maxChunkBytes;
  cc.audioChunkUs = o.audioChunkMs * 1000;
  cc.width = static_cast<std::uint32_t>(media.width);
  cc.height = static_cast<std::uint32_t>(media.height);
  source::Chunkizer chunkizer(cc);
  source::KeyframePolicy keyframes(0, static_cast<std::int64_t>(o.keyframeMinGapS * 1e6));

  zmq::context_t ctx(1);
  source::ChunkPublisher publisher(ctx, o.streamer, o.queueChunks,
                                   static_cast<std::int64_t>(o.queueMaxAgeS * 1e6));
  EventLoop loop;
  int exitCode = 0;
  std::uint64_t keyframesForced = 0;

  std::unique_ptr<source::SourcePipeline> pipeline;
  EventLoop::ZmqWatch* watchPtr = nullptr;  // poked after sends (ZMQ_FD is edge-triggered)
  auto onFrame = [&loop, &chunkizer, &publisher, &keyframes, &watchPtr](source::OwnedFrame&& frame) {
    // Streaming thread -> main loop; the chunkizer and the socket live there.
    auto shared = std::make_shared<source::OwnedFrame>(std::move(frame));
    loop.post([shared, &chunkizer, &publisher, &keyframes, &watchPtr] {
      source::EncodedFrame f{shared->kind, shared->codec, shared->data, shared->captureUs, shared->durationUs};
      const std::int64_t now = wallNowUs();
      for (v1::Chunk& chunk : chunkizer.push(f)) {
        if (chunk.kind() == v1::MEDIA_KIND_VIDEO && chunk.anchor()) keyframes.onKeyframe(now);
        publisher.publish(std::move(chunk), now);
      }
      if (watchPtr != nullptr) watchPtr->poke();
    });
  };
  auto onEnd = [&](const std::string& error) {
    if (!error.empty()) {
      log->error("media pipeline failed: {}", error);
      exitCode = static_cast<int>(ExitCode::kRuntimeError);
    } else {
      log->info("end of stream");
    }
    loop.quit();
  };
  pipeline = std::make_unique<source::SourcePipeline>(media, onFrame, onEnd);
  try {
    pipeline->start();
  } catch (const std::exception& e) {
    log->error("{}", e.what());
    return static_cast<int>(ExitCode::kStartup);
  }

  // A pending request is honoured as soon as the policy allows (now, or when
  // the minimum gap since the last keyframe has passed: see the 20 ms timer).
  auto forceIfDue = [&](std::int64_t now) {
    if (keyframes.pendingRequest() && keyframes.shouldForce(now)) {
      pipeline->forceKeyframe();
      keyframes.onKeyframe(now);
      ++keyframesForced;
    }
  };
  auto watch = loop.addZmq(publisher.socket(), [&] {
    for (const v1::Control& control : publisher.receiveControl()) {
      if (control.has_keyframe()) {
        log->debug("keyframe requested ({})", control.keyframe().reason());
        keyframes.request();
      } else if (control.has_bitrate()) {
        log->info("video bitrate -> {} kbit/s", control.bitrate().video_kbps());
        pipeline->setVideoBitrate(static_cast<int>(control.bitrate().video_kbps()));
      } else if (control.has_mute()) {
        const bool videoBack = chunkizer.muted(v1::MEDIA_KIND_VIDEO) && !control.mute().video();
        const std::int64_t now = wallNowUs();
        for (auto kind : {v1::MEDIA_KIND_VIDEO, v1::MEDIA_KIND_AUDIO}) {
          const bool on = kind == v1::MEDIA_KIND_VIDEO ? control.mute().video() : control.mute().audio();
          for (v1::Chunk& chunk : chunkizer.setMuted(kind, on)) publisher.publish(std::move(chunk), now);
        }
        log->info("camera {}, microphone {}", control.mute().video() ? "off" : "on",
                  control.mute().audio() ? "off" : "on");
        if (videoBack) keyframes.request();  // video resumes on a keyframe
      }
    }
    forceIfDue(wallNowUs());
  });
  watchPtr = watch.get();
  loop.addTimer(std::chrono::milliseconds(20), [&] {
    const auto now = wallNowUs();
    publisher.flush(now);
    forceIfDue(now);
    return true;
  });
  auto printStats = [&] {
    const auto ps = publisher.stats();
    const auto& cs = chunkizer.stats();
    v1::Stats stats;
    stats.set_wall_us(wallNowUs());
    auto* s = stats.mutable_source();
    s->set_name(media.name);
    s->set_video_frames(cs.videoFrames);
    s->set_audio_frames(cs.audioFrames);
    s->set_chunks_sent(ps.chunksSent);
    s->set_chunks_dropped_queue(ps.chunksDropped);
    s->set_keyframes_forced(keyframesForced);
    s->set_bytes_sent(ps.bytesSent);
    s->set_queue_depth(static_cast<std::uint32_t>(ps.queueDepth));
    if (o.run.statsJson) {
      std::cout << toJsonLine(stats) << std::endl;
    } else {
      log->info("video {} audio {} chunks sent {} dropped {} queued {}", cs.videoFrames, cs.audioFrames,
                ps.chunksSent, ps.chunksDropped, ps.queueDepth);
    }
  };
  scheduleRun(loop, o.run, printStats);
  loop.run();
  pipeline->stop();
  for (v1::Chunk& chunk : chunkizer.flush()) publisher.publish(std::move(chunk), wallNowUs());
  printStats();
  log->info("stopped");
  return exitCode;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"partyhub-source: capture, encode and chunkize a stream for a PartyHub streamer"};
  app.add_option("--name", o.media.name, "Participant name (shown on the test video)");
  app.add_option("--streamer", o.streamer, "ZeroMQ endpoint of the streamer's source socket");
  app.add_option("--channel", o.channel, "Channel id of this source");
  app.add_option("--video", o.videoSpec, "test | v4l2[:DEVICE] | file:PATH | pipeline:DESC | none");
  app.add_option("--audio", o.audioSpec, "test | pulse | alsa[:DEVICE] | file:PATH | pipeline:DESC | none");
  app.add_option("--codec", o.codec, "Video codec: h264 | vp8");
  app.add_option("--width", o.media.width)->check(CLI::Range(16, 7680));
  app.add_option("--height", o.media.height)->check(CLI::Range(16, 4320));
  app.add_option("--fps", o.media.fps)->check(CLI::Range(1, 120));
  app.add_option("--video-kbps", o.media.videoKbps, "Video bitrate")->check(CLI::Range(16, 50000));
  app.add_option("--audio-kbps", o.media.audioKbps, "Opus bitrate")->check(CLI::Range(6, 510));
  app.add_option("--keyframe-interval", o.media.keyframeIntervalS, "Seconds between keyframes")->check(CLI::Range(0.1, 60.0));
  app.add_option("--keyframe-min-gap", o.keyframeMinGapS, "Minimum seconds between forced keyframes");
  app.add_option("--frames-per-chunk", o.framesPerChunk, "Video frames per chunk (1 = lowest latency)")->check(CLI::Range(1, 30));
  app.add_option("--max-chunk-bytes", o.maxChunkBytes)->check(CLI::Range(1024, 4 * 1024 * 1024));
  app.add_option("--audio-chunk-ms", o.audioChunkMs, "Opus audio per chunk (20 ms frames)")->check(CLI::Range(20, 120));
  app.add_option("--queue", o.queueChunks, "Chunks kept while the streamer is away")->check(CLI::Range(1, 100000));
  app.add_option("--queue-max-age", o.queueMaxAgeS, "Seconds a queued chunk stays useful");
  app.add_flag("!--no-loop", o.media.loopFile, "Stop at the end of a file input instead of looping");
  addRunOptions(app, o.run);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return run(o);
  } catch (const std::invalid_argument& e) {
    std::cerr << "partyhub-source: " << e.what() << "\n";
    return static_cast<int>(ExitCode::kUsage);
  } catch (const std::exception& e) {
    std::cerr << "partyhub-source: " << e.what() << "\n";
    return static_cast<int>(ExitCode::kStartup);
  }
}
