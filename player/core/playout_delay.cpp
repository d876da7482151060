#include "playout_delay.hpp"

#include <algorithm>
#include <cmath>

namespace partyhub::player {

PlayoutDelay::PlayoutDelay(PlayoutDelayConfig config)
    : mConfig(config), mRing(std::max<std::size_t>(1, config.window), 0),
      mCurrentUs(std::clamp(config.initialUs, config.minUs, config.maxUs)) {}

void PlayoutDelay::addSample(std::int64_t readyLatencyUs, std::int64_t nowUs) {
  mRing[mNext] = readyLatencyUs;
  mNext = (mNext + 1) % mRing.size();
  mCount = std::min(mCount + 1, mRing.size());
  mTargetValid = false;
  (void)current(nowUs);
}

void PlayoutDelay::addArrival(std::int64_t ageUs) {
  if (mCount != 0) return;
  mSawArrival = true;
  mCurrentUs = std::clamp(std::max(mCurrentUs, ageUs + mConfig.marginUs), mConfig.minUs, mConfig.maxUs);
}

std::int64_t PlayoutDelay::target() const {
  if (mTargetValid) return mTargetUs;
  mScratch.assign(mRing.begin(), mRing.begin() + static_cast<std::ptrdiff_t>(mCount));
  const auto k = static_cast<std::size_t>(std::ceil(mConfig.quantile * static_cast<double>(mCount))) - 1;
  std::nth_element(mScratch.begin(), mScratch.begin() + static_cast<std::ptrdiff_t>(k), mScratch.end());
  mTargetUs = std::clamp(mScratch[k] + mConfig.marginUs, mConfig.minUs, mConfig.maxUs);
  mTargetValid = true;
  return mTargetUs;
}

std::int64_t PlayoutDelay::current(std::int64_t nowUs) {
  if (mCount == 0) return mCurrentUs;
  const std::int64_t want = target();
  // While the window is still filling, follow the estimate directly: the
  // first frames of a stream (decoder start-up) are no guide to the path.
  if (want >= mCurrentUs || mLastUpdateUs == 0 || mCount < mRing.size() / 3) {
    mCurrentUs = want;
  } else {
    const double dt = static_cast<double>(std::max<std::int64_t>(0, nowUs - mLastUpdateUs));
    const double keep = std::exp(-dt / static_cast<double>(std::max<std::int64_t>(1, mConfig.decayUs)));
    mCurrentUs = want + static_cast<std::int64_t>(static_cast<double>(mCurrentUs - want) * keep);
  }
  mLastUpdateUs = nowUs;
  return mCurrentUs;
}

}  // namespace partyhub::player
