// The baseline of `bench/run chain`: the fastest direct path GStreamer offers
// for the same media. partyhub-source's very capture and encoder description,
// then RTP over loopback UDP, depayloaded and decoded with the player's decoder
// settings, no jitter buffer, into a sink that does not sync. Glass-to-glass:
// capture time (from the frame's PTS, as partyhub-source stamps it) -> the
// decoded frame reaching the sink. Frames are matched in order (checked: on
// loopback none is lost; a mismatch is reported).
#include <deque>
#include <iostream>
#include <mutex>

#include <CLI/CLI.hpp>
#include <gst/gst.h>

#include "media/source_pipeline.hpp"
#include "partyhub/common/clock.hpp"
#include "partyhub/common/gst_util.hpp"
#include "partyhub/common/latency_histogram.hpp"

using namespace partyhub;

namespace {

struct Measure {
  std::mutex mutex;
  std::deque<std::int64_t> captures;
  LatencyHistogram g2g;
  std::int64_t firstUs = 0;
  std::int64_t warmupUs = 0;
  std::uint64_t sent = 0, received = 0, unmatched = 0;
};

GstPadProbeReturn onCapture(GstPad* pad, GstPadProbeInfo* info, gpointer data) {
  auto* m = static_cast<Measure*>(data);
  GstBuffer* buf = GST_PAD_PROBE_INFO_BUFFER(info);
  gst::Ptr<GstElement> parent(gst_pad_get_parent_element(pad));
  const std::int64_t capture = gst::runningNsToWallUs(parent.get(), GST_BUFFER_PTS(buf));
  std::lock_guard lock(m->mutex);
  m->captures.push_back(capture);
  ++m->sent;
  return GST_PAD_PROBE_OK;
}

GstPadProbeReturn onRender(GstPad*, GstPadProbeInfo*, gpointer data) {
  auto* m = static_cast<Measure*>(data);
  const std::int64_t now = wallNowUs();
  std::lock_guard lock(m->mutex);
  ++m->received;
  if (m->captures.empty()) {
    ++m->unmatched;
    return GST_PAD_PROBE_OK;
  }
  const std::int64_t capture = m->captures.front();
  m->captures.pop_front();
  if (m->firstUs == 0) m->firstUs = now;
  if (now - m->firstUs >= m->warmupUs) m->g2g.record(now - capture);
  return GST_PAD_PROBE_OK;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 30, warmup = 2;
  int port = 15004;
  source::SourceConfig cfg;
  cfg.name = "RTP";
  CLI::App app{"RTP/UDP baseline for bench/run chain"};
  app.add_option("--seconds", seconds);
  app.add_option("--warmup", warmup);
  app.add_option("--port", port);
  app.add_option("--width", cfg.width);
  app.add_option("--height", cfg.height);
  app.add_option("--fps", cfg.fps);
  app.add_option("--video-kbps", cfg.videoKbps);
  CLI11_PARSE(app, argc, argv);
  gst::initOnce();
  cfg.audio = {"none", ""};
  std::string desc = source::SourcePipeline::describe(cfg);
  const auto tail = desc.find(" ! appsink name=vsink");
  desc = desc.substr(0, tail);
  desc += " ! rtph264pay config-interval=-1 pt=96 mtu=1200 ! udpsink host=127.0.0.1 port=" + std::to_string(port) +
          " sync=false async=false  udpsrc port=" + std::to_string(port) +
          " caps=\"application/x-rtp,media=video,encoding-name=H264,clock-rate=90000,payload=96\" ! rtph264depay ! "
          "h264parse ! avdec_h264 max-threads=1 output-corrupt=false ! fakesink name=out sync=false async=false";
  std::cerr << "rtp-baseline pipeline: " << desc << "\n";
  gst::ElementPtr pipeline = gst::parseLaunch(desc);
  gst::useWallClock(pipeline.get());
  Measure m;
  m.warmupUs = static_cast<std::int64_t>(warmup * 1e6);
  {
    gst::ElementPtr enc = gst::childByName(pipeline.get(), "venc");
    gst::Ptr<GstPad> pad(gst_element_get_static_pad(enc.get(), "sink"));
    gst_pad_add_probe(pad.get(), GST_PAD_PROBE_TYPE_BUFFER, onCapture, &m, nullptr);
    gst::ElementPtr out = gst::childByName(pipeline.get(), "out");
    gst::Ptr<GstPad> opad(gst_element_get_static_pad(out.get(), "sink"));
    gst_pad_add_probe(opad.get(), GST_PAD_PROBE_TYPE_BUFFER, onRender, &m, nullptr);
  }
  gst::startOrThrow(pipeline.get(), 0);
  GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
  g_timeout_add(static_cast<guint>(seconds * 1000), [](gpointer l) {
    g_main_loop_quit(static_cast<GMainLoop*>(l));
    return gboolean(G_SOURCE_REMOVE);
  }, loop);
  g_main_loop_run(loop);
  gst_element_set_state(pipeline.get(), GST_STATE_NULL);
  g_main_loop_unref(loop);
  std::lock_guard lock(m.mutex);
  std::cout << "{\"frames_sent\":" << m.sent << ",\"frames_rendered\":" << m.received
            << ",\"unmatched\":" << m.unmatched << ",\"g2g_count\":" << m.g2g.count()
            << ",\"g2g_p50_ms\":" << m.g2g.percentileMs(0.5) << ",\"g2g_p95_ms\":" << m.g2g.percentileMs(0.95)
            << ",\"g2g_p99_ms\":" << m.g2g.percentileMs(0.99) << "}" << std::endl;
  return 0;
}
