// The capture + encode half of partyhub-source: a real GStreamer pipeline from
// camera, microphone, file, test signal or any user pipeline to encoded frames
// (H.264 or VP8, Opus) handed to the chunkizer with their capture wall-clock
// time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <gst/gst.h>

#include "partyhub/common/gst_util.hpp"
#include "partyhub/common/media_spec.hpp"
#include "partyhub/v1/chunk.pb.h"

namespace partyhub::source {

struct SourceConfig {
  std::string name = "partyhub";
  MediaSpec video{"test", ""};
  MediaSpec audio{"test", ""};
  int width = 640;
  int height = 360;
  int fps = 30;
  int videoKbps = 1000;
  int audioKbps = 32;
  v1::Codec videoCodec = v1::CODEC_H264;
  double keyframeIntervalS = 2.0;
  bool loopFile = true;
};

/// Parses --video / --audio / --codec values; throws std::invalid_argument.
MediaSpec parseVideoInput(const std::string& text);
MediaSpec parseAudioInput(const std::string& text);
v1::Codec parseVideoCodec(const std::string& text);

/// An encoded frame leaving the pipeline (owns its bytes).
struct OwnedFrame {
  v1::MediaKind kind = v1::MEDIA_KIND_VIDEO;
  v1::Codec codec = v1::CODEC_H264;
  std::string data;
  std::int64_t captureUs = 0;
  std::uint32_t durationUs = 0;
};

class SourcePipeline {
 public:
  /// Called on GStreamer streaming threads.
  using FrameHandler = std::function<void(OwnedFrame&&)>;
  /// Called on the main loop: an error message, or empty on end of stream.
  using EndHandler = std::function<void(const std::string& error)>;

  SourcePipeline(SourceConfig config, FrameHandler onFrame, EndHandler onEnd);
  ~SourcePipeline();
  SourcePipeline(const SourcePipeline&) = delete;
  SourcePipeline& operator=(const SourcePipeline&) = delete;

  /// The gst-launch description this config builds (logged at start).
  static std::string describe(const SourceConfig& config);

  /// Throws std::runtime_error with GStreamer's reason (missing camera...).
  void start();
  void stop();
  void forceKeyframe();
  void setVideoBitrate(int kbps);

 private:
  static GstFlowReturn onSample(GstElement* sink, gpointer self);
  static gboolean onBusMessage(GstBus* bus, GstMessage* msg, gpointer self);

  SourceConfig mConfig;
  FrameHandler mOnFrame;
  EndHandler mOnEnd;
  gst::ElementPtr mPipeline;
  gst::ElementPtr mVideoEncoder;
  guint mBusWatch = 0;
};

}  // namespace partyhub::source
