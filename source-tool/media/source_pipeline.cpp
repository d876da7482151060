#include "source_pipeline.hpp"

#include <functional>
#include <stdexcept>

#include <gst/app/gstappsink.h>
#include <gst/video/video.h>

#include "partyhub/common/clock.hpp"
#include "partyhub/common/logging.hpp"

namespace partyhub::source {

MediaSpec parseVideoInput(const std::string& text) {
  return parseMediaSpec("--video", text, {"test", "v4l2", "file", "pipeline", "none"},
                        {"file", "pipeline"});
}

MediaSpec parseAudioInput(const std::string& text) {
  return parseMediaSpec("--audio", text, {"test", "pulse", "alsa", "file", "pipeline", "none"},
                        {"file", "pipeline"});
}

v1::Codec parseVideoCodec(const std::string& text) {
  if (text == "h264") return v1::CODEC_H264;
  if (text == "vp8") return v1::CODEC_VP8;
  throw std::invalid_argument("--codec: unknown codec '" + text + "' (expected h264|vp8)");
}

namespace {

std::string rawVideoCaps(const SourceConfig& c) {
  return "video/x-raw,format=I420,width=" + std::to_string(c.width) +
         ",height=" + std::to_string(c.height) + ",framerate=" + std::to_string(c.fps) + "/1";
}

std::string videoCapture(const SourceConfig& c, bool sharedFile) {
  const MediaSpec& v = c.video;
  if (v.kind == "test") {
    // A colour of its own per participant, its name, and a running clock that
    // changes every frame. Made in I420, the encoder's format: videotestsrc's
    // ball pattern and a conversion cost more than the encoder itself, and a
    // conference runs one test source per participant on the same machine.
    const auto colour = static_cast<unsigned>(std::hash<std::string>{}(c.name) & 0x7F7F7Fu) + 0x202020u;
    return "videotestsrc is-live=true pattern=solid-color foreground-color=" + std::to_string(0xFF000000u | colour) +
           " ! " + rawVideoCaps(c) + " ! textoverlay font-desc=\"Sans Bold 36\" valignment=center halignment=center text=" +
           gst::quote(c.name) + " ! timeoverlay valignment=bottom halignment=right font-desc=\"Mono 18\"";
  }
  if (v.kind == "v4l2") {
    return "v4l2src" + (v.argument.empty() ? std::string() : " device=" + gst::quote(v.argument));
  }
  if (v.kind == "file") {
    return sharedFile ? "dec." : "filesrc location=" + gst::quote(v.argument) + " ! decodebin";
  }
  return v.argument;  // pipeline:DESC
}

std::string audioCapture(const SourceConfig& c, bool sharedFile) {
  const MediaSpec& a = c.audio;
  if (a.kind == "test") {
    // A distinct tone per participant, in 20 ms buffers (one Opus frame).
    const auto freq = 300 + static_cast<int>(std::hash<std::string>{}(c.name) % 500);
    return "audiotestsrc is-live=true wave=sine volume=0.2 samplesperbuffer=960 freq=" +
           std::to_string(freq) + " ! audio/x-raw,rate=48000,channels=1";
  }
  if (a.kind == "pulse") return "pulsesrc";
  if (a.kind == "alsa") return "alsasrc" + (a.argument.empty() ? std::string() : " device=" + gst::quote(a.argument));
  if (a.kind == "file") {
    return sharedFile ? "dec." : "filesrc location=" + gst::quote(a.argument) + " ! decodebin";
  }
  return a.argument;
}

}  // namespace

std::string SourcePipeline::describe(const SourceConfig& c) {
  const bool sharedFile = c.video.kind == "file" && c.audio.kind == "file" &&
                          c.video.argument == c.audio.argument;
  std::string desc;
  if (sharedFile) desc += "filesrc location=" + gst::quote(c.video.argument) + " ! decodebin name=dec ";
  const bool sync = c.video.kind == "file" || c.audio.kind == "file";
  const std::string sinkProps = std::string(" sync=") + (sync ? "true" : "false") +
                                " max-buffers=64 drop=false enable-last-sample=false";
  if (c.video.kind != "none") {
    // videorate holds a frame back to decide on the next one: only for files,
    // whose rate we must convert; live sources are asked for the rate in caps.
    desc += videoCapture(c, sharedFile) + " ! queue max-size-buffers=2 leaky=downstream ! videoconvert ! videoscale ! " +
            std::string(c.video.kind == "file" ? "videorate ! " : "") + rawVideoCaps(c) + " ! ";
    const int gop = std::max(1, static_cast<int>(c.keyframeIntervalS * c.fps));
    if (c.videoCodec == v1::CODEC_VP8) {
      desc += "vp8enc name=venc deadline=1 cpu-used=8 lag-in-frames=0 end-usage=cbr error-resilient=default threads=2 target-bitrate=" +
              std::to_string(c.videoKbps * 1000) + " keyframe-max-dist=" + std::to_string(gop) +
              " ! video/x-vp8";
    } else {
      desc += "x264enc name=venc tune=zerolatency speed-preset=ultrafast byte-stream=true bframes=0 threads=2 bitrate=" +
              std::to_string(c.videoKbps) + " key-int-max=" + std::to_string(gop) +
              " ! video/x-h264,profile=constrained-baseline,stream-format=byte-stream,alignment=au";
    }
    desc += " ! appsink name=vsink" + sinkProps + " ";
  }
  if (c.audio.kind != "none") {
    desc += audioCapture(c, sharedFile) +
            " ! queue max-size-buffers=4 leaky=downstream ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=1 ! "
            "opusenc name=aenc frame-size=20 audio-type=restricted-lowdelay bitrate=" +
            std::to_string(c.audioKbps * 1000) + " ! appsink name=asink" + sinkProps;
  }
  return desc;
}

SourcePipeline::SourcePipeline(SourceConfig config, FrameHandler onFrame, EndHandler onEnd)
    : mConfig(std::move(config)), mOnFrame(std::move(onFrame)), mOnEnd(std::move(onEnd)) {}

SourcePipeline::~SourcePipeline() { stop(); }

void SourcePipeline::start() {
  if (mConfig.video.kind == "none" && mConfig.audio.kind == "none") {
    throw std::runtime_error("nothing to capture: both --video and --audio are none");
  }
  const std::string desc = describe(mConfig);
  logger("source.media")->info("pipeline: {}", desc);
  mPipeline = gst::parseLaunch(desc);
  gst::useWallClock(mPipeline.get());

  GstAppSinkCallbacks callbacks{};
  callbacks.new_sample = [](GstAppSink* sink, gpointer self) {
    return onSample(GST_ELEMENT(sink), self);
  };
  for (const char* name : {"vsink", "asink"}) {
    if (GstElement* sink = gst_bin_get_by_name(GST_BIN(mPipeline.get()), name)) {
      gst_app_sink_set_callbacks(GST_APP_SINK(sink), &callbacks, this, nullptr);
      gst_object_unref(sink);
    }
  }
  if (mConfig.video.kind != "none") mVideoEncoder = gst::childByName(mPipeline.get(), "venc");

  GstBus* bus = gst_element_get_bus(mPipeline.get());
  mBusWatch = gst_bus_add_watch(bus, &SourcePipeline::onBusMessage, this);
  gst_object_unref(bus);
  gst::startOrThrow(mPipeline.get());
}

void SourcePipeline::stop() {
  if (!mPipeline) return;
  if (mBusWatch != 0) g_source_remove(mBusWatch);
  mBusWatch = 0;
  gst_element_set_state(mPipeline.get(), GST_STATE_NULL);
  mVideoEncoder.reset();
  mPipeline.reset();
}

void SourcePipeline::forceKeyframe() {
  if (!mVideoEncoder) return;
  GstEvent* event = gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 0);
  gst_element_send_event(mVideoEncoder.get(), event);
}

