// partyhub-sim's engine: reproducible by seed, and the overlay delivers.
#include <doctest/doctest.h>

#include "sim/simulator.hpp"

using namespace partyhub::streamer::sim;

TEST_CASE("the same scenario and seed give the same numbers: another seed does not") {
  Scenario s;
  s.peers = 40;
  s.seconds = 8;
  s.seed = 5;
  const Result a = run(s), b = run(s);
  CHECK(a.events == b.events);
  CHECK(a.delay.count() == b.delay.count());
  CHECK(a.delay.percentileMs(0.99) == b.delay.percentileMs(0.99));
  CHECK(a.minDeliveryRatio1s == b.minDeliveryRatio1s);
  s.seed = 6;
  const Result c = run(s);
  CHECK(c.events != a.events);
}

TEST_CASE("a small overlay with loss delivers nearly everything within a second, both schedulers") {
  for (const std::string scheduler : {"push", "offer-accept"}) {
    CAPTURE(scheduler);
    Scenario s;
    s.peers = 30;
    s.seconds = 10;
    s.seed = 3;
    s.scheduler = scheduler;
    const Result r = run(s);
    CHECK(r.survivors == 30);
    CHECK(r.meanDeliveryRatio1s >= 0.98);
    CHECK(r.minDeliveryRatio1s >= 0.95);
    CHECK(r.delay.percentileMs(0.5) > r.lowerBoundMs * 0.3);  // physics: no faster than the links allow
    CHECK(r.signallingOverhead < 0.2);
  }
}

TEST_CASE("the lower bound follows the formula") {
  // N = 1000 -> ceil(log2) = 10: 11 chunk uploads + 10 minimum latencies.
  CHECK(lowerBoundMs(1000, 16.0, 10.0) == doctest::Approx(11 * 16.0 + 10 * 10.0));
  CHECK(lowerBoundMs(2, 16.0, 10.0) == doctest::Approx(2 * 16.0 + 10.0));
}
