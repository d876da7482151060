#include <doctest/doctest.h>

#include "core/capture_log.hpp"

using partyhub::player::CaptureLog;

TEST_CASE("capture log: exact PTS, a PTS inside an audio frame, and what is forgotten or never was") {
  CaptureLog log(4);
  // Frames 20 ms apart, captured at 1 000 000 µs + 20 000 µs each.
  for (std::uint64_t i = 0; i < 6; ++i) log.add(1'000'000'000 + i * 20'000'000, 1'000'000 + static_cast<std::int64_t>(i) * 20'000);
  CHECK(log.size() == 4);  // the two oldest are gone
  CHECK(log.captureOf(1'000'000'000 + 5 * 20'000'000) == 1'100'000);
  CHECK(log.captureOf(1'000'000'000 + 2 * 20'000'000) == 1'040'000);
  CHECK(log.captureOf(1'000'000'000) == -1);                  // forgotten
  CHECK(log.captureOf(1'000'000'000 + 2 * 20'000'000 + 5) == -1);  // not a frame's PTS (video: exact only)
  // Audio: 7 ms into the frame stamped at 60 ms.
  CHECK(log.captureOf(1'000'000'000 + 3 * 20'000'000 + 7'000'000, 60'000'000) == 1'067'000);
  CHECK(log.captureOf(1'000'000'000 + 5 * 20'000'000 + 61'000'000, 60'000'000) == -1);  // past the window
  CHECK(log.captureOf(999'000'000, 60'000'000) == -1);        // before every frame
}

TEST_CASE("capture log: a PTS not after the newest is ignored, not inserted out of order") {
  CaptureLog log;
  log.add(100, 1);
  log.add(100, 2);
  log.add(50, 3);
  log.add(200, 4);
  CHECK(log.size() == 2);
  CHECK(log.captureOf(100) == 1);
  CHECK(log.captureOf(50) == -1);
  CHECK(log.captureOf(200) == 4);
}
