// The "tree" scheduler's child side (tree_scheduler.hpp): which parent it
// chooses in each stripe, when it asks, switches, or gives one up.
#include "tree_scheduler.hpp"

#include <algorithm>
#include <cmath>

namespace partyhub::streamer::overlay::tree {

void TreeScheduler::leave(Stripe& st, std::int64_t nowUs) {
  st.left = st.parent;
  st.leftUs = nowUs;
}

void TreeScheduler::notePathDelay(Stripe& st, std::int64_t delayUs) {
  st.recentUs[st.recentCount++ % st.recentUs.size()] = delayUs;
  const auto n = static_cast<std::ptrdiff_t>(std::min<std::size_t>(st.recentCount, st.recentUs.size()));
  st.pathUs = static_cast<double>(*std::min_element(st.recentUs.begin(), st.recentUs.begin() + n));
}

void TreeScheduler::stopStaleParent(SchedulerHost& host, Stripe& st, std::size_t s, PeerId from, std::int64_t nowUs) {
  if (from == st.left && nowUs - st.leftUs < kLeftGraceUs) return;  // in flight when it heard we left
  if (from == st.staleTold && nowUs - st.staleToldUs < kStaleRepeatUs) return;  // told already: in flight too
  unsubscribe(host, from, s);
  st.staleTold = from;
  st.staleToldUs = nowUs;
  ++mStats.staleParents;
}

void TreeScheduler::orphan(std::size_t s, std::int64_t nowUs) {
  Stripe& st = mStripes[s];
  if (st.parent != 0) {
    ++mStats.orphaned;
    leave(st, nowUs);
  }
  if (st.parent != 0 || st.depth != StripeInfo::kNoPath) {
    st.lostDepth = st.depth;
    st.orphanedUs = nowUs;
  }
  st.parent = 0;
  st.forgetDelays();
  st.nextTryUs = nowUs;
  st.depth = StripeInfo::kNoPath;
}

std::int64_t TreeScheduler::parentTimeoutUs() const {
  return std::max<std::int64_t>(1'000'000, static_cast<std::int64_t>(6 * mChunkUs * static_cast<double>(mStripes.size())));
}

double TreeScheduler::costThrough(const SchedulerHost& host, PeerId peer, std::size_t s, std::uint32_t maxDepth,
                                 std::int64_t nowUs, bool ours) const {
  auto it = mKnown.find(peer);
  if (it == mKnown.end() || nowUs - it->second.atUs > kStateFreshUs) return -1;
  const Known& k = it->second;
  const StripeInfo& info = k.stripes[s];
  if (info.depth >= kMaxDepth || info.depth > maxDepth) return -1;
  for (const Child& c : mStripes[s].children) {
    if (c.id == peer) return -1;  // our child: we are its path
  }
  if (!ours) {
    if (rejectedLately(peer, nowUs)) return -1;
    if (info.freeSlots == 0 && capacityIn(host, s) <= k.minChildSlots) return -1;  // full, and we would displace no one
  }
  const double upload = std::max(1u, k.uploadKbps > 0 ? k.uploadKbps : host.uploadOf(peer));
  const double chunkUs = (mChunkBytes > 0 ? mChunkBytes : 4000) * 8 * 1000 / upload;
  const std::int64_t rtt = host.rttOf(peer);
  const double oneWayUs = rtt > 0 ? static_cast<double>(rtt) / 2 : kUnknownOneWayUs;
  // Our place among its children: after those that serve more (an
  // interior peer goes after the interior ones, a leaf after all).
  std::uint32_t ahead = capacityIn(host, s) > 0 ? info.interior : info.children;
  if (ours && ahead > 0) --ahead;  // we are among them
  return info.delayMs * 1000.0 + (ahead + 1) * chunkUs + oneWayUs;
}

PeerId TreeScheduler::bestParent(const SchedulerHost& host, std::size_t s, std::uint32_t maxDepth, std::int64_t nowUs,
                                double& costUs) const {
  PeerId best = 0;
  costUs = 0;
  for (const auto& [peer, k] : mKnown) {
    if (peer == mStripes[s].parent) continue;
    const double c = costThrough(host, peer, s, maxDepth, nowUs);
    if (c < 0) continue;
    if (best == 0 || c < costUs) {
      best = peer;
      costUs = c;
    }
  }
  return best;
}

void TreeScheduler::tryInstead(SchedulerHost& host, std::size_t s, PeerId peer, std::int64_t nowUs) {
  Stripe& st = mStripes[s];
  if (peer == st.parent) return;
  for (const Child& c : st.children) {
    if (c.id == peer) return;
  }
  if (rejectedLately(peer, nowUs)) return;
  ask(host, st, s, peer, nowUs, costThrough(host, peer, s, kMaxDepth, nowUs));
}

bool TreeScheduler::rejectedLately(PeerId peer, std::int64_t nowUs) const {
  auto rej = mRejected.find(peer);
  if (rej == mRejected.end() || nowUs - rej->second >= kRejectMemoryUs) return false;
  auto k = mKnown.find(peer);
  return k == mKnown.end() || k->second.atUs <= rej->second;
}

void TreeScheduler::ask(SchedulerHost& host, Stripe& st, std::size_t s, PeerId parent, std::int64_t nowUs, double costUs) {
  Message m;
  m.type = MsgType::kSubscribe;
  m.seqs = {s};
  m.slots = static_cast<std::uint32_t>(capacityIn(host, s));
  m.fromSeq = st.anyHeld ? st.newestHeld + 1 : 0;
  host.sendControl(parent, std::move(m));
  st.pending = parent;
  st.pendingUs = nowUs;
  st.pendingCostUs = costUs;
}

std::size_t TreeScheduler::homelessStripe(std::int64_t nowUs) const {
  for (std::size_t s = 0; s < mStripes.size(); ++s) {
    if (s == mHome) continue;
    bool served = false;
    bool waiting = mStripes[s].parent == 0;  // someone with no path in it: we, or a neighbour
    for (const auto& [peer, k] : mKnown) {
      if (nowUs - k.atUs > kStateFreshUs || s >= k.stripes.size()) continue;
      const StripeInfo& info = k.stripes[s];
      // A peer that dropped or failed us since its last state (a parent
      // that went silent: killed, its state fresh for seconds yet) serves
      // no one we know of.
      served = served || (info.depth != 0 && info.children + info.freeSlots > 0 && !rejectedLately(peer, nowUs));
      waiting = waiting || info.depth == StripeInfo::kNoPath;
    }
    if (!served && waiting) return s;
  }
  return mStripes.size();
}

void TreeScheduler::checkHomes(SchedulerHost& host, std::int64_t nowUs) {
  const std::size_t s = homelessStripe(nowUs);
  if (s == mStripes.size() || capacity(host) == 0) {
    mHomeCheckUs = -1;
    return;
  }
  if (mHomeCheckUs < 0) {
    // At a random delay: of the peers that see the stripe unserved, one
    // moves first, and the others hear of it in its state before their turn.
    mHomeCheckUs = nowUs + kHomelessUs + static_cast<std::int64_t>(host.rng()() % kHomelessUs);
    return;
  }
  if (nowUs < mHomeCheckUs) return;
  mHomeCheckUs = -1;
  if (mHomeMovedUs >= 0 && nowUs - mHomeMovedUs < kHomeHoldUs) return;
  Stripe& home = mStripes[mHome];
  PeerId other = 0;  // another peer serving our home, for our children there to go to
  bool waiting = home.parent == 0;  // someone with no path in our home, who would need it served
  for (const auto& [peer, k] : mKnown) {
    if (nowUs - k.atUs > kStateFreshUs || mHome >= k.stripes.size()) continue;
    const StripeInfo& info = k.stripes[mHome];
    waiting = waiting || info.depth == StripeInfo::kNoPath;
    const bool child = std::any_of(home.children.begin(), home.children.end(), [&](const Child& c) { return c.id == peer; });
    if (!child && info.depth != 0 && info.depth != StripeInfo::kNoPath && info.children + info.freeSlots > 0 &&
        (other == 0 || info.freeSlots > 0)) {
      other = peer;
    }
  }
  // Our home must stay served, by us if no one else serves it, if anyone
  // needs it (a child of ours, or a peer without a path there).
  if (other == 0 && (!home.children.empty() || waiting)) return;
  moveHome(host, s, other, nowUs);
}

void TreeScheduler::takeShortStripe(SchedulerHost& host, std::size_t s, std::int64_t nowUs) {
  Stripe& st = mStripes[s];
  st.shortAtUs = -1;  // asked again after another while without a parent
  if (s == mHome || !mStripes[mHome].children.empty() || capacity(host) < 2) return;
  if (mHomeMovedUs >= 0 && nowUs - mHomeMovedUs < kHomeHoldUs) return;
  for (const auto& [peer, k] : mKnown) {  // a neighbour without a path in our home may need our slots there
    if (nowUs - k.atUs <= kStateFreshUs && mHome < k.stripes.size() && k.stripes[mHome].depth == StripeInfo::kNoPath) return;
  }
  moveHome(host, s, 0, nowUs);
}

void TreeScheduler::moveHome(SchedulerHost& host, std::size_t s, PeerId other, std::int64_t nowUs) {
  Stripe& home = mStripes[mHome];
  for (const Child& c : home.children) unsubscribe(host, c.id, mHome, other);
  home.children.clear();
  mHome = s;
  mHomeMovedUs = nowUs;
  ++mStats.homeMoves;
  mStateDirty = true;
  // The parents there refused us as a leaf; serving the stripe, we may take
  // the place of one of their leaves.
  for (const auto& [peer, k] : mKnown) {
    if (s < k.stripes.size() && k.stripes[s].depth != StripeInfo::kNoPath) mRejected.erase(peer);
  }
  mStripes[s].nextTryUs = nowUs;
}

void TreeScheduler::maintain(SchedulerHost& host, std::size_t s, std::int64_t nowUs) {
  Stripe& st = mStripes[s];
  if (st.parent != 0 && nowUs - st.lastFromParentUs > parentTimeoutUs()) {
    unsubscribe(host, st.parent, s);
    mRejected[st.parent] = nowUs;
    orphan(s, nowUs);
  }
  // A quiet parent: asked again, once per silence (it admits us anew and
  // backfills, or says we are no longer its child).
  if (st.parent != 0 && st.pending == 0 && st.lastFromParentUs > st.reaskedForUs &&
      static_cast<double>(nowUs - st.lastFromParentUs) > kQuietStripePeriods * mChunkUs * static_cast<double>(mStripes.size())) {
    st.reaskedForUs = st.lastFromParentUs;
    ++mStats.reasked;
    ask(host, st, s, st.parent, nowUs);
  }
  if (st.pending != 0) {
    if (nowUs - st.pendingUs < kPendingUs) return;
    mRejected[st.pending] = nowUs;  // no answer: as good as a refusal
    st.pending = 0;
  }
  double cost = 0;
  if (st.parent == 0) {
    if (nowUs < st.nextTryUs) return;
    st.nextTryUs = nowUs + kRetryUs;
    // No deeper than we were, at first: our descendants are all deeper
    // (if that finds no one for a while, any: a loop that forms anyway
    // starves, and its members give their parents up). Without children
    // we have no descendants, and any depth will do: in the flash crowd
    // a second's wait for a parent no deeper left a hundred stripes
    // without one for 1-2 s (N = 2000, seconds 2-5).
    const bool fresh = nowUs - st.orphanedUs < kOrphanCeilingUs && !st.children.empty();
    const PeerId p = bestParent(host, s, fresh ? st.lostDepth : kMaxDepth, nowUs, cost);
    if (p != 0) {
      ask(host, st, s, p, nowUs, cost);
      st.shortAtUs = -1;
    } else if (st.shortAtUs < 0) {
      // At a random delay: of the peers the stripe is short for, one takes
      // it first, and the others hear of its room before their turn.
      st.shortAtUs = nowUs + kShortStripeUs + static_cast<std::int64_t>(host.rng()() % kShortStripeUs);
    } else if (nowUs >= st.shortAtUs) {
      takeShortStripe(host, s, nowUs);
    }
    return;
  }
  st.shortAtUs = -1;
  if (nowUs < st.nextImproveUs || !st.mayLookForBetter()) return;
  st.nextImproveUs = nowUs + kImprovePeriodUs;
  // A better parent: no deeper than we are (our descendants all are), and
  // better by the same estimate as our parent's (the estimate's errors are
  // alike for both; against our measured delay they made peers switch on
  // and on). By a small margin: with close neighbours a better parent
  // is often 10-30 ms closer, and a 40 ms margin kept the trees from
  // taking it (N = 2000, 60 s, seeds 1-4: settled p99 347 -> 323 ms at
  // 10 ms). 5 ms, once takeBetter() acted on states as they came and a
  // new parent was kept 250 ms: seeds 1-8, window p99 352.1 -> 346.9 ms,
  // settled 334.6 -> 329.3.
  const PeerId p = bestParent(host, s, st.depth, nowUs, cost);
  if (p != 0 && cost < currentCost(host, s, nowUs) - kImproveMarginUs) {
    ask(host, st, s, p, nowUs, cost);
  }
}

double TreeScheduler::currentCost(const SchedulerHost& host, std::size_t s, std::int64_t nowUs) const {
  const Stripe& st = mStripes[s];
  const double viaParent = costThrough(host, st.parent, s, kMaxDepth, nowUs, true);
  return viaParent < 0 ? st.pathUs : std::min(st.pathUs, viaParent);
}

void TreeScheduler::takeBetter(SchedulerHost& host, PeerId peer, std::int64_t nowUs) {
  for (std::size_t s = 0; s < mStripes.size(); ++s) {
    Stripe& st = mStripes[s];
    if (!st.mayLookForBetter() || st.parent == peer || nowUs - st.adoptedUs < kSettleUs) continue;
    const double cost = costThrough(host, peer, s, st.depth, nowUs);
    if (cost >= 0 && cost < currentCost(host, s, nowUs) - kImproveMarginUs) ask(host, st, s, peer, nowUs, cost);
  }
}

}  // namespace partyhub::streamer::overlay::tree
