// An upload budget estimated from one-way delays, for a streamer
// not told its uplink's rate. The budget paces what the node sends; set
// above the real uplink, the excess queues in the link (a modem's buffer)
// where the node cannot see it, and every chunk waits behind it: ten push
// peers on 2.5 Mbit/s uplinks, budgeted the default 20 Mbit/s, lost 4-29
// frames each with an overlay-delay p99 of 670-910 ms.
//
// A queue in the uplink shows as chunks arriving later than their peer's
// quickest: LEDBAT's signal (RFC 6817), the one-way delay (the receiver
// stamps when each chunk's first datagram came, so neither the chunk's size
// nor a repaired fragment is in it; the clocks' offset is in every sample of
// a peer's and cancels against its base, the least of the last few
// minutes). When every sample of a period came `highUs` late (a standing
// queue), or any did (a burst, a keyframe's copies, queued that long in the
// link), the budget falls by `down`. A budget above the link's rate shows
// only in bursts when the stream is lighter than both: the average leaves
// the link's queue empty in between. When the whole period stayed within
// `lowUs` and the budget held the node back (it used most of it, or copies
// waited for it), it grows by `up` (by `slowStartUp` until the first queue),
// never past the ceiling (the configured budget) nor below the floor. An
// estimate from round trips grew past the link with every burst that left
// no standing queue, and fell with the receivers' own uplink queues (their
// acknowledgements wait in them).
// Pure: delay samples, bytes and the time come in; a budget goes out.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "partyhub/common/flat_map.hpp"
#include "message.hpp"

namespace partyhub::streamer::overlay {

struct UploadEstimatorConfig {
  std::uint32_t ceilingKbps = 20'000;
  std::uint32_t floorKbps = 256;
  std::uint32_t startKbps = 2000;  // at most the ceiling; raised quickly while the uplink stays clear (4000 overshot 2.5 Mbit/s links at the start)
  std::int64_t periodUs = 200'000;
  std::int64_t highUs = 60'000;   // a queue: a sample this much later than its peer's base
  std::int64_t lowUs = 20'000;    // no queue: every sample of the period within this of its base
  double down = 0.8;
  double up = 1.05;
  double slowStartUp = 1.3;       // until the first queue: the budget climbs this much a busy, clear period
  double busy = 0.7;              // share of the budget sent in the period for it to grow
  std::size_t minSamples = 3;        // fewer in a period: no verdict
  std::int64_t baseBucketUs = 120'000'000;  // a peer's base is its least over the last 2-4 minutes (a path that got longer for good is no queue)
};

class UploadEstimator {
 public:
  explicit UploadEstimator(const UploadEstimatorConfig& c) : mC(c), mKbps(std::min(c.startKbps, c.ceilingKbps)) {}

  /// A push to `peer` took `delayUs` (one way; any constant offset), known at `nowUs`.
  void onSample(PeerId peer, std::int64_t delayUs, std::int64_t nowUs) {
    auto [it, fresh] = mBase.emplace(peer, Base{delayUs, delayUs, nowUs});
    Base& b = it->second;
    if (!fresh) {
      if (nowUs - b.bucketStartUs >= mC.baseBucketUs) {  // a new bucket: the oldest is forgotten
        b.previous = b.current;
        b.current = delayUs;
        b.bucketStartUs = nowUs;
      }
      b.current = std::min(b.current, delayUs);
    }
    const std::int64_t excess = delayUs - std::min(b.previous, b.current);
    mMostExcessUs = mSamples == 0 ? excess : std::max(mMostExcessUs, excess);
    ++mSamples;
  }

  void onSent(std::size_t bytes) { mSentBytes += bytes; }
  /// Copies waited for the budget (a keyframe's burst): it holds us back.
  void onPaced() { mPaced = true; }

  /// The budget now (once a period, it follows what the period showed).
  std::uint32_t budgetKbps(std::int64_t nowUs) {
    if (mPeriodStartUs < 0) mPeriodStartUs = nowUs;
    const std::int64_t elapsed = nowUs - mPeriodStartUs;
    if (elapsed < mC.periodUs) return mKbps;
    if (mSamples >= mC.minSamples) {
      const double usedKbps = static_cast<double>(mSentBytes) * 8 * 1000 / static_cast<double>(elapsed);
      double kbps = mKbps;
      if (mMostExcessUs >= mC.highUs) {  // a burst's queue, or a standing one
        kbps *= mC.down;
        mQueueSeen = true;
      } else if (mMostExcessUs <= mC.lowUs && (mPaced || usedKbps >= mC.busy * mKbps)) {
        kbps *= mQueueSeen ? mC.up : mC.slowStartUp;
      }
      mKbps = static_cast<std::uint32_t>(std::clamp(kbps, static_cast<double>(mC.floorKbps),
                                                    static_cast<double>(mC.ceilingKbps)));
    }
    mPeriodStartUs = nowUs;
    mSamples = 0;
    mSentBytes = 0;
    mPaced = false;
    return mKbps;
  }

  /// A peer gone: its base goes with it.
  void forget(PeerId peer) { mBase.erase(peer); }

 private:
  UploadEstimatorConfig mC;
  std::uint32_t mKbps;
  struct Base {  // a peer's quickest sample, this bucket and the one before
    std::int64_t current, previous, bucketStartUs;
  };
  partyhub::FlatMap<Base> mBase;
  std::int64_t mPeriodStartUs = -1;
  std::int64_t mMostExcessUs = 0;  // the period's most delayed sample, over its peer's base
  std::size_t mSamples = 0;
  std::size_t mSentBytes = 0;
  bool mQueueSeen = false;  // slow start over
  bool mPaced = false;
};

}  // namespace partyhub::streamer::overlay
