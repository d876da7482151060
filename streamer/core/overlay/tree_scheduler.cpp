// The "tree" scheduler (tree_scheduler.hpp): its events, and the state it
// tells its neighbours.
#include "tree_scheduler.hpp"

#include <algorithm>

namespace partyhub::streamer::overlay::tree {

void TreeScheduler::onNewChunk(SchedulerHost& host, std::uint64_t seq, PeerId from, bool asked, std::int64_t nowUs) {
  const std::size_t s = seq % mStripes.size();
  Stripe& st = mStripes[s];
  noteChunk(host, seq);
  if (!st.anyHeld || seq > st.newestHeld) st.newestHeld = seq;
  st.anyHeld = true;
  if (!host.isSource() && from != 0 && !asked && from != st.parent && from != st.pending) {
    stopStaleParent(host, st, s, from, nowUs);
  }
  if (!host.isSource() && from != 0 && from == st.parent && (st.lastSeqFrom != from || seq > st.lastSeq)) {
    // A new chunk of the stripe, pushed (what we asked for is older).
    st.lastFromParentUs = nowUs;
    const std::int64_t delayUs = nowUs - host.injectedOf(seq);
    const auto delay = static_cast<double>(delayUs);
    st.delayUs = st.delayUs < 0 ? delay : 0.75 * st.delayUs + 0.25 * delay;
    notePathDelay(st, delayUs);
    // A path again (or a new one): neighbours hear of it soon, not at the
    // next periodic state (the trees grow a level per state they wait for).
    if (st.depth == StripeInfo::kNoPath) mStateDirty = true;
    st.depth = host.hopsOf(seq);
    // A gap in the stripe from this parent: ask it for what it skipped
    // (it pushes as chunks come; a chunk lost on the way shows as a hole).
    if (st.lastSeqFrom == from && seq > st.lastSeq + mStripes.size() &&
        seq - st.lastSeq <= 8 * mStripes.size()) {
      std::vector<std::uint64_t> missing;
      for (std::uint64_t q = st.lastSeq + mStripes.size(); q < seq; q += mStripes.size()) {
        if (!host.holds(q)) missing.push_back(q);
      }
      if (!missing.empty()) host.request(from, missing);
    }
    st.lastSeq = seq;
    st.lastSeqFrom = from;
  }
  // Children are kept best-provisioned first: their subtrees are the largest.
  for (const Child& c : st.children) host.enqueueChunk(c.id, seq, SendClass::kSubscribed);
}

void TreeScheduler::onTick(SchedulerHost& host, std::int64_t nowUs) {
  mLastTickUs = nowUs;
  mIsSource = host.isSource();
  if (mNextStateUs == 0) {  // our first tick: tell our neighbours at once, then at a phase of our own
    mNextStateUs = nowUs;
    mHome = host.rng()() % mStripes.size();
  }
  dropSilentChildren(host, nowUs);
  shedExcessChildren(host);
  if (!host.isSource()) {
    for (std::size_t s = 0; s < mStripes.size(); ++s) maintain(host, s, nowUs);
    if (host.smallOverlay()) checkHomes(host, nowUs);
  }
  if (nowUs >= mNextStateUs || (mStateDirty && nowUs - mLastStateUs >= kTriggeredStateUs)) {
    mNextStateUs = nowUs + (mLastStateUs == 0 ? static_cast<std::int64_t>(host.rng()() % mC.statePeriodUs) + 1
                                              : mC.statePeriodUs);
    mLastStateUs = nowUs;
    mStateDirty = false;
    broadcastState(host, nowUs);
  }
}

void TreeScheduler::onMessage(SchedulerHost& host, PeerId from, const Message& m, std::int64_t nowUs) {
  switch (m.type) {
    case MsgType::kTreeState: {
      if (m.stripes.size() != mStripes.size()) break;  // another stripe count: not a tree of ours
      auto [it, firstContact] = mKnown.try_emplace(from);
      Known& k = it->second;
      k.stripes = m.stripes;
      k.minChildSlots = m.minChildSlots;
      k.uploadKbps = m.uploadKbps;
      k.atUs = nowUs;
      // An exchange, at first contact or while we look for a parent: a
      // joiner learns its neighbourhood's trees in one round trip, not over
      // a state period. Not the source: every joiner contacts it, and at
      // N = 5000 its answers filled its uplink (no chunk left it).
      if (host.isSource()) break;
      takeBetter(host, from, nowUs);
      const bool looking = std::any_of(mStripes.begin(), mStripes.end(), [](const Stripe& st) { return st.parent == 0; });
      auto told = mTold.find(from);
      if ((firstContact || looking) && (told == mTold.end() || nowUs - told->second >= mC.statePeriodUs)) {
        mTold[from] = nowUs;
        host.sendControl(from, state(host));
      }
      break;
    }
    case MsgType::kSubscribe:
      for (std::uint64_t s : m.seqs) {
        if (s < mStripes.size()) admit(host, from, static_cast<std::size_t>(s), {from, m.uploadKbps, m.slots}, m.fromSeq, nowUs);
      }
      break;
    case MsgType::kAdmit:
      for (std::uint64_t s : m.seqs) {
        if (s >= mStripes.size()) continue;
        Stripe& st = mStripes[s];
        if (st.pending != from) {  // we no longer want it
          if (st.parent != from) unsubscribe(host, from, s);
          continue;
        }
        st.pending = 0;
        if (st.parent == from) {  // asked again: still ours (what we missed comes as backfill)
          // A parent that holds nothing of the stripe yet has nothing to
          // send: its silence is the stream's (not started, or not reached
          // it), not a sign it is gone. (Streamers started a second before
          // their source gave their parents up just as the first chunks
          // came, and lost them.)
          if (m.fromSeq == 0) st.lastFromParentUs = nowUs;
          continue;
        }
        if (st.parent != 0) {
          unsubscribe(host, st.parent, s);
          leave(st, nowUs);
        }
        st.parent = from;
        ++mStats.parentChanges;
        st.lastFromParentUs = nowUs;  // its first chunk has a stripe period to come
        st.forgetDelays();
        // A path now, by the parent's last state (its chunks correct it):
        // neighbours may subscribe to us before our first chunk comes,
        // and the trees grow a level per round trip, not per chunk. After
        // a switch too: without an estimate our state said a delay of 0
        // until the new parent's first chunk came, and neighbours flocked
        // to us for it (N = 2000, 20 s, seeds 1-8: window p99 565 -> 506
        // ms once the estimate was told).
        {
          auto k = mKnown.find(from);
          if (k != mKnown.end() && k->second.stripes[s].depth < kMaxDepth && st.pendingCostUs > 0) {
            if (st.depth == StripeInfo::kNoPath) mStateDirty = true;
            st.depth = k->second.stripes[s].depth + 1;
            st.delayUs = st.pendingCostUs;
            st.pathUs = st.pendingCostUs;
          }
        }
        st.nextImproveUs = nowUs + kSettleUs + static_cast<std::int64_t>(host.rng()() % kImprovePeriodUs);
        st.adoptedUs = nowUs;
      }
      break;
    case MsgType::kUnsubscribe:
      for (std::uint64_t s : m.seqs) {
        if (s >= mStripes.size()) continue;
        Stripe& st = mStripes[s];
        const PeerId instead = m.peers.empty() ? 0 : m.peers.front().id;
        if (st.pending == from && st.parent == from) {  // asked again, and no longer ours: dropped
          st.pending = 0;
          orphan(s, nowUs);
          mRejected[from] = nowUs;
          if (instead != 0) tryInstead(host, s, instead, nowUs);
        } else if (st.pending == from) {  // refused
          st.pending = 0;
          mRejected[from] = nowUs;
          st.nextTryUs = nowUs;
          if (instead != 0 && st.parent == 0) tryInstead(host, s, instead, nowUs);
        } else if (st.parent == from) {  // dropped: a richer peer took our place, or it left the tree
          orphan(s, nowUs);
          mRejected[from] = nowUs;
          if (instead != 0) tryInstead(host, s, instead, nowUs);
        } else {
          removeChild(st, from);
        }
      }
      break;
    default: break;
  }
}

std::int64_t TreeScheduler::pullAtUs(std::uint64_t seq, std::int64_t firstHeardUs, std::int64_t pullAfterUs) const {
  const Stripe& st = mStripes[seq % mStripes.size()];
  if (st.parent == 0 || st.delayUs < 0 || !mRateKnown) return firstHeardUs + pullAfterUs;
  const double injected = static_cast<double>(mRateInjectedUs) +
                          (static_cast<double>(seq) - static_cast<double>(mRateSeq)) * mChunkUs;
  // Never later than without a parent: behind a slow parent (a long path,
  // while the trees form), a neighbour's copy is the way to get it in time.
  return std::min(firstHeardUs + pullAfterUs,
                  std::max(firstHeardUs, static_cast<std::int64_t>(injected + st.delayUs) + kPullSlackUs));
}

SchedulerStats TreeScheduler::stats() const {
  SchedulerStats st = mStats;
  if (!mIsSource) {
    st.parentless = static_cast<std::uint64_t>(
        std::count_if(mStripes.begin(), mStripes.end(), [](const Stripe& s) { return s.parent == 0; }));
  }
  return st;
}

void TreeScheduler::onPeerGone(SchedulerHost&, PeerId peer) {
  mKnown.erase(peer);
  for (std::size_t s = 0; s < mStripes.size(); ++s) {
    Stripe& st = mStripes[s];
    if (st.pending == peer) st.pending = 0;
    if (st.parent == peer) orphan(s, mLastTickUs);
    removeChild(st, peer);
  }
}

void TreeScheduler::partners(std::vector<PeerId>& out) const {
  for (const Stripe& st : mStripes) {
    if (st.parent != 0) out.push_back(st.parent);
    for (const Child& c : st.children) out.push_back(c.id);
  }
}

void TreeScheduler::noteChunk(SchedulerHost& host, std::uint64_t seq) {
  const std::size_t bytes = host.bytesOf(seq);
  mChunkBytes = mChunkBytes <= 0 ? static_cast<double>(bytes) : 0.95 * mChunkBytes + 0.05 * static_cast<double>(bytes);
  const std::int64_t injected = host.injectedOf(seq);
  if (!mRateFrom || seq < mRateSeq) {
    mRateFrom = true;
    mRateSeq = seq;
    mRateInjectedUs = injected;
    return;
  }
  const std::int64_t spanUs = injected - mRateInjectedUs;
  if (seq == mRateSeq || spanUs < 200'000) return;
  const double chunksPerS = static_cast<double>(seq - mRateSeq) * 1e6 / static_cast<double>(spanUs);
  const std::size_t guessed = mRateKnown ? 0 : capacityIn(host, mHome);  // (only the first measure needs it)
  mStreamKbps = static_cast<std::uint32_t>(mChunkBytes * 8 * chunksPerS / 1000);
  mChunkUs = 1e6 / chunksPerS;
  // Our slots were a guess until now (one per stripe): if the guess was
  // full and the rate leaves room, a small overlay's peers hear of it at
  // once, not at the next state (whoever the guess had turned away went
  // without a parent for half a second; a large overlay has room
  // elsewhere, and at N = 2000 the extra states changed nothing but the
  // seeds' draw: p99 within their spread).
  const std::size_t children = mStripes[mHome].children.size();
  if (!mRateKnown && guessed <= children && capacityIn(host, mHome) > children && host.smallOverlay()) {
    mStateDirty = true;
  }
  mRateKnown = true;
  if (spanUs > 5'000'000) {  // follow changes: measure over the last few seconds
    mRateSeq = seq;
    mRateInjectedUs = injected;
  }
}

Message TreeScheduler::state(const SchedulerHost& host) const {
  Message m;
  m.type = MsgType::kTreeState;
  m.stripes.reserve(mStripes.size());
  bool anyChild = false;
  for (std::size_t s = 0; s < mStripes.size(); ++s) {
    const Stripe& st = mStripes[s];
    StripeInfo info;
    info.depth = host.isSource() ? 0 : st.depth;
    info.delayMs = host.isSource() ? 0 : static_cast<std::uint32_t>(std::max(0.0, st.pathUs) / 1000);
    info.children = static_cast<std::uint32_t>(st.children.size());
    const std::size_t cap = capacityIn(host, s);
    info.freeSlots = static_cast<std::uint32_t>(cap > st.children.size() ? cap - st.children.size() : 0);
    info.interior = static_cast<std::uint32_t>(
        std::count_if(st.children.begin(), st.children.end(), [](const Child& c) { return c.slots > 0; }));
    m.stripes.push_back(info);
    for (const Child& c : st.children) {
      if (!anyChild || c.slots < m.minChildSlots) m.minChildSlots = c.slots;
      anyChild = true;
    }
  }
  m.streamKbps = mStreamKbps;
  return m;
}

void TreeScheduler::broadcastState(SchedulerHost& host, std::int64_t nowUs) {
  const Message m = state(host);
  mTargets.clear();
  for (PeerId n : host.neighbours()) mTargets.push_back(n);
  partners(mTargets);
  std::sort(mTargets.begin(), mTargets.end());
  mTargets.erase(std::unique(mTargets.begin(), mTargets.end()), mTargets.end());
  for (PeerId n : mTargets) {
    host.sendControl(n, m);
    mTold[n] = nowUs;
  }
  // Forget what is no longer fresh (peers gone, or that stopped telling).
  for (auto it = mKnown.begin(); it != mKnown.end();) {
    it = nowUs - it->second.atUs > kStateFreshUs ? mKnown.erase(it) : std::next(it);
  }
  for (auto it = mRejected.begin(); it != mRejected.end();) {
    it = nowUs - it->second > kRejectMemoryUs ? mRejected.erase(it) : std::next(it);
  }
  for (auto it = mTold.begin(); it != mTold.end();) {
    it = nowUs - it->second > 2 * mC.statePeriodUs ? mTold.erase(it) : std::next(it);
  }
}

}  // namespace partyhub::streamer::overlay::tree

namespace partyhub::streamer::overlay {

std::unique_ptr<Scheduler> makeTreeScheduler(const TreeConfig& config) { return std::make_unique<tree::TreeScheduler>(config); }

}  // namespace partyhub::streamer::overlay
