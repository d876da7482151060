#include "player_pipeline.hpp"

#include <cstdlib>
#include <stdexcept>

#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>

#include "partyhub/common/clock.hpp"
#include "partyhub/common/logging.hpp"

namespace partyhub::player {

MediaSpec parseSinkSpec(const std::string& text) {
  return parseMediaSpec("--sink", text, {"auto", "fake", "file", "pipeline"}, {"file", "pipeline"});
}

namespace {

enum Probe { kVideoReady = 0, kVideoRendered = 1, kAudioReady = 2 };

struct ProbeCtx {
  PlayerPipeline* self;
  int which;
};

}  // namespace

std::string resolveAutoSink(const char* autoFactory) {
  gst::initOnce();
  GstElement* probe = gst_element_factory_make(autoFactory, nullptr);
  if (probe == nullptr) return {};
  std::string chosen;
  if (gst_element_set_state(probe, GST_STATE_READY) != GST_STATE_CHANGE_FAILURE) {
    // The auto sink is a bin holding the one device sink that opened.
    if (GObject* child = gst_child_proxy_get_child_by_index(GST_CHILD_PROXY(probe), 0)) {
      if (GstElementFactory* f = gst_element_get_factory(GST_ELEMENT(child))) {
        chosen = GST_OBJECT_NAME(f);
      }
      g_object_unref(child);
    }
  }
  gst_element_set_state(probe, GST_STATE_NULL);
  gst_object_unref(probe);
  // autoaudiosink falls back to a fakesink of its own when nothing opens.
  return chosen == "fakesink" || chosen == "fakeaudiosink" || chosen == "fakevideosink" ? std::string() : chosen;
}

namespace {

std::string videoCaps(v1::Codec codec) {
  return codec == v1::CODEC_VP8 ? "video/x-vp8"
                                : "video/x-h264,stream-format=byte-stream,alignment=au";
}

std::string videoDecode(const PlayerPipelineConfig& c, v1::Codec codec) {
  // One decoding thread: frame threading would hold frames back by design.
  return codec == v1::CODEC_VP8 ? "vp8dec threads=1" : "h264parse ! " + c.h264Decoder;
}

bool installed(const char* factory) {
  gst::initOnce();
  GstElementFactory* f = gst_element_factory_find(factory);
  if (f == nullptr) return false;
  gst_object_unref(f);
  return true;
}

}  // namespace

std::string chooseH264Decoder(const std::string& name) {
  if (name != "auto" && name != "openh264" && name != "libav") {
    throw std::runtime_error("--h264-decoder: unknown decoder '" + name + "' (auto | openh264 | libav)");
  }
  const char* element = name == "libav" || (name == "auto" && !installed("openh264dec")) ? "avdec_h264" : "openh264dec";
  if (!installed(element)) throw std::runtime_error("--h264-decoder " + name + ": " + element + " is not installed");
  return element == std::string("avdec_h264") ? kLibavH264Decoder : element;
}

std::string PlayerPipeline::describe(const PlayerPipelineConfig& c, v1::Codec videoCodec, bool audio) {
  const std::string appsrc = " is-live=true format=time do-timestamp=false min-latency=0 max-bytes=0 block=false";
  const bool record = c.videoSink.kind == "file";
  std::string d;
  if (record) {
    d += "matroskamux name=mux streamable=true ! filesink location=" + gst::quote(c.videoSink.argument) + " ";
  }
  if (videoCodec != v1::CODEC_UNSPECIFIED) {
    d += "appsrc name=vsrc caps=\"" + videoCaps(videoCodec) + "\"" + appsrc + " ! ";
    if (record) {
      d += "tee name=vt ! queue ! " + std::string(videoCodec == v1::CODEC_VP8 ? "" : "h264parse ! ") + "mux. vt. ! queue max-size-buffers=0 max-size-time=0 max-size-bytes=0 ! ";
    }
    // The queue decouples decoding from the presentation wait: without it the
    // decoder would stall behind a waiting frame and "ready" would measure D.
    d += videoDecode(c, videoCodec) +
         " ! queue name=vready max-size-buffers=30 max-size-bytes=0 max-size-time=0 ! identity name=vsync sync=true silent=true ! ";
    const std::string& kind = c.videoSink.kind;
    if (kind == "pipeline") {
      d += c.videoSink.argument;
    } else if (kind == "auto" && !c.videoDevice.empty()) {
      d += "videoconvert ! " + c.videoDevice + " sync=false async=false";
    } else {
      d += "fakesink sync=false async=false enable-last-sample=false";
    }
    d += " ";
  }
  if (audio) {
    d += "appsrc name=asrc caps=\"audio/x-opus,channel-mapping-family=0,rate=48000,channels=1\"" + appsrc + " ! ";
    if (record) d += "tee name=at ! queue ! opusparse ! mux. at. ! queue ! ";
    d += "opusdec plc=true ! audioconvert ! audioresample ! queue name=aready max-size-buffers=50 max-size-bytes=0 max-size-time=0 ! ";
    const std::string& kind = c.audioSink.kind;
    d += (kind == "auto" && !c.audioDevice.empty())
             ? "audioconvert ! audioresample ! " + c.audioDevice + " sync=true async=false"
                          : "fakesink name=asink sync=true async=false enable-last-sample=false signal-handoffs=true";
  }
  return d;
}

PlayerPipeline::PlayerPipeline(PlayerPipelineConfig config, FrameEvent onReady, FrameEvent onRendered,
                               ErrorHandler onError)
    : mConfig(std::move(config)), mOnReady(std::move(onReady)), mOnRendered(std::move(onRendered)),
      mOnError(std::move(onError)) {}

PlayerPipeline::~PlayerPipeline() {
  if (mWarmUp.joinable()) mWarmUp.join();
  stop();
  if (mLastSample != nullptr) gst_sample_unref(mLastSample);
}

void PlayerPipeline::warmUp() {
  if (mWarmUp.joinable()) return;
  gst::initOnce();
  const bool audio = mConfig.audioSink.kind != "none";
  // H.264 first: the default codec, and libav is the slow one to load.
  std::vector<std::string> descriptions{describe(mConfig, v1::CODEC_H264, audio),
                                        describe(mConfig, v1::CODEC_VP8, false)};
  mWarmUp = std::thread([descriptions = std::move(descriptions)] {
    const std::int64_t t0 = wallNowUs();
    for (const std::string& d : descriptions) {
      // Parsed, never started: elements are created (plugins loaded, classes
      // initialised) but open nothing. A failure shows again, with its
      // reason, when start() parses for real.
      GError* error = nullptr;
      GstElement* p = gst_parse_launch_full(d.c_str(), nullptr, GST_PARSE_FLAG_FATAL_ERRORS, &error);
      if (error != nullptr) g_error_free(error);
      if (p != nullptr) gst_object_unref(p);
    }
    logger("player.media")->debug("decoders loaded in {} ms", (wallNowUs() - t0) / 1000);
  });
}

void PlayerPipeline::installProbe(const char* element, const char* padName, int which) {
  gst::ElementPtr el = gst::childByName(mPipeline.get(), element);
  gst::Ptr<GstPad> pad(gst_element_get_static_pad(el.get(), padName));
  auto* ctx = new ProbeCtx{this, which};
  gst_pad_add_probe(pad.get(), GST_PAD_PROBE_TYPE_BUFFER, &PlayerPipeline::onProbe, ctx,
                    [](gpointer p) { delete static_cast<ProbeCtx*>(p); });
}

void PlayerPipeline::start(const v1::Chunk* video, bool audio) {
  if (mPipeline) return;
  mVideoCodec = video != nullptr ? video->codec() : v1::CODEC_UNSPECIFIED;
  const bool withAudio = audio && mConfig.audioSink.kind != "none";

  const std::string desc = describe(mConfig, mVideoCodec, withAudio);
  logger("player.media")->info("pipeline: {}", desc);
  const std::int64_t t0 = wallNowUs();
  mPipeline = gst::parseLaunch(desc);
  const std::int64_t t1 = wallNowUs();
  gst::useWallClock(mPipeline.get());
  if (video != nullptr) {
    mVideoSrc = gst::childByName(mPipeline.get(), "vsrc");
    installProbe("vready", "sink", kVideoReady);
    installProbe("vsync", "src", kVideoRendered);
  }
  if (withAudio) {
    mAudioSrc = gst::childByName(mPipeline.get(), "asrc");
    installProbe("aready", "sink", kAudioReady);
    if (GstElement* sink = gst_bin_get_by_name(GST_BIN(mPipeline.get()), "asink")) {
      // fakesink hands off after its clock wait: when the audio is "played".
      g_signal_connect(sink, "handoff", G_CALLBACK(+[](GstElement*, GstBuffer* buf, GstPad*, gpointer selfPtr) {
                         auto* self = static_cast<PlayerPipeline*>(selfPtr);
                         const std::int64_t capture = self->captureOf(v1::MEDIA_KIND_AUDIO, GST_BUFFER_PTS(buf));
                         if (capture >= 0) self->mOnRendered(v1::MEDIA_KIND_AUDIO, capture, wallNowUs());
                       }), this);
      gst_object_unref(sink);
    }
  }
  // D already covers decoding; no extra latency on top of the PTS.
  gst_pipeline_set_latency(GST_PIPELINE(mPipeline.get()), 0);
  GstBus* bus = gst_element_get_bus(mPipeline.get());
  mBusWatch = gst_bus_add_watch(bus, &PlayerPipeline::onBus, this);
  gst_object_unref(bus);
  // Live: never wait for a preroll here, the main loop must keep running.
  gst::startOrThrow(mPipeline.get(), 0);
  logger("player.media")->debug("pipeline built in {} ms, playing {} ms later", (t1 - t0) / 1000,
                                (wallNowUs() - t1) / 1000);
}

void PlayerPipeline::present(const v1::Chunk& chunk, std::int64_t delayUs) {
  GstElement* src = chunk.kind() == v1::MEDIA_KIND_VIDEO ? mVideoSrc.get() : mAudioSrc.get();
  if (src == nullptr) return;
  const std::string& payload = chunk.payload();
  const int frames = std::max(1, chunk.frame_sizes_size());
  const std::int64_t frameUs = chunk.duration_us() / frames;
  std::size_t offset = 0;
  for (int i = 0; i < frames; ++i) {
    const std::size_t size = chunk.frame_sizes_size() > 0 ? chunk.frame_sizes(i) : payload.size();
    if (offset + size > payload.size()) break;  // inconsistent chunk: keep what is whole
    const std::int64_t captureUs = chunk.capture_us() + i * frameUs;
    GstBuffer* buffer = gst_buffer_new_memdup(payload.data() + offset, size);
    offset += size;
    // Presentation times only move forward: when D shrinks faster than frames
    // advance, a frame is shown right after its predecessor, never before it
    // (decoders drop or re-stamp frames whose timestamps go backwards).
    GstClockTime& last = chunk.kind() == v1::MEDIA_KIND_VIDEO ? mLastVideoPts : mLastAudioPts;
    GstClockTime pts = gst::wallUsToRunningNs(mPipeline.get(), captureUs + delayUs);
    if (last != GST_CLOCK_TIME_NONE && pts <= last) pts = last + 1000;
    last = pts;
    GST_BUFFER_PTS(buffer) = pts;
    GST_BUFFER_DTS(buffer) = pts;
    GST_BUFFER_DURATION(buffer) = static_cast<GstClockTime>(frameUs) * 1000u;
    if (chunk.kind() == v1::MEDIA_KIND_VIDEO && !(chunk.anchor() && i == 0)) {
      GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
    }
    {
      std::lock_guard lock(mMutex);
      (chunk.kind() == v1::MEDIA_KIND_VIDEO ? mVideoCapture : mAudioCapture).add(pts, captureUs);
    }
    gst_app_src_push_buffer(GST_APP_SRC(src), buffer);
  }
}

std::int64_t PlayerPipeline::captureOf(v1::MediaKind kind, GstClockTime pts) {
  if (!GST_CLOCK_TIME_IS_VALID(pts)) return -1;
  std::lock_guard lock(mMutex);
  if (kind == v1::MEDIA_KIND_VIDEO) return mVideoCapture.captureOf(pts);
  // Audio decoders and converters may re-timestamp (sample-exact PTS, other
  // buffer sizes): take the packet that contains this PTS.
  return mAudioCapture.captureOf(pts, 60 * GST_MSECOND);
}

GstPadProbeReturn PlayerPipeline::onProbe(GstPad* pad, GstPadProbeInfo* info, gpointer ctxPtr) {
  auto* ctx = static_cast<ProbeCtx*>(ctxPtr);
  GstBuffer* buffer = GST_PAD_PROBE_INFO_BUFFER(info);
  if (buffer == nullptr) return GST_PAD_PROBE_OK;
  const std::int64_t now = wallNowUs();
  const auto kind = ctx->which == kAudioReady ? v1::MEDIA_KIND_AUDIO : v1::MEDIA_KIND_VIDEO;
  PlayerPipeline* self = ctx->self;
  // Audio may be re-chunked by the decoder; match on the decoded PTS.
  const std::int64_t capture = self->captureOf(kind, GST_BUFFER_PTS(buffer));
  if (capture < 0) return GST_PAD_PROBE_OK;
  if (ctx->which == kVideoRendered) {
    {
      std::lock_guard lock(self->mMutex);
      if (self->mLastSample != nullptr) gst_sample_unref(self->mLastSample);
      GstCaps* caps = gst_pad_get_current_caps(pad);
      self->mLastSample = gst_sample_new(buffer, caps, nullptr, nullptr);
      if (caps != nullptr) gst_caps_unref(caps);
    }
    self->mOnRendered(kind, capture, now);
  } else {
    self->mOnReady(kind, capture, now);
  }
  return GST_PAD_PROBE_OK;
}

bool PlayerPipeline::snapshot(const std::string& path) {
  GstSample* sample = nullptr;
  {
    std::lock_guard lock(mMutex);
    if (mLastSample == nullptr) return false;
    sample = gst_sample_ref(mLastSample);
  }
  GstCaps* png = gst_caps_from_string("image/png");
  GError* error = nullptr;
  GstSample* converted = gst_video_convert_sample(sample, png, 2 * GST_SECOND, &error);
  gst_caps_unref(png);
  gst_sample_unref(sample);
  if (converted == nullptr) {
    logger("player.media")->warn("snapshot failed: {}", error ? error->message : "unknown");
    if (error) g_error_free(error);
    return false;
  }
  GstBuffer* buffer = gst_sample_get_buffer(converted);
  GstMapInfo map;
  bool ok = false;
  if (gst_buffer_map(buffer, &map, GST_MAP_READ)) {
    ok = g_file_set_contents(path.c_str(), reinterpret_cast<const gchar*>(map.data),
                             static_cast<gssize>(map.size), nullptr);
    gst_buffer_unmap(buffer, &map);
  }
  gst_sample_unref(converted);
  return ok;
}

gboolean PlayerPipeline::onBus(GstBus* /*bus*/, GstMessage* msg, gpointer selfPtr) {
  auto* self = static_cast<PlayerPipeline*>(selfPtr);
  if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_ERROR) {
    GError* err = nullptr;
    gchar* debug = nullptr;
    gst_message_parse_error(msg, &err, &debug);
    const std::string text = std::string(GST_OBJECT_NAME(msg->src)) + ": " + err->message;
    g_error_free(err);
    g_free(debug);
    self->mOnError(text);
  } else if (GST_MESSAGE_TYPE(msg) == GST_MESSAGE_WARNING) {
    GError* err = nullptr;
    gchar* debug = nullptr;
    gst_message_parse_warning(msg, &err, &debug);
    // The pipeline's latency is 0 on purpose (see start()); the pipeline
    // says so, as a clock warning, whenever an element (opusdec) reports more.
    const bool ourLatency = msg->src == GST_OBJECT(self->mPipeline.get()) &&
                            g_error_matches(err, GST_CORE_ERROR, GST_CORE_ERROR_CLOCK);
    logger("player.media")->log(ourLatency ? spdlog::level::debug : spdlog::level::warn, "{}: {} ({})",
                                GST_OBJECT_NAME(msg->src), err->message, debug ? debug : "");
    g_error_free(err);
    g_free(debug);
  }
  return G_SOURCE_CONTINUE;
}

void PlayerPipeline::stop() {
  if (!mPipeline) return;
  if (mBusWatch != 0) g_source_remove(mBusWatch);
  mBusWatch = 0;
  if (mConfig.videoSink.kind == "file") {
    // Finalise the recording: EOS through the muxer, bounded wait.
    if (mVideoSrc) gst_app_src_end_of_stream(GST_APP_SRC(mVideoSrc.get()));
    if (mAudioSrc) gst_app_src_end_of_stream(GST_APP_SRC(mAudioSrc.get()));
    gst::Ptr<GstBus> bus(gst_element_get_bus(mPipeline.get()));
    if (GstMessage* m = gst_bus_timed_pop_filtered(bus.get(), 3 * GST_SECOND,
                                                   static_cast<GstMessageType>(GST_MESSAGE_EOS | GST_MESSAGE_ERROR))) {
      gst_message_unref(m);
    }
  }
  gst_element_set_state(mPipeline.get(), GST_STATE_NULL);
  mVideoSrc.reset();
  mAudioSrc.reset();
  mPipeline.reset();
}

}  // namespace partyhub::player
