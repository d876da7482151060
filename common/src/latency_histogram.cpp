#include "partyhub/common/latency_histogram.hpp"

#include <algorithm>
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
  v1::LatencySummary s;
  s.set_count(mCount);
  s.set_p50_ms(percentileMs(0.50));
  s.set_p95_ms(percentileMs(0.95));
  s.set_p99_ms(percentileMs(0.99));
  s.set_max_ms(maxMs());
  return s;
}

}  // namespace partyhub
