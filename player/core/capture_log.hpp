// Which capture time a decoded buffer shows: the player stamps each frame it
// hands the pipeline with a presentation time (PTS) and remembers the pair;
// the probes after the decoder and at the sink look the PTS up. Pure (no
// GStreamer): PTS are plain nanoseconds here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>

namespace partyhub::player {

/// The newest `capacity` (PTS, capture µs) pairs. PTS only grow (the player
/// makes them), and lookups are for frames just decoded or played: a search
/// from the newest end finds them in a step or two, in memory that is warm.
/// (A std::map's tree walk missed the cache at every node: with 30 players
/// on two cores, 1 % of the machine went to finding capture times.)
class CaptureLog {
 public:
  explicit CaptureLog(std::size_t capacity = 512) : mCapacity(capacity) {}

  /// Remembers a frame; a PTS not after the newest is ignored.
  void add(std::uint64_t pts, std::int64_t captureUs) {
    if (!mEntries.empty() && pts <= mEntries.back().first) return;
    mEntries.emplace_back(pts, captureUs);
    if (mEntries.size() > mCapacity) mEntries.pop_front();
  }

  /// The capture time of the frame stamped `pts`; -1 if none is. With
  /// `withinNs` > 0, a PTS inside a frame also matches (decoders of audio
  /// re-stamp and re-cut buffers): that frame's capture plus the offset.
  [[nodiscard]] std::int64_t captureOf(std::uint64_t pts, std::uint64_t withinNs = 0) const {
    for (auto it = mEntries.rbegin(); it != mEntries.rend(); ++it) {
      if (it->first > pts) continue;
      if (it->first == pts) return it->second;
      const std::uint64_t into = pts - it->first;
      if (withinNs == 0 || into > withinNs) return -1;
      return it->second + static_cast<std::int64_t>(into / 1000u);
    }
    return -1;
  }

  [[nodiscard]] std::size_t size() const { return mEntries.size(); }

 private:
  std::size_t mCapacity;
  std::deque<std::pair<std::uint64_t, std::int64_t>> mEntries;
};

}  // namespace partyhub::player
