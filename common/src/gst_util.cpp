#include "partyhub/common/gst_util.hpp"

#include <mutex>
#include <stdexcept>

namespace partyhub::gst {

void initOnce() {
  static std::once_flag once;
  std::call_once(once, [] { gst_init(nullptr, nullptr); });
}

ElementPtr parseLaunch(const std::string& description) {
  initOnce();
  GError* error = nullptr;
  GstElement* element = gst_parse_launch_full(description.c_str(), nullptr,
                                              GST_PARSE_FLAG_FATAL_ERRORS, &error);
  if (error != nullptr) {
    std::string message = error->message;
    g_error_free(error);
    if (element != nullptr) gst_object_unref(element);
    throw std::runtime_error("GStreamer pipeline does not parse: " + message + " (in: " +
                             description + ")");
  }
  if (element == nullptr) throw std::runtime_error("GStreamer pipeline is empty: " + description);
  return ElementPtr(element);
}

void useWallClock(GstElement* pipeline) {
  GstClock* clock = GST_CLOCK(g_object_new(GST_TYPE_SYSTEM_CLOCK, "clock-type",
                                           GST_CLOCK_TYPE_REALTIME, nullptr));
  gst_pipeline_use_clock(GST_PIPELINE(pipeline), clock);
  gst_object_unref(clock);
}

namespace {
// Offset between the element's clock and the wall clock, ns (wall - clock).
// Zero on a REALTIME clock; exact enough on a monotonic one (two reads).
std::int64_t clockToWallOffsetNs(GstElement* element) {
  Ptr<GstClock> clock(gst_element_get_clock(element));
  if (!clock) return 0;
  const auto clockNow = static_cast<std::int64_t>(gst_clock_get_time(clock.get()));
  const auto wallNow = static_cast<std::int64_t>(g_get_real_time()) * 1000;
  return wallNow - clockNow;
}
}  // namespace

std::int64_t runningNsToWallUs(GstElement* element, GstClockTime runningNs) {
  const GstClockTime base = gst_element_get_base_time(element);
  const auto clockNs = static_cast<std::int64_t>(base + runningNs);
  return (clockNs + clockToWallOffsetNs(element)) / 1000;
}

GstClockTime wallUsToRunningNs(GstElement* element, std::int64_t wallUs) {
  const GstClockTime base = gst_element_get_base_time(element);
  if (base == GST_CLOCK_TIME_NONE) return GST_CLOCK_TIME_NONE;
  const std::int64_t clockNs = wallUs * 1000 - clockToWallOffsetNs(element);
  const auto baseNs = static_cast<std::int64_t>(base);
  return clockNs > baseNs ? static_cast<GstClockTime>(clockNs - baseNs) : 0;
}

ElementPtr childByName(GstElement* bin, const std::string& name) {
  GstElement* child = gst_bin_get_by_name(GST_BIN(bin), name.c_str());
  if (child == nullptr) throw std::runtime_error("pipeline has no element named " + name);
  return ElementPtr(child);
}

void startOrThrow(GstElement* pipeline, GstClockTime wait) {
  GstStateChangeReturn ret = gst_element_set_state(pipeline, GST_STATE_PLAYING);
  if (ret == GST_STATE_CHANGE_ASYNC && wait > 0) {
    ret = gst_element_get_state(pipeline, nullptr, nullptr, wait);
  }
  if (ret != GST_STATE_CHANGE_FAILURE) return;
  // Collect the reason the elements posted on the bus.
  std::string reason = "state change failed";
  Ptr<GstBus> bus(gst_element_get_bus(pipeline));
  while (GstMessage* msg = gst_bus_pop_filtered(bus.get(), GST_MESSAGE_ERROR)) {
    GError* err = nullptr;
    gchar* debug = nullptr;
    gst_message_parse_error(msg, &err, &debug);
    reason = std::string(GST_OBJECT_NAME(msg->src)) + ": " + err->message;
    g_error_free(err);
    g_free(debug);
    gst_message_unref(msg);
  }
  gst_element_set_state(pipeline, GST_STATE_NULL);
  throw std::runtime_error("cannot start media pipeline: " + reason);
}

std::string quote(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

}  // namespace partyhub::gst
