// partyhubsink: the chunkizer as a GStreamer element, so any pipeline that
// encodes H.264 (byte-stream, access units), VP8 or Opus can feed a PartyHub
// streamer:  ... ! x264enc tune=zerolatency ! partyhubsink endpoint=ipc://...
// It runs the same Chunkizer and ChunkPublisher as partyhub-source, and turns
// keyframe requests from the streamer into upstream force-key-unit events.
#include <memory>
#include <mutex>
#include <string>

#include <gst/base/gstbasesink.h>
#include <gst/video/video.h>

#include "core/chunkizer.hpp"
#include "io/chunk_publisher.hpp"
#include "partyhub/common/clock.hpp"
#include "partyhub/common/gst_util.hpp"

using namespace partyhub;

GST_DEBUG_CATEGORY_STATIC(partyhub_sink_debug);
#define GST_CAT_DEFAULT partyhub_sink_debug

namespace {

struct SinkState {
  zmq::context_t ctx{1};
  std::unique_ptr<source::ChunkPublisher> publisher;
  std::unique_ptr<source::Chunkizer> chunkizer;
  source::ChunkizerConfig config;
  v1::MediaKind kind = v1::MEDIA_KIND_VIDEO;
  v1::Codec codec = v1::CODEC_H264;
  std::uint32_t frameDurationUs = 33'333;
  std::mutex mutex;  // the socket moves between the app and streaming threads
};

}  // namespace

struct PartyhubSink {
  GstBaseSink parent;
  gchar* endpoint;
  guint channel;
  guint framesPerChunk;
  guint queueChunks;
  SinkState* state;
};
struct PartyhubSinkClass {
  GstBaseSinkClass parent_class;
};

G_DEFINE_TYPE(PartyhubSink, partyhub_sink, GST_TYPE_BASE_SINK)

enum { PROP_0, PROP_ENDPOINT, PROP_CHANNEL, PROP_FRAMES_PER_CHUNK, PROP_QUEUE };

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE(
    "sink", GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS("video/x-h264, stream-format=(string)byte-stream, alignment=(string)au; "
                    "video/x-vp8; audio/x-opus"));

