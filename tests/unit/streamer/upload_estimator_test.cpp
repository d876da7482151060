// UploadEstimator: the upload budget from one-way delays, with a manual clock.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/overlay/upload_estimator.hpp"

using namespace partyhub::streamer::overlay;

namespace {

struct Period {
  const char* what;
  std::vector<std::int64_t> sampleExcessUs;  // each sample's delay over its peer's base (peer 1..n)
  std::size_t sentBytes;                  // in the period (200 ms)
  double expectFactor;                    // the budget after, over the budget before
  bool paced = false;                     // copies waited for the budget in the period (a burst)
};

}  // namespace

TEST_CASE("the estimated budget, period by period: down on a queue, up when busy and clear, else kept") {
  UploadEstimatorConfig c;
  c.ceilingKbps = 4000;
  c.startKbps = 4000;
  // 4000 kbit/s for 200 ms is 100 000 bytes; busy from 70 000.
  const std::vector<Period> periods = {
      {"every sample late: a standing queue", {80'000, 90'000, 70'000}, 50'000, 0.8},
      {"again", {65'000, 100'000, 61'000}, 50'000, 0.8},
      {"no sample queued far: clear enough, but not busy: kept", {30'000, 5'000, 50'000}, 10'000, 1.0},
      {"quick and busy: up", {2'000, 10'000, 3'000}, 70'000, 1.05},
      {"between low and high: kept", {40'000, 45'000, 30'000}, 90'000, 1.0},
      {"too few samples for a verdict: kept", {90'000, 90'000}, 10'000, 1.0},
      {"busy, but the period's later samples queued a little: kept", {2'000, 40'000, 45'000}, 90'000, 1.0},
      {"held back, and the burst queued in the link: down", {2'000, 20'000, 70'000}, 50'000, 0.8, true},
      {"not held back, light, but a burst's last copy queued in the link: down", {2'000, 30'000, 65'000}, 20'000, 0.8},
      {"held back and clear: up", {2'000, 3'000, 15'000}, 50'000, 1.05, true},
  };
  UploadEstimator e(c);
  std::int64_t now = 0;
  CHECK(e.budgetKbps(now) == 4000);
  // Bases: each peer's quickest, 10 ms.
  for (PeerId p = 1; p <= 3; ++p) e.onSample(p, 10'000, now);
  now += c.periodUs;
  e.budgetKbps(now);  // that period: quick samples, not busy: kept
  REQUIRE(e.budgetKbps(now) == 4000);
  for (const Period& p : periods) {
    CAPTURE(std::string(p.what));
    const double before = e.budgetKbps(now);
    PeerId peer = 1;
    for (const std::int64_t excess : p.sampleExcessUs) e.onSample(peer++, 10'000 + excess, now);
    e.onSent(p.sentBytes);
    if (p.paced) e.onPaced();
    // Within the period: no change yet.
    CHECK(e.budgetKbps(now + c.periodUs / 2) == static_cast<std::uint32_t>(before));
    now += c.periodUs;
    const double after = e.budgetKbps(now);
    CHECK(after / before == doctest::Approx(p.expectFactor).epsilon(0.01));
  }
}

TEST_CASE("the estimate starts low, climbs fast while held back and clear, then slowly once a queue was seen") {
  UploadEstimatorConfig c;
  c.ceilingKbps = 20000;
  c.startKbps = 1000;
  UploadEstimator e(c);
  std::int64_t now = 0;
  CHECK(e.budgetKbps(now) == 1000);
  const auto period = [&](std::int64_t excessUs, bool paced) {
    for (PeerId p = 1; p <= 3; ++p) e.onSample(p, 5'000 + excessUs, now);
    if (paced) e.onPaced();
    now += c.periodUs;
    return e.budgetKbps(now);
  };
  period(0, false);  // the bases
  CHECK(period(0, false) == 1000);  // clear, but nothing held back: kept
  CHECK(period(0, true) == 1300);   // held back (a keyframe waited): slow start, x1.3
  CHECK(period(0, true) == 1690);
  CHECK(period(100'000, true) == 1352);  // a standing queue: x0.8, and slow start is over
  CHECK(period(0, true) == 1419);        // x1.05 from now on
}

TEST_CASE("the estimated budget stays between the floor and the configured ceiling") {
  UploadEstimatorConfig c;
  c.ceilingKbps = 1000;
  c.floorKbps = 300;
  UploadEstimator e(c);
  std::int64_t now = 0;
  e.budgetKbps(now);
  for (PeerId p = 1; p <= 3; ++p) e.onSample(p, 5'000, now);
  for (int i = 0; i < 40; ++i) {  // 8 s of a standing queue
    for (PeerId p = 1; p <= 3; ++p) e.onSample(p, 200'000, now);
    now += c.periodUs;
    e.budgetKbps(now);
  }
  CHECK(e.budgetKbps(now) == 300);
  for (int i = 0; i < 100; ++i) {  // 20 s clear and busy
    for (PeerId p = 1; p <= 3; ++p) e.onSample(p, 5'000, now);
    e.onSent(1'000'000);
    now += c.periodUs;
    e.budgetKbps(now);
  }
  CHECK(e.budgetKbps(now) == 1000);
}

TEST_CASE("a peer's base is its own quickest: a far peer's samples are no queue") {
  UploadEstimatorConfig c;
  c.ceilingKbps = 2000;
  UploadEstimator e(c);
  std::int64_t now = 0;
  e.budgetKbps(now);
  for (int i = 0; i < 10; ++i) {
    e.onSample(1, 5'000, now);    // near
    e.onSample(2, 150'000, now);  // far, steadily
    e.onSample(3, 150'000, now);
    now += c.periodUs;
    CHECK(e.budgetKbps(now) == 2000);
  }
  e.forget(2);
  e.forget(3);
  e.onSample(2, 160'000, now);  // a new base, not an excess
  e.onSample(3, 160'000, now);
  e.onSample(1, 5'000, now);
  now += c.periodUs;
  CHECK(e.budgetKbps(now) == 2000);
}

TEST_CASE("a peer's base forgets its old quickest: a path that got longer for good is no queue after a few minutes") {
  UploadEstimatorConfig c;
  c.ceilingKbps = 2000;
  c.startKbps = 2000;
  UploadEstimator e(c);
  std::int64_t now = 0;
  e.budgetKbps(now);
  const auto period = [&](std::int64_t delayUs) {
    for (PeerId p = 1; p <= 3; ++p) e.onSample(p, delayUs, now);
    e.onPaced();  // the budget holds us back throughout
    now += c.periodUs;
    return e.budgetKbps(now);
  };
  period(10'000);
  // The path gets 100 ms longer, for good: taken for a queue at first...
  CHECK(period(110'000) == 1600);
  // ...until the buckets holding the old 10 ms are gone (2-4 minutes)...
  while (now < 2 * c.baseBucketUs + c.periodUs) period(110'000);
  const std::uint32_t floor = e.budgetKbps(now);
  CHECK(floor <= 1.1 * c.floorKbps);  // at the floor, or a step above it as the old base went
  // ...then no queue: the budget climbs again.
  for (int i = 0; i < 10; ++i) period(110'000);
  CHECK(e.budgetKbps(now) > 1.5 * floor);
}
