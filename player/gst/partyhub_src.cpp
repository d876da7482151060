// partyhubsrc: a channel's stream out of a PartyHub streamer, for users' own
// pipelines:  partyhubsrc endpoint=ipc://... media=video ! h264parse ! avdec_h264 ! autovideosink
// It subscribes like partyhub-player and runs the same PlayoutBuffer and
// PlayoutDelay: chunks leave in order, a loss skips to the next anchor and asks
// the source for a keyframe, and buffers are timestamped at capture + D in the
// pipeline's running time, so a syncing sink shows them on time.
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include <gst/base/gstpushsrc.h>

#include "core/playout_buffer.hpp"
#include "core/playout_delay.hpp"
#include "partyhub/common/clock.hpp"
#include "partyhub/common/gst_util.hpp"
#include "partyhub/common/zmq_util.hpp"
#include "partyhub/v1/local.pb.h"

using namespace partyhub;

GST_DEBUG_CATEGORY_STATIC(partyhub_src_debug);
#define GST_CAT_DEFAULT partyhub_src_debug

namespace {

struct Frame {
  std::string bytes;
  std::int64_t captureUs;
  std::int64_t durationUs;
  bool delta;
};

struct SrcState {
  zmq::context_t ctx{1};
  std::optional<zmq::socket_t> socket;
  std::unique_ptr<player::PlayoutBuffer> buffer;
  std::unique_ptr<player::PlayoutDelay> delay;
  std::deque<Frame> ready;
  std::vector<v1::Chunk> released;
  std::int64_t lastSubscribeUs = 0;
  bool capsSet = false;
  std::atomic<bool> flushing{false};
};

}  // namespace

struct PartyhubSrc {
  GstPushSrc parent;
  gchar* endpoint;
  guint channel;
  gboolean audio;
  guint marginMs;
  SrcState* state;
};
struct PartyhubSrcClass {
  GstPushSrcClass parent_class;
};

G_DEFINE_TYPE(PartyhubSrc, partyhub_src, GST_TYPE_PUSH_SRC)

enum { PROP_0, PROP_ENDPOINT, PROP_CHANNEL, PROP_MEDIA, PROP_MARGIN };

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE(
    "src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS("video/x-h264, stream-format=(string)byte-stream, alignment=(string)au; "
                    "video/x-vp8; audio/x-opus, channel-mapping-family=(int)0"));

