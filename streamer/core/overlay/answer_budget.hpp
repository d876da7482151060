// The share of a node's upload that its answers to others (gossip replies,
// pongs) may take: a token bucket that fills at that share of the upload, up
// to half a second's worth. Beyond it answers are dropped (and counted): at
// N = 5000 every joiner bootstrapped through the source, whose uplink then
// carried answers and not one chunk. The asker tries again. Pure.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace partyhub::streamer::overlay {

class AnswerBudget {
 public:
  static constexpr std::int64_t kBurstUs = 500'000;  // the bucket holds this long of its share

  /// Whether an answer of `bytes` fits now; if so, it is taken from the budget.
  bool take(std::size_t bytes, double share, std::uint32_t uploadKbps, std::int64_t nowUs) {
    const double ratePerUs = share * static_cast<double>(uploadKbps) / 8000.0;  // bytes/µs
    const double burst = ratePerUs * static_cast<double>(kBurstUs);
    mTokens = mAtUs < 0 ? burst : std::min(burst, mTokens + ratePerUs * static_cast<double>(nowUs - mAtUs));
    mAtUs = nowUs;
    const auto need = static_cast<double>(bytes);
    if (need > mTokens) return false;
    mTokens -= need;
    return true;
  }

 private:
  double mTokens = 0;       // bytes
  std::int64_t mAtUs = -1;  // -1: full (nothing answered yet)
};

}  // namespace partyhub::streamer::overlay
