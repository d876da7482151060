// A sliding bitmap of chunk sequence numbers: "which of the last W seqs does
// this peer hold". O(1) mark and test, fixed memory, no pruning: marking a
// seq past the window slides it forward and forgets what falls out.
#pragma once

#include <array>
#include <cstdint>

namespace partyhub::streamer::overlay {

class SeqWindow {
 public:
  static constexpr std::uint64_t kBits = 1024;

  void mark(std::uint64_t seq) {
    if (!mAny) {
      mAny = true;
      mTop = seq;
    }
    if (seq + kBits <= mTop) return;  // too old to matter
    if (seq > mTop) {
      // Slide: clear the slots between the old top and the new one.
      const std::uint64_t gap = seq - mTop;
      if (gap >= kBits) {
        mBits.fill(0);
      } else {
        for (std::uint64_t s = mTop + 1; s <= seq; ++s) clear(s);
      }
      mTop = seq;
    }
    mBits[(seq % kBits) / 64] |= 1ull << (seq % 64);
  }

  /// Forgets one seq (a push that was never acknowledged).
  void unmark(std::uint64_t seq) {
    if (has(seq)) clear(seq);
  }

  /// The newest seq marked (0 before any).
  [[nodiscard]] std::uint64_t top() const { return mTop; }

  [[nodiscard]] bool has(std::uint64_t seq) const {
    if (!mAny || seq > mTop || seq + kBits <= mTop) return false;
    return (mBits[(seq % kBits) / 64] >> (seq % 64)) & 1u;
  }

 private:
  void clear(std::uint64_t seq) { mBits[(seq % kBits) / 64] &= ~(1ull << (seq % 64)); }

  std::array<std::uint64_t, kBits / 64> mBits{};
  std::uint64_t mTop = 0;
  bool mAny = false;
};

}  // namespace partyhub::streamer::overlay
