// The playout half of partyhub-player: appsrc -> parse/decode -> a sync point
// -> the chosen sink, for video and audio. The pipeline runs on the REALTIME
// clock, so a frame pushed with PTS = running(capture + D) is handed to the
// sink exactly at capture + D; both streams share D, so they stay in sync.
// Probes measure when a frame is ready (decoded) and when it is handed over.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <string>

#include <gst/gst.h>

#include "core/capture_log.hpp"
#include "partyhub/common/gst_util.hpp"
#include "partyhub/common/media_spec.hpp"
#include "partyhub/v1/chunk.pb.h"

namespace partyhub::player {

MediaSpec parseSinkSpec(const std::string& text);

/// The device sink that an auto sink ("autovideosink", "autoaudiosink") picks
/// here, e.g. "xvimagesink" or "pulsesink"; empty when none opens (a headless
/// machine). Slow (it tries every display and sound server): call once at
/// start-up, not when the first frame is waiting.
std::string resolveAutoSink(const char* autoFactory);

/// libav's H.264 decoder, one thread (frame threading holds frames back).
inline constexpr const char* kLibavH264Decoder = "avdec_h264 max-threads=1 output-corrupt=false";

struct PlayerPipelineConfig {
  MediaSpec videoSink{"auto", ""};
  MediaSpec audioSink{"auto", ""};  // auto | fake | none
  std::string videoDevice;  // for "auto": the resolved device sink, or empty = none
  std::string audioDevice;
  // The H.264 decoder's element and properties (see chooseH264Decoder).
  std::string h264Decoder = kLibavH264Decoder;
};

/// The H.264 decoder for `--h264-decoder`: "openh264" (openh264dec), "libav"
/// (kLibavH264Decoder), or "auto": openh264dec when installed. Our sources send constrained baseline,
/// which both decode alike; openh264dec loads in 2 ms of CPU where libav
/// registers every codec it has, 50 ms, which a joining member's players,
/// all starting at once on a busy machine, wait for. Throws for an unknown
/// name or a decoder that is not installed.
std::string chooseH264Decoder(const std::string& name);

class PlayerPipeline {
 public:
  /// kind, capture wall µs, wall µs when it happened. Streaming threads.
  using FrameEvent = std::function<void(v1::MediaKind, std::int64_t captureUs, std::int64_t atUs)>;
  using ErrorHandler = std::function<void(const std::string&)>;  // main loop

  PlayerPipeline(PlayerPipelineConfig config, FrameEvent onReady, FrameEvent onRendered, ErrorHandler onError);
  ~PlayerPipeline();
  PlayerPipeline(const PlayerPipeline&) = delete;
  PlayerPipeline& operator=(const PlayerPipeline&) = delete;

  static std::string describe(const PlayerPipelineConfig& config, v1::Codec videoCodec, bool audio);

  /// Loads, on a thread of its own, every element a pipeline of this config
  /// may need (either codec), so that start() finds them loaded. Building
  /// the first pipeline is otherwise a few hundred milliseconds of plugin
  /// loading (libav above all) after the first chunk has come, seconds on a
  /// busy machine: the wait before a joining member is seen.
  void warmUp();

  /// Builds and starts the pipeline once the stream's make-up is known:
  /// `video` is a video anchor (or null for audio only), `audio` tells
  /// whether an audio branch is needed. Throws with GStreamer's reason.
  void start(const v1::Chunk* video, bool audio);
  /// Queues one chunk's frames for presentation at capture + delay.
  void present(const v1::Chunk& chunk, std::int64_t delayUs);
  /// Writes the last presented video frame as PNG; false if none yet.
  bool snapshot(const std::string& path);
  /// Sends end-of-stream and waits (bounded) so a recording is finalised.
  void stop();
  [[nodiscard]] bool started() const { return static_cast<bool>(mPipeline); }

 private:
  static GstPadProbeReturn onProbe(GstPad* pad, GstPadProbeInfo* info, gpointer self);
  static gboolean onBus(GstBus* bus, GstMessage* msg, gpointer self);
  void installProbe(const char* element, const char* padName, int which);
  std::int64_t captureOf(v1::MediaKind kind, GstClockTime pts);

  PlayerPipelineConfig mConfig;
  FrameEvent mOnReady;
  FrameEvent mOnRendered;
  ErrorHandler mOnError;
  gst::ElementPtr mPipeline;
  gst::ElementPtr mVideoSrc;
  gst::ElementPtr mAudioSrc;
  guint mBusWatch = 0;
  v1::Codec mVideoCodec = v1::CODEC_UNSPECIFIED;
  std::uint32_t mWidth = 0, mHeight = 0;
  std::mutex mMutex;  // guards the maps and last sample (streaming threads)
  CaptureLog mVideoCapture, mAudioCapture;
  GstSample* mLastSample = nullptr;
  GstClockTime mLastVideoPts = GST_CLOCK_TIME_NONE;
  GstClockTime mLastAudioPts = GST_CLOCK_TIME_NONE;
  std::thread mWarmUp;
};

}  // namespace partyhub::player
