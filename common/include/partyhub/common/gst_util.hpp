// GStreamer wrapped once: RAII owners, pipeline parsing that throws a clear
// message, and the wall-clock convention every PartyHub pipeline shares.
//
// Convention: pipelines run on a REALTIME system clock, so
//   wall-clock ns = base_time + running time
// which lets the source stamp capture wall-clock time and the player schedule
// a frame at (capture + playout delay) with nothing but arithmetic.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <gst/gst.h>

namespace partyhub::gst {

struct ObjectUnref {
  void operator()(gpointer obj) const {
    if (obj != nullptr) gst_object_unref(obj);
  }
};
template <typename T>
using Ptr = std::unique_ptr<T, ObjectUnref>;
using ElementPtr = Ptr<GstElement>;

/// gst_init once per process (safe to call repeatedly).
void initOnce();

/// gst_parse_launch with fatal errors on; throws std::runtime_error with
/// GStreamer's message (unknown element, syntax error, missing plugin...).
ElementPtr parseLaunch(const std::string& description);

/// Makes `pipeline` run on a REALTIME system clock (see the file comment).
void useWallClock(GstElement* pipeline);

/// Capture wall-clock µs of a buffer timestamp in `element`'s pipeline.
std::int64_t runningNsToWallUs(GstElement* element, GstClockTime runningNs);
/// Running time (ns) at which `wallUs` happens in `element`'s pipeline;
/// GST_CLOCK_TIME_NONE before the element has a base time.
GstClockTime wallUsToRunningNs(GstElement* element, std::int64_t wallUs);

/// Bin child by name (owned), or throws naming it.
ElementPtr childByName(GstElement* bin, const std::string& name);

/// Sets PLAYING; when `waitUs` > 0 waits (bounded) for an asynchronous
/// change. Throws with the bus error message when the pipeline cannot start
/// (device missing, file unreadable).
void startOrThrow(GstElement* pipeline, GstClockTime wait = 10 * GST_SECOND);

/// Quotes a string for gst_parse_launch property values.
std::string quote(const std::string& value);

}  // namespace partyhub::gst
