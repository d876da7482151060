#include <doctest/doctest.h>

#include "core/keyframe_policy.hpp"

using partyhub::source::KeyframePolicy;

TEST_CASE("requests are honoured at once but never more often than the minimum gap") {
  KeyframePolicy p(/*interval*/ 0, /*minGap*/ 250'000);
  p.onKeyframe(0);
  CHECK_FALSE(p.shouldForce(100'000));  // nothing asked
  p.request();
  CHECK_FALSE(p.shouldForce(100'000));  // too soon after the last keyframe
  CHECK(p.shouldForce(250'000));
  p.onKeyframe(250'000);
  CHECK_FALSE(p.pendingRequest());
  CHECK_FALSE(p.shouldForce(400'000));
}

TEST_CASE("periodic keyframes when an interval is set") {
  KeyframePolicy p(2'000'000, 250'000);
  CHECK(p.shouldForce(0));  // nothing produced yet: start with one
  p.onKeyframe(0);
  CHECK_FALSE(p.shouldForce(1'999'999));
  CHECK(p.shouldForce(2'000'000));
}
