// When to force a keyframe: every `interval` (default 2 s) and at once on
// request, but never more often than `minGap`, so a burst of requests from
// many players (all seeing the same loss) costs one keyframe, not dozens.
#pragma once

#include <cstdint>

namespace partyhub::source {

class KeyframePolicy {
 public:
  KeyframePolicy(std::int64_t intervalUs, std::int64_t minGapUs)
      : mIntervalUs(intervalUs), mMinGapUs(minGapUs) {}

  /// A keyframe was produced at `nowUs` (forced or by the encoder's own GOP).
  void onKeyframe(std::int64_t nowUs) {
    mLastKeyUs = nowUs;
    mRequested = false;
  }
  /// Someone asked for a keyframe.
  void request() { mRequested = true; }

  /// Whether to force one now.
  [[nodiscard]] bool shouldForce(std::int64_t nowUs) const {
    if (mLastKeyUs < 0) return true;
    const std::int64_t since = nowUs - mLastKeyUs;
    if (mRequested) return since >= mMinGapUs;
    return mIntervalUs > 0 && since >= mIntervalUs;
  }
  [[nodiscard]] bool pendingRequest() const { return mRequested; }

 private:
  std::int64_t mIntervalUs;
  std::int64_t mMinGapUs;
  std::int64_t mLastKeyUs = -1;
  bool mRequested = false;
};

}  // namespace partyhub::source