static void partyhub_sink_set_property(GObject* object, guint id, const GValue* value, GParamSpec* pspec) {
  auto* self = reinterpret_cast<PartyhubSink*>(object);
  switch (id) {
    case PROP_ENDPOINT:
      g_free(self->endpoint);
      self->endpoint = g_value_dup_string(value);
      break;
    case PROP_CHANNEL: self->channel = g_value_get_uint(value); break;
    case PROP_FRAMES_PER_CHUNK: self->framesPerChunk = g_value_get_uint(value); break;
    case PROP_QUEUE: self->queueChunks = g_value_get_uint(value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void partyhub_sink_get_property(GObject* object, guint id, GValue* value, GParamSpec* pspec) {
  auto* self = reinterpret_cast<PartyhubSink*>(object);
  switch (id) {
    case PROP_ENDPOINT: g_value_set_string(value, self->endpoint); break;
    case PROP_CHANNEL: g_value_set_uint(value, self->channel); break;
    case PROP_FRAMES_PER_CHUNK: g_value_set_uint(value, self->framesPerChunk); break;
    case PROP_QUEUE: g_value_set_uint(value, self->queueChunks); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static gboolean partyhub_sink_start(GstBaseSink* base) {
  auto* self = reinterpret_cast<PartyhubSink*>(base);
  auto* st = self->state;
  std::lock_guard lock(st->mutex);
  try {
    st->publisher = std::make_unique<source::ChunkPublisher>(st->ctx, self->endpoint, self->queueChunks, 2'000'000);
  } catch (const std::exception& e) {
    GST_ELEMENT_ERROR(self, RESOURCE, OPEN_WRITE, ("%s", e.what()), (nullptr));
    return FALSE;
  }
  return TRUE;
}

static gboolean partyhub_sink_stop(GstBaseSink* base) {
  auto* st = reinterpret_cast<PartyhubSink*>(base)->state;
  std::lock_guard lock(st->mutex);
  if (st->chunkizer && st->publisher) {
    for (v1::Chunk& c : st->chunkizer->flush()) st->publisher->publish(std::move(c), wallNowUs());
  }
  st->publisher.reset();
  st->chunkizer.reset();
  return TRUE;
}

static gboolean partyhub_sink_set_caps(GstBaseSink* base, GstCaps* caps) {
  auto* self = reinterpret_cast<PartyhubSink*>(base);
  auto* st = self->state;
  const GstStructure* s = gst_caps_get_structure(caps, 0);
  const std::string name = gst_structure_get_name(s);
  std::lock_guard lock(st->mutex);
  st->config = {};
  st->config.channelId = self->channel;
  st->config.maxVideoFramesPerChunk = std::max(1u, self->framesPerChunk);
  gint width = 0, height = 0, rate = 48000, channels = 1, fpsN = 0, fpsD = 1;
  if (name == "audio/x-opus") {
    st->kind = v1::MEDIA_KIND_AUDIO;
    st->codec = v1::CODEC_OPUS;
    gst_structure_get_int(s, "rate", &rate);
    gst_structure_get_int(s, "channels", &channels);
    st->config.sampleRate = static_cast<std::uint32_t>(rate);
    st->config.channels = static_cast<std::uint32_t>(channels);
  } else {
    st->kind = v1::MEDIA_KIND_VIDEO;
    st->codec = name == "video/x-vp8" ? v1::CODEC_VP8 : v1::CODEC_H264;
    gst_structure_get_int(s, "width", &width);
    gst_structure_get_int(s, "height", &height);
    if (gst_structure_get_fraction(s, "framerate", &fpsN, &fpsD) && fpsN > 0) {
      st->frameDurationUs = static_cast<std::uint32_t>(1'000'000LL * fpsD / fpsN);
    }
    st->config.width = static_cast<std::uint32_t>(width);
    st->config.height = static_cast<std::uint32_t>(height);
  }
  if (!st->chunkizer) st->chunkizer = std::make_unique<source::Chunkizer>(st->config);
  GST_INFO_OBJECT(self, "caps %" GST_PTR_FORMAT, caps);
  return TRUE;
}

static GstFlowReturn partyhub_sink_render(GstBaseSink* base, GstBuffer* buffer) {
  auto* self = reinterpret_cast<PartyhubSink*>(base);
  auto* st = self->state;
  bool wantKeyframe = false;
  {
    std::lock_guard lock(st->mutex);
    if (!st->publisher || !st->chunkizer) return GST_FLOW_FLUSHING;
    GstMapInfo map;
    if (!gst_buffer_map(buffer, &map, GST_MAP_READ)) return GST_FLOW_ERROR;
    const std::int64_t now = wallNowUs();
    std::int64_t captureUs = now;
    const GstClockTime pts = GST_BUFFER_PTS(buffer);
    if (GST_CLOCK_TIME_IS_VALID(pts)) {
      const GstClockTime running = gst_segment_to_running_time(&base->segment, GST_FORMAT_TIME, pts);
      if (GST_CLOCK_TIME_IS_VALID(running)) captureUs = gst::runningNsToWallUs(GST_ELEMENT(self), running);
    }
    const GstClockTime dur = GST_BUFFER_DURATION(buffer);
    source::EncodedFrame frame;
    frame.kind = st->kind;
    frame.codec = st->codec;
    frame.data = std::string_view(reinterpret_cast<const char*>(map.data), map.size);
    frame.captureUs = captureUs;
    frame.durationUs = GST_CLOCK_TIME_IS_VALID(dur) ? static_cast<std::uint32_t>(dur / 1000u)
                       : st->kind == v1::MEDIA_KIND_AUDIO ? 20'000u : st->frameDurationUs;
    for (v1::Chunk& chunk : st->chunkizer->push(frame)) st->publisher->publish(std::move(chunk), now);
    gst_buffer_unmap(buffer, &map);
    for (const v1::Control& control : st->publisher->receiveControl()) {
      if (control.has_keyframe()) wantKeyframe = true;
    }
  }
  if (wantKeyframe && st->kind == v1::MEDIA_KIND_VIDEO) {
    GST_DEBUG_OBJECT(self, "keyframe requested by the streamer");
    gst_pad_push_event(GST_BASE_SINK_PAD(base),
                       gst_video_event_new_upstream_force_key_unit(GST_CLOCK_TIME_NONE, TRUE, 0));
  }
  return GST_FLOW_OK;
}

static void partyhub_sink_finalize(GObject* object) {
  auto* self = reinterpret_cast<PartyhubSink*>(object);
  g_free(self->endpoint);
  delete self->state;
  G_OBJECT_CLASS(partyhub_sink_parent_class)->finalize(object);
}

static void partyhub_sink_class_init(PartyhubSinkClass* klass) {
  auto* gobject = G_OBJECT_CLASS(klass);
  auto* element = GST_ELEMENT_CLASS(klass);
  auto* basesink = GST_BASE_SINK_CLASS(klass);
  gobject->set_property = partyhub_sink_set_property;
  gobject->get_property = partyhub_sink_get_property;
  gobject->finalize = partyhub_sink_finalize;
  g_object_class_install_property(gobject, PROP_ENDPOINT,
      g_param_spec_string("endpoint", "Endpoint", "ZeroMQ endpoint of the streamer's source socket",
                          "ipc:///tmp/partyhub-source.ipc", static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property(gobject, PROP_CHANNEL,
      g_param_spec_uint("channel", "Channel", "Channel id", 0, G_MAXUINT32, 1,
                        static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property(gobject, PROP_FRAMES_PER_CHUNK,
      g_param_spec_uint("frames-per-chunk", "Frames per chunk", "Video frames per chunk", 1, 30, 1,
                        static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property(gobject, PROP_QUEUE,
      g_param_spec_uint("queue", "Queue", "Chunks kept while the streamer is away", 1, 100000, 256,
                        static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)));
  gst_element_class_set_static_metadata(element, "PartyHub chunkizer sink", "Sink/Network",
      "Cuts an encoded stream into media-aware chunks and pushes them to a PartyHub streamer",
      "PartyHub developers");
  gst_element_class_add_static_pad_template(element, &sink_template);
  basesink->start = partyhub_sink_start;
  basesink->stop = partyhub_sink_stop;
  basesink->set_caps = partyhub_sink_set_caps;
  basesink->render = partyhub_sink_render;
  GST_DEBUG_CATEGORY_INIT(partyhub_sink_debug, "partyhubsink", 0, "PartyHub chunkizer sink");
}

static void partyhub_sink_init(PartyhubSink* self) {
  self->endpoint = g_strdup("ipc:///tmp/partyhub-source.ipc");
  self->channel = 1;
  self->framesPerChunk = 1;
  self->queueChunks = 256;
  self->state = new SinkState();
  // Chunks go out as soon as they are encoded: no clock sync, no preroll wait.
  gst_base_sink_set_sync(GST_BASE_SINK(self), FALSE);
  gst_base_sink_set_async_enabled(GST_BASE_SINK(self), FALSE);
}

static gboolean plugin_init(GstPlugin* plugin) {
  return gst_element_register(plugin, "partyhubsink", GST_RANK_NONE, partyhub_sink_get_type());
}

#define PACKAGE "partyhub"
GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, partyhubsource,
                  "PartyHub: feed a P2P conference from any GStreamer pipeline", plugin_init,
                  "0.1.0", "MIT/X11", "PartyHub", "https://github.com/partyhub")
