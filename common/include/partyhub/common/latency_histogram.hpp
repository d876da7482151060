// Fixed-memory latency histogram: 100 µs buckets up to 2 s, then an overflow
// bucket. Percentiles are exact to a bucket; memory never grows with run time.
#pragma once

#include <array>
#include <cstdint>

#include "partyhub/v1/stats.pb.h"

namespace partyhub {

class LatencyHistogram {
 public:
  static constexpr std::int64_t kBucketUs = 100;
  static constexpr std::size_t kBuckets = 20000;  // 0 .. 2 s

  void record(std::int64_t latencyUs);
  void reset();
  /// Adds another histogram's samples to this one.
  void merge(const LatencyHistogram& other);

  [[nodiscard]] std::uint64_t count() const { return mCount; }
  /// Value (ms) below which a fraction `q` (0..1) of samples lie; 0 when empty.
  [[nodiscard]] double percentileMs(double q) const;
  [[nodiscard]] double maxMs() const { return static_cast<double>(mMaxUs) / 1000.0; }
  [[nodiscard]] v1::LatencySummary summary() const;

 private:
  /// ms[k] = the value below which a fraction qs[k] of samples lie; qs ascending, mCount > 0.
  void percentilesMs(const double* qs, double* ms, std::size_t n) const;

  std::array<std::uint32_t, kBuckets + 1> mBuckets{};
  std::uint64_t mCount = 0;
  std::int64_t mMaxUs = 0;
};

}  // namespace partyhub
