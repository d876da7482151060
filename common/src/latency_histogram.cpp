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

void LatencyHistogram::percentilesMs(const double* qs, double* ms, std::size_t n) const {
  // One walk up the buckets for all of them (qs ascending): players summarise
  // five histograms four times a second. A value is its bucket's upper edge,
  // capped by the largest sample; past the buckets, the largest sample.
  std::size_t k = 0;
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets && k < n; ++i) {
    seen += mBuckets[i];
    for (; k < n; ++k) {
      const auto rank = std::max<std::uint64_t>(
          1, static_cast<std::uint64_t>(std::ceil(std::clamp(qs[k], 0.0, 1.0) * static_cast<double>(mCount))));
      if (seen < rank) break;
      ms[k] = static_cast<double>(std::min(static_cast<std::int64_t>(i + 1) * kBucketUs, mMaxUs)) / 1000.0;
    }
  }
  for (; k < n; ++k) ms[k] = maxMs();
}

double LatencyHistogram::percentileMs(double q) const {
  if (mCount == 0) return 0.0;
  double ms = 0;
  percentilesMs(&q, &ms, 1);
  return ms;
}

v1::LatencySummary LatencyHistogram::summary() const {
  constexpr std::array<double, 3> kQ{0.50, 0.95, 0.99};
  std::array<double, 3> ms{};
  if (mCount > 0) percentilesMs(kQ.data(), ms.data(), kQ.size());
  v1::LatencySummary s;
  s.set_count(mCount);
  s.set_p50_ms(ms[0]);
  s.set_p95_ms(ms[1]);
  s.set_p99_ms(ms[2]);
  s.set_max_ms(maxMs());
  return s;
}

}  // namespace partyhub
