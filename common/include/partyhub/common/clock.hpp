// Wall-clock and monotonic time in microseconds. Only process edges (main
// loops, GStreamer probes) read clocks; core code takes `now` as a parameter.
#pragma once

#include <chrono>
#include <cstdint>

namespace partyhub {

using Micros = std::int64_t;

inline Micros wallNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline Micros steadyNowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace partyhub