static void partyhub_src_set_property(GObject* object, guint id, const GValue* value, GParamSpec* pspec) {
  auto* self = reinterpret_cast<PartyhubSrc*>(object);
  switch (id) {
    case PROP_ENDPOINT:
      g_free(self->endpoint);
      self->endpoint = g_value_dup_string(value);
      break;
    case PROP_CHANNEL: self->channel = g_value_get_uint(value); break;
    case PROP_MEDIA: self->audio = g_str_equal(g_value_get_string(value), "audio"); break;
    case PROP_MARGIN: self->marginMs = g_value_get_uint(value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static void partyhub_src_get_property(GObject* object, guint id, GValue* value, GParamSpec* pspec) {
  auto* self = reinterpret_cast<PartyhubSrc*>(object);
  switch (id) {
    case PROP_ENDPOINT: g_value_set_string(value, self->endpoint); break;
    case PROP_CHANNEL: g_value_set_uint(value, self->channel); break;
    case PROP_MEDIA: g_value_set_string(value, self->audio ? "audio" : "video"); break;
    case PROP_MARGIN: g_value_set_uint(value, self->marginMs); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID(object, id, pspec);
  }
}

static gboolean partyhub_src_start(GstBaseSrc* base) {
  auto* self = reinterpret_cast<PartyhubSrc*>(base);
  auto* st = self->state;
  const auto kind = self->audio ? v1::MEDIA_KIND_AUDIO : v1::MEDIA_KIND_VIDEO;
  st->buffer = std::make_unique<player::PlayoutBuffer>(kind);
  player::PlayoutDelayConfig dc;
  dc.marginUs = static_cast<std::int64_t>(self->marginMs) * 1000;
  st->delay = std::make_unique<player::PlayoutDelay>(dc);
  st->ready.clear();
  st->capsSet = false;
  st->flushing = false;
  try {
    st->socket.emplace(st->ctx, zmq::socket_type::dealer);
    st->socket->set(zmq::sockopt::linger, 0);
    connectOrThrow(*st->socket, self->endpoint);
  } catch (const std::exception& e) {
    st->socket.reset();
    GST_ELEMENT_ERROR(self, RESOURCE, OPEN_READ, ("%s", e.what()), (nullptr));
    return FALSE;
  }
  st->lastSubscribeUs = 0;
  return TRUE;
}

static gboolean partyhub_src_stop(GstBaseSrc* base) {
  auto* st = reinterpret_cast<PartyhubSrc*>(base)->state;
  if (st->socket) {
    v1::PlayerToStreamer bye;
    bye.mutable_unsubscribe();
    (void)sendProto(*st->socket, bye);
    st->socket.reset();
  }
  return TRUE;
}

static gboolean partyhub_src_unlock(GstBaseSrc* base) {
  reinterpret_cast<PartyhubSrc*>(base)->state->flushing = true;
  return TRUE;
}

static gboolean partyhub_src_unlock_stop(GstBaseSrc* base) {
  reinterpret_cast<PartyhubSrc*>(base)->state->flushing = false;
  return TRUE;
}

static void setCaps(PartyhubSrc* self, const v1::Chunk& c) {
  GstCaps* caps = nullptr;
  if (c.codec() == v1::CODEC_OPUS) {
    caps = gst_caps_new_simple("audio/x-opus", "channel-mapping-family", G_TYPE_INT, 0, "rate", G_TYPE_INT,
                               static_cast<int>(c.sample_rate()), "channels", G_TYPE_INT,
                               static_cast<int>(std::max(1u, c.channels())), nullptr);
  } else if (c.codec() == v1::CODEC_VP8) {
    caps = gst_caps_new_empty_simple("video/x-vp8");
  } else {
    caps = gst_caps_new_simple("video/x-h264", "stream-format", G_TYPE_STRING, "byte-stream", "alignment",
                               G_TYPE_STRING, "au", nullptr);
  }
  gst_base_src_set_caps(GST_BASE_SRC(self), caps);
  gst_caps_unref(caps);
}

// Receives for up to `waitMs`, feeding the playout buffer; queues released frames.
static void pump(PartyhubSrc* self, int waitMs) {
  auto* st = self->state;
  const std::int64_t now = wallNowUs();
  if (now - st->lastSubscribeUs > 1'000'000) {
    v1::PlayerToStreamer sub;
    sub.mutable_subscribe()->set_channel_id(self->channel);
    sub.mutable_subscribe()->set_name("partyhubsrc");
    (void)sendProto(*st->socket, sub);
    st->lastSubscribeUs = now;
  }
  zmq::pollitem_t item{static_cast<void*>(*st->socket), 0, ZMQ_POLLIN, 0};
  zmq::poll(&item, 1, std::chrono::milliseconds(waitMs));
  const auto kind = self->audio ? v1::MEDIA_KIND_AUDIO : v1::MEDIA_KIND_VIDEO;
  while (auto received = recvMessage(*st->socket, false)) {
    v1::StreamerToPlayer msg;
    if (!msg.ParseFromString(received->body) || !msg.has_chunk() || msg.chunk().kind() != kind) continue;
    const std::int64_t t = wallNowUs();
    st->delay->addSample(t - msg.chunk().capture_us(), t);
    (void)st->buffer->push(std::move(*msg.mutable_chunk()), t, st->delay->current(t));
  }
  const std::int64_t t = wallNowUs();
  st->released.clear();
  st->buffer->poll(t, st->delay->current(t), st->released);
  for (const v1::Chunk& c : st->released) {
    if (!st->capsSet) {
      setCaps(self, c);
      st->capsSet = true;
    }
    const int frames = std::max(1, c.frame_sizes_size());
    const std::int64_t frameUs = c.duration_us() / frames;
    std::size_t offset = 0;
    for (int i = 0; i < frames; ++i) {
      const std::size_t size = c.frame_sizes_size() > 0 ? c.frame_sizes(i) : c.payload().size();
      if (offset + size > c.payload().size()) break;
      st->ready.push_back({c.payload().substr(offset, size), c.capture_us() + i * frameUs, frameUs,
                           kind == v1::MEDIA_KIND_VIDEO && !(c.anchor() && i == 0)});
      offset += size;
    }
  }
  if (st->buffer->takeKeyframeRequest(t)) {
    v1::PlayerToStreamer req;
    req.mutable_control()->mutable_keyframe()->set_channel_id(self->channel);
    req.mutable_control()->mutable_keyframe()->set_reason("partyhubsrc");
    (void)sendProto(*st->socket, req);
  }
}

static GstFlowReturn partyhub_src_create(GstPushSrc* push, GstBuffer** out) {
  auto* self = reinterpret_cast<PartyhubSrc*>(push);
  auto* st = self->state;
  while (st->ready.empty()) {
    if (st->flushing) return GST_FLOW_FLUSHING;
    pump(self, 10);
  }
  Frame f = std::move(st->ready.front());
  st->ready.pop_front();
  GstBuffer* buffer = gst_buffer_new_memdup(f.bytes.data(), f.bytes.size());
  const std::int64_t delayUs = st->delay->current(wallNowUs());
  const GstClockTime pts = gst::wallUsToRunningNs(GST_ELEMENT(self), f.captureUs + delayUs);
  GST_BUFFER_PTS(buffer) = pts;
  GST_BUFFER_DTS(buffer) = pts;
  GST_BUFFER_DURATION(buffer) = static_cast<GstClockTime>(f.durationUs) * 1000u;
  if (f.delta) GST_BUFFER_FLAG_SET(buffer, GST_BUFFER_FLAG_DELTA_UNIT);
  *out = buffer;
  return GST_FLOW_OK;
}

static void partyhub_src_finalize(GObject* object) {
  auto* self = reinterpret_cast<PartyhubSrc*>(object);
  g_free(self->endpoint);
  delete self->state;
  G_OBJECT_CLASS(partyhub_src_parent_class)->finalize(object);
}

static void partyhub_src_class_init(PartyhubSrcClass* klass) {
  auto* gobject = G_OBJECT_CLASS(klass);
  auto* element = GST_ELEMENT_CLASS(klass);
  auto* basesrc = GST_BASE_SRC_CLASS(klass);
  auto* pushsrc = GST_PUSH_SRC_CLASS(klass);
  gobject->set_property = partyhub_src_set_property;
  gobject->get_property = partyhub_src_get_property;
  gobject->finalize = partyhub_src_finalize;
  const auto flags = static_cast<GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property(gobject, PROP_ENDPOINT,
      g_param_spec_string("endpoint", "Endpoint", "ZeroMQ endpoint of the streamer's player socket",
                          "ipc:///tmp/partyhub-players.ipc", flags));
  g_object_class_install_property(gobject, PROP_CHANNEL,
      g_param_spec_uint("channel", "Channel", "Channel id", 0, G_MAXUINT32, 1, flags));
  g_object_class_install_property(gobject, PROP_MEDIA,
      g_param_spec_string("media", "Media", "Which stream: video or audio", "video", flags));
  g_object_class_install_property(gobject, PROP_MARGIN,
      g_param_spec_uint("latency-margin", "Latency margin", "Milliseconds added to the measured delay for decoding",
                        0, 5000, 10, flags));
  gst_element_class_set_static_metadata(element, "PartyHub channel source", "Source/Network",
      "Plays a PartyHub channel out of a streamer: ordered, anchor-aware, timestamped at capture + delay",
      "PartyHub developers");
  gst_element_class_add_static_pad_template(element, &src_template);
  basesrc->start = partyhub_src_start;
  basesrc->stop = partyhub_src_stop;
  basesrc->unlock = partyhub_src_unlock;
  basesrc->unlock_stop = partyhub_src_unlock_stop;
  pushsrc->create = partyhub_src_create;
  GST_DEBUG_CATEGORY_INIT(partyhub_src_debug, "partyhubsrc", 0, "PartyHub channel source");
}

static void partyhub_src_init(PartyhubSrc* self) {
  self->endpoint = g_strdup("ipc:///tmp/partyhub-players.ipc");
  self->channel = 1;
  self->audio = FALSE;
  self->marginMs = 10;
  self->state = new SrcState();
  gst_base_src_set_live(GST_BASE_SRC(self), TRUE);
  gst_base_src_set_format(GST_BASE_SRC(self), GST_FORMAT_TIME);
  gst_base_src_set_do_timestamp(GST_BASE_SRC(self), FALSE);
}

static gboolean plugin_init(GstPlugin* plugin) {
  return gst_element_register(plugin, "partyhubsrc", GST_RANK_NONE, partyhub_src_get_type());
}

#define PACKAGE "partyhub"
GST_PLUGIN_DEFINE(GST_VERSION_MAJOR, GST_VERSION_MINOR, partyhubplayer,
                  "PartyHub: play a P2P conference's streams in any GStreamer pipeline", plugin_init,
                  "0.1.0", "MIT/X11", "PartyHub", "https://github.com/partyhub")
