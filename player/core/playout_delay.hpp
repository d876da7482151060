// Adaptive playout delay, in the spirit of WebRTC's jitter estimate: frames
// are presented at (capture + D), where D tracks a high quantile of how long
// frames take to become ready to render (capture -> decoded), plus a margin.
// D rises at once when frames get slower and decays gently (time constant
// `decayUs`) when they get faster, so presentation stays smooth. Bounded by
// [min, max]. While the first third of the window fills, D follows the
// estimate directly (start-up frames are no guide). Pure: every call takes `now`.
#pragma once

#include <cstdint>
#include <vector>

namespace partyhub::player {

struct PlayoutDelayConfig {
  std::int64_t minUs = 0;
  std::int64_t maxUs = 1'000'000;
  std::int64_t marginUs = 2'000;
  double quantile = 0.95;
  std::size_t window = 90;         // recent samples considered (3 s of video)
  std::int64_t decayUs = 1'000'000;
  std::int64_t initialUs = 60'000;  // before any sample
};

class PlayoutDelay {
 public:
  explicit PlayoutDelay(PlayoutDelayConfig config = {});

  /// A frame became ready `readyLatencyUs` after its capture.
  void addSample(std::int64_t readyLatencyUs, std::int64_t nowUs);
  /// A chunk arrived `ageUs` after its capture. Before any frame has been
  /// decoded this is all we know of the path, and a frame cannot be ready
  /// before it arrives: D rises to cover it, so a slow start (encoder and
  /// decoders warming up, every process starting at once) is absorbed
  /// instead of dropping the first frames as late.
  void addArrival(std::int64_t ageUs);
  /// The delay to present frames with now.
  [[nodiscard]] std::int64_t current(std::int64_t nowUs);
  [[nodiscard]] bool hasSamples() const { return mCount > 0 || mSawArrival; }

 private:
  [[nodiscard]] std::int64_t target() const;  // cached: it is asked for on every chunk and pump

  PlayoutDelayConfig mConfig;
  std::vector<std::int64_t> mRing;
  std::size_t mNext = 0;
  std::size_t mCount = 0;
  std::int64_t mCurrentUs;
  std::int64_t mLastUpdateUs = 0;
  bool mSawArrival = false;
  mutable std::int64_t mTargetUs = 0;
  mutable bool mTargetValid = false;
  mutable std::vector<std::int64_t> mScratch;
};

}  // namespace partyhub::player