void SourcePipeline::setVideoBitrate(int kbps) {
  if (!mVideoEncoder) return;
  if (mConfig.videoCodec == v1::CODEC_VP8) {
    g_object_set(mVideoEncoder.get(), "target-bitrate", kbps * 1000, nullptr);
  } else {
    g_object_set(mVideoEncoder.get(), "bitrate", static_cast<guint>(kbps), nullptr);
  }
}

GstFlowReturn SourcePipeline::onSample(GstElement* sink, gpointer selfPtr) {
  auto* self = static_cast<SourcePipeline*>(selfPtr);
  GstSample* sample = gst_app_sink_pull_sample(GST_APP_SINK(sink));
  if (sample == nullptr) return GST_FLOW_EOS;
  GstBuffer* buffer = gst_sample_get_buffer(sample);
  GstMapInfo map;
  if (buffer != nullptr && gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    OwnedFrame frame;
    const bool video = std::string_view(GST_OBJECT_NAME(sink)) == "vsink";
    frame.kind = video ? v1::MEDIA_KIND_VIDEO : v1::MEDIA_KIND_AUDIO;
    frame.codec = video ? self->mConfig.videoCodec : v1::CODEC_OPUS;
    frame.data.assign(reinterpret_cast<const char*>(map.data), map.size);
    // Capture wall-clock time from the buffer's running time. Encoders shift
    // PTS (x264enc adds 1000 h so DTS never goes negative) and compensate in
    // the segment, so the segment must convert it.
    const GstClockTime pts = GST_BUFFER_PTS(buffer);
    const GstSegment* segment = gst_sample_get_segment(sample);
    const GstClockTime running = GST_CLOCK_TIME_IS_VALID(pts) && segment != nullptr
                                     ? gst_segment_to_running_time(segment, GST_FORMAT_TIME, pts)
                                     : GST_CLOCK_TIME_NONE;
    frame.captureUs = GST_CLOCK_TIME_IS_VALID(running) ? gst::runningNsToWallUs(sink, running) : wallNowUs();
    const GstClockTime dur = GST_BUFFER_DURATION(buffer);
    frame.durationUs = GST_CLOCK_TIME_IS_VALID(dur) ? static_cast<std::uint32_t>(dur / 1000u)
                       : video ? static_cast<std::uint32_t>(1'000'000 / std::max(1, self->mConfig.fps))
                               : 20'000u;
    gst_buffer_unmap(buffer, &map);
    self->mOnFrame(std::move(frame));
  }
  gst_sample_unref(sample);
  return GST_FLOW_OK;
}

gboolean SourcePipeline::onBusMessage(GstBus* /*bus*/, GstMessage* msg, gpointer selfPtr) {
  auto* self = static_cast<SourcePipeline*>(selfPtr);
  switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_ERROR: {
      GError* err = nullptr;
      gchar* debug = nullptr;
      gst_message_parse_error(msg, &err, &debug);
      const std::string text = std::string(GST_OBJECT_NAME(msg->src)) + ": " + err->message;
      logger("source.media")->debug("error detail: {}", debug ? debug : "");
      g_error_free(err);
      g_free(debug);
      self->mOnEnd(text);
      break;
    }
    case GST_MESSAGE_EOS:
      if (self->mConfig.loopFile && (self->mConfig.video.kind == "file" || self->mConfig.audio.kind == "file")) {
        gst_element_seek_simple(self->mPipeline.get(), GST_FORMAT_TIME,
                                static_cast<GstSeekFlags>(GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_KEY_UNIT), 0);
      } else {
        self->mOnEnd("");
      }
      break;
    default: break;
  }
  return G_SOURCE_CONTINUE;
}

}  // namespace partyhub::source
