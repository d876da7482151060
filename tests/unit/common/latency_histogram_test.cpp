#include <doctest/doctest.h>

#include "partyhub/common/latency_histogram.hpp"

using partyhub::LatencyHistogram;

TEST_CASE("percentiles of a uniform 1..100 ms distribution") {
  LatencyHistogram h;
  for (int ms = 1; ms <= 100; ++ms) h.record(ms * 1000);
  CHECK(h.count() == 100);
  CHECK(h.percentileMs(0.50) == doctest::Approx(50.0).epsilon(0.01));
  CHECK(h.percentileMs(0.95) == doctest::Approx(95.0).epsilon(0.01));
  CHECK(h.percentileMs(0.99) == doctest::Approx(99.0).epsilon(0.01));
  CHECK(h.maxMs() == doctest::Approx(100.0));
}

TEST_CASE("empty, negative and overflowing samples") {
  LatencyHistogram h;
  CHECK(h.percentileMs(0.5) == 0.0);
  h.record(-5);            // clock skew: counted as zero, never a crash
  h.record(10'000'000);    // 10 s: beyond the buckets
  CHECK(h.count() == 2);
  CHECK(h.percentileMs(0.25) == doctest::Approx(0.1));  // upper edge of the first bucket
  CHECK(h.percentileMs(1.0) == doctest::Approx(10'000.0));
  h.reset();
  CHECK(h.count() == 0);
}

TEST_CASE("summary carries count and percentiles") {
  LatencyHistogram h;
  for (int i = 0; i < 10; ++i) h.record(2'000);
  const auto s = h.summary();
  CHECK(s.count() == 10);
  CHECK(s.p50_ms() == doctest::Approx(2.0));
  CHECK(s.p99_ms() == doctest::Approx(2.0));
}

TEST_CASE("summary's percentiles, taken in one walk, equal percentileMs's") {
  for (std::uint64_t seed : {1u, 2u, 3u}) {
    CAPTURE(seed);
    LatencyHistogram h;
    std::uint64_t x = seed;
    for (int i = 0; i < 5000; ++i) {
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      // Mostly tens of ms, a tail up to 3 s (past the buckets).
      const auto us = static_cast<std::int64_t>((x >> 33) % (i % 50 == 0 ? 3'000'000 : 80'000));
      h.record(us);
    }
    const auto s = h.summary();
    CHECK(s.count() == 5000);
    CHECK(s.p50_ms() == h.percentileMs(0.50));
    CHECK(s.p95_ms() == h.percentileMs(0.95));
    CHECK(s.p99_ms() == h.percentileMs(0.99));
    CHECK(s.max_ms() == h.maxMs());
  }
  LatencyHistogram tail;  // every sample in the overflow bucket
  tail.record(5'000'000);
  CHECK(tail.summary().p50_ms() == doctest::Approx(5000.0));
}
