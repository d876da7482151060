#include "partyhub/common/latency_histogram.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace partyhub {

void LatencyHistogram::record(std::int64_t latencyUs) {
  latencyUs = std::max<std::int64_t>(latencyUs, 0);
  const auto bucket = std::min<std::size_t>(static_cast<std::size_t>(latencyUs / kBucketUs), kBuckets);
  ++mBuckets[bucket];
  ++mCount;
  mMaxUs = std::max(mMaxUs, latencyUs);
}

void LatencyHistogram::reset() {
  mBuckets.fill(0);
  mCount = 0;
  mMaxUs = 0;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < mBuckets.size(); ++i) mBuckets[i] += other.mBuckets[i];
  mCount += other.mCount;
  mMaxUs = std::max(mMaxUs, other.mMaxUs);
}

double LatencyHistogram::percentileMs(double q) const {
  if (mCount == 0) return 0.0;
  const auto rank = static_cast<std::uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(mCount)));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i <= kBuckets; ++i) {
    seen += mBuckets[i];
    if (seen >= std::max<std::uint64_t>(rank, 1)) {
      if (i == kBuckets) return maxMs();
      // Report the bucket's upper edge, capped by the largest sample seen.
      const auto edgeUs = static_cast<std::int64_t>(i + 1) * kBucketUs;
      return static_cast<double>(std::min(edgeUs, mMaxUs)) / 1000.0;
    }
  }
  return maxMs();
}

v1::LatencySummary LatencyHistogram::summary() const {
  // The three percentiles in one walk up the buckets: players summarise five
  // histograms ten times a second.
  constexpr std::array<double, 3> kQ{0.50, 0.95, 0.99};
  std::array<double, 3> ms{};
  if (mCount > 0) {
    std::array<std::uint64_t, 3> rank{};
    for (std::size_t k = 0; k < kQ.size(); ++k) {
      rank[k] = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(kQ[k] * static_cast<double>(mCount))));
    }
    std::size_t k = 0;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets && k < kQ.size(); ++i) {
      seen += mBuckets[i];
      for (; k < kQ.size() && seen >= rank[k]; ++k) {
        ms[k] = static_cast<double>(std::min(static_cast<std::int64_t>(i + 1) * kBucketUs, mMaxUs)) / 1000.0;
      }
    }
    for (; k < kQ.size(); ++k) ms[k] = maxMs();  // in the overflow bucket
  }
  v1::LatencySummary s;
  s.set_count(mCount);
  s.set_p50_ms(ms[0]);
  s.set_p95_ms(ms[1]);
  s.set_p99_ms(ms[2]);
  s.set_max_ms(maxMs());
  return s;
}

}  // namespace partyhub
