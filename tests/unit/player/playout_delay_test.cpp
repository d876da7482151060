#include <doctest/doctest.h>

#include "core/playout_delay.hpp"

using partyhub::player::PlayoutDelay;
using partyhub::player::PlayoutDelayConfig;

TEST_CASE("tracks the 95th percentile of ready latency plus the margin") {
  PlayoutDelayConfig cfg;
  cfg.marginUs = 2'000;
  cfg.window = 100;
  PlayoutDelay d(cfg);
  CHECK(d.current(0) == cfg.initialUs);
  std::int64_t now = 0;
  for (int i = 1; i <= 100; ++i) d.addSample(i * 100, now += 33'000);  // 0.1 .. 10 ms
  CHECK(d.current(now) == 9'500 + 2'000);
}

TEST_CASE("rises at once, decays smoothly, stays within bounds") {
  PlayoutDelayConfig cfg;
  cfg.marginUs = 0;
  cfg.window = 10;
  cfg.decayUs = 1'000'000;
  cfg.minUs = 5'000;
  cfg.maxUs = 200'000;
  PlayoutDelay d(cfg);
  std::int64_t now = 1;
  for (int i = 0; i < 10; ++i) d.addSample(100'000, now += 10'000);
  CHECK(d.current(now) == 100'000);
  for (int i = 0; i < 10; ++i) d.addSample(10'000, now += 10'000);  // network got faster
  const auto justAfter = d.current(now);
  CHECK(justAfter < 100'000);
  CHECK(justAfter > 80'000);          // not a jump: ~0.1 s into a 1 s decay
  CHECK(d.current(now + 5'000'000) == doctest::Approx(10'000).epsilon(0.1));
  d.addSample(1'000'000, now + 5'000'001);  // a huge outlier is clamped
  CHECK(d.current(now + 5'000'001) == 200'000);
  PlayoutDelay low(cfg);
  low.addSample(0, 1);
  CHECK(low.current(1) == 5'000);
}

TEST_CASE("before any frame is decoded, a slow arrival raises D so the first frames are not dropped as late") {
  PlayoutDelayConfig cfg;
  cfg.marginUs = 2'000;
  cfg.window = 10;
  PlayoutDelay d(cfg);
  CHECK_FALSE(d.hasSamples());
  d.addArrival(10'000);  // faster than the initial guess: no change
  CHECK(d.hasSamples());
  CHECK(d.current(1) == cfg.initialUs);
  d.addArrival(311'000);  // a start-up burst
  CHECK(d.current(2) == 313'000);
  d.addArrival(5'000'000);  // bounded
  CHECK(d.current(3) == cfg.maxUs);
  // Once frames are decoded, their ready latency rules; arrivals no longer count.
  for (int i = 0; i < 10; ++i) d.addSample(20'000, 10 + i);
  const auto settled = d.current(20);
  d.addArrival(900'000);
  CHECK(d.current(20) == settled);
}
