// The "tree" scheduler: push along one tree per stripe (chunk seq mod K), as
// multiple-tree systems (SplitStream, CoolStreaming's substreams) do, built
// and kept by the peers themselves. For large overlays (a webinar): a small
// one known whole is better served by the push scheduler's delegation.
//
// - Every peer subscribes, in each stripe, to one neighbour as its parent;
//   the parent pushes it every chunk of that stripe the moment the chunk
//   arrives, in order. No buffer map or offer per chunk, and no duplicates:
//   each chunk reaches each peer once, over one path.
// - A peer is interior in one stripe only, its home, where it takes as many
//   children as `utilisation` of its upload carries (about 7 at twice the
//   stream rate); elsewhere it is a leaf. A hop's latency weighs more than a
//   chunk's upload time here, so wide trees beat deep ones (SplitStream's
//   design). Children that pass the stripe on go first, leaves after.
// - A peer chooses the parent through which the stripe would come soonest:
//   the candidate's delay in the stripe, its uplink's time for the copies it
//   sends before ours, half the round trip. Neighbours tell each other their
//   place in every tree (kTreeState) twice a second, at first contact, and
//   when a path appears. A better parent (by the same estimate) replaces
//   ours only once it has admitted us, and only if no deeper than we are
//   (our descendants all are), so no loop forms.
// - A full parent takes a subscriber that serves more (or is far better
//   provisioned) in place of its least-serving child, so the peers that pass
//   chunks on climb towards the source and poor ones become leaves (seed
//   paper §V-B); whoever it refuses or drops, it sends to a child of its
//   with room. The source takes k per stripe: its k copies of each chunk.
// - The subscription says which seq the child has up to; the new parent
//   sends it what followed, so a switch leaves no hole.
// - A parent quiet for a few stripe periods is asked again (a lost
//   UNSUBSCRIBE left the child waiting on a parent that had dropped it);
//   its answer, or a second of silence, settles it. A child that stops
//   acknowledging is dropped. A hole in the stripe's sequence is asked of
//   the parent at once; a chunk later than our usual delay is pulled.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "scheduler.hpp"

namespace partyhub::streamer::overlay {

namespace {

constexpr std::int64_t kUnknownOneWayUs = 50'000;
constexpr std::int64_t kRejectMemoryUs = 2'000'000;    // a peer that refused us is not asked again for this long
constexpr std::int64_t kStateFreshUs = 3'000'000;      // a tree state older than this is not used
constexpr std::int64_t kImprovePeriodUs = 1'000'000;   // how often a peer looks for a better parent
constexpr std::int64_t kImproveMarginUs = 40'000;      // ... one at least this much better
constexpr std::int64_t kSettleUs = 500'000;          // a new parent is kept at least this long
constexpr std::int64_t kRetryUs = 50'000;              // an orphaned stripe looks for a parent this often
constexpr std::int64_t kPendingUs = 500'000;           // a subscription unanswered this long was lost
constexpr std::uint32_t kMaxDepth = 64;
constexpr std::uint64_t kBackfillStripePeriods = 6;    // a new child gets at most this many of the stripe's chunks it missed
constexpr std::int64_t kOrphanCeilingUs = 1'000'000;   // an orphan takes only parents no deeper than it was, this long
constexpr std::int64_t kTriggeredStateUs = 100'000;    // a changed state goes out at most this often
constexpr std::int64_t kPullSlackUs = 150'000;         // how late a chunk from our parent may be before we pull it
constexpr double kDisplaceFactor = 1.25;               // how much richer a subscriber must be to displace a child
constexpr double kQuietStripePeriods = 3;              // a parent this quiet is asked again (its word may have been lost)

class TreeScheduler final : public Scheduler {
 public:
  explicit TreeScheduler(const TreeConfig& c) : mC(c), mStripes(std::max(1u, c.stripes)) {}

  const char* name() const override { return "tree"; }

  void onNewChunk(SchedulerHost& host, std::uint64_t seq, PeerId from, std::int64_t nowUs) override {
    const std::size_t s = seq % mStripes.size();
    Stripe& st = mStripes[s];
    noteChunk(host, seq);
    if (!st.anyHeld || seq > st.newestHeld) st.newestHeld = seq;
    st.anyHeld = true;
    if (!host.isSource() && from != 0 && from == st.parent && (st.lastSeqFrom != from || seq > st.lastSeq)) {
      // A new chunk of the stripe, pushed (what we asked for is older).
      st.lastFromParentUs = nowUs;
      const double delayUs = static_cast<double>(nowUs - host.injectedOf(seq));
      st.delayUs = st.delayUs < 0 ? delayUs : 0.75 * st.delayUs + 0.25 * delayUs;
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

  void onTick(SchedulerHost& host, std::int64_t nowUs) override {
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
    }
    if (nowUs >= mNextStateUs || (mStateDirty && nowUs - mLastStateUs >= kTriggeredStateUs)) {
      mNextStateUs = nowUs + (mLastStateUs == 0 ? static_cast<std::int64_t>(host.rng()() % mC.statePeriodUs) + 1
                                                : mC.statePeriodUs);
      mLastStateUs = nowUs;
      mStateDirty = false;
      broadcastState(host, nowUs);
    }
  }

  std::optional<std::pair<PeerId, std::uint64_t>> nextSend(SchedulerHost&, std::int64_t) override {
    return std::nullopt;  // pushes wait on the upload queue, queued as chunks come
  }

  void onMessage(SchedulerHost& host, PeerId from, const Message& m, std::int64_t nowUs) override {
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
          if (st.parent == from) continue;  // asked again: still ours (what we missed comes as backfill)
          if (st.parent != 0) unsubscribe(host, st.parent, s);
          st.parent = from;
          ++mStats.parentChanges;
          st.lastFromParentUs = nowUs;  // its first chunk has a stripe period to come
          st.delayUs = -1;
          // A path now, by the parent's last state (its chunks correct it):
          // neighbours may subscribe to us before our first chunk comes,
          // and the trees grow a level per round trip, not per chunk.
          if (st.depth == StripeInfo::kNoPath) {
            auto k = mKnown.find(from);
            if (k != mKnown.end() && k->second.stripes[s].depth < kMaxDepth && st.pendingCostUs > 0) {
              st.depth = k->second.stripes[s].depth + 1;
              st.delayUs = st.pendingCostUs;
              mStateDirty = true;
            }
          }
          st.nextImproveUs = nowUs + kSettleUs + static_cast<std::int64_t>(host.rng()() % kImprovePeriodUs);
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

  /// A stripe whose parent delivers is pulled only once its chunk is late:
  /// past our usual delay in it, with some slack (a neighbour closer to the
  /// source has it long before our parent's copy comes, and pulling then
  /// only loads the uplinks with duplicates).
  std::int64_t pullAtUs(std::uint64_t seq, std::int64_t firstHeardUs, std::int64_t pullAfterUs) const override {
    const Stripe& st = mStripes[seq % mStripes.size()];
    if (st.parent == 0 || st.delayUs < 0 || !mRateKnown) return firstHeardUs + pullAfterUs;
    const double injected = static_cast<double>(mRateInjectedUs) +
                            (static_cast<double>(seq) - static_cast<double>(mRateSeq)) * mChunkUs;
    return std::max(firstHeardUs, static_cast<std::int64_t>(injected + st.delayUs) + kPullSlackUs);
  }

  std::int64_t haveBroadcastUs() const override { return mC.haveBroadcastUs; }
  SchedulerStats stats() const override {
    SchedulerStats st = mStats;
    if (!mIsSource) {
      st.parentless = static_cast<std::uint64_t>(
          std::count_if(mStripes.begin(), mStripes.end(), [](const Stripe& s) { return s.parent == 0; }));
    }
    return st;
  }

  void onPeerGone(SchedulerHost&, PeerId peer) override {
    mKnown.erase(peer);
    for (std::size_t s = 0; s < mStripes.size(); ++s) {
      Stripe& st = mStripes[s];
      if (st.pending == peer) st.pending = 0;
      if (st.parent == peer) orphan(s, mLastTickUs);
      removeChild(st, peer);
    }
  }

  void partners(std::vector<PeerId>& out) const override {
    for (const Stripe& st : mStripes) {
      if (st.parent != 0) out.push_back(st.parent);
      for (const Child& c : st.children) out.push_back(c.id);
    }
  }

 private:
  struct Child {
    PeerId id;
    std::uint32_t uploadKbps;
    std::uint32_t slots;  // children it serves in the stripe: 0 for a leaf
    /// Who goes first: whoever passes the stripe on to more, then the
    /// better provisioned (it passes it on sooner).
    [[nodiscard]] bool before(const Child& o) const {
      return slots != o.slots ? slots > o.slots : uploadKbps > o.uploadKbps;
    }
    /// Whether a subscriber `o` may take this child's place at a full parent.
    [[nodiscard]] bool displacedBy(const Child& o) const {
      return o.slots != slots ? o.slots > slots : static_cast<double>(o.uploadKbps) > kDisplaceFactor * uploadKbps;
    }
  };
  struct Stripe {
    PeerId parent = 0;
    PeerId pending = 0;  // asked to be our parent, no answer yet
    std::int64_t pendingUs = 0;
    double pendingCostUs = -1;  // the stripe's delay through it, as we estimated it
    std::int64_t lastFromParentUs = 0;
    std::int64_t reaskedForUs = -1;  // the parent's silence (since lastFromParentUs) we asked it again about
    std::int64_t nextTryUs = 0;
    std::int64_t nextImproveUs = 0;
    double delayUs = -1;  // smoothed, of the chunks from the parent
    std::uint32_t lostDepth = StripeInfo::kNoPath;  // how deep we were when we lost our parent
    std::int64_t orphanedUs = 0;
    std::uint32_t depth = StripeInfo::kNoPath;
    std::uint64_t lastSeq = 0;  // the newest pushed by the parent
    std::uint64_t newestHeld = 0;  // the newest of the stripe we hold, however it came
    bool anyHeld = false;
    PeerId lastSeqFrom = 0;
    std::vector<Child> children;  // best-provisioned first
  };
  struct Known {  // a neighbour's last tree state
    std::vector<StripeInfo> stripes;
    std::uint32_t minChildSlots = 0;
    std::uint32_t uploadKbps = 0;
    std::int64_t atUs = 0;
  };

  /// The stream's rate, from any chunks we hold: their mean size, and the
  /// chunk rate their numbers and injection times give.
  void noteChunk(SchedulerHost& host, std::uint64_t seq) {
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
    mStreamKbps = static_cast<std::uint32_t>(mChunkBytes * 8 * chunksPerS / 1000);
    mChunkUs = 1e6 / chunksPerS;
    mRateKnown = true;
    if (spanUs > 5'000'000) {  // follow changes: measure over the last few seconds
      mRateSeq = seq;
      mRateInjectedUs = injected;
    }
  }

  /// Children we can serve: `utilisation` of our upload in stripe rates
  /// (the rate not known yet: one stream's worth), all in our home stripe.
  /// Interior in one stripe only, a peer serves many children there: the
  /// trees are shallow (a hop's latency weighs more than a chunk's upload
  /// time, so wide beats deep; SplitStream's design).
  [[nodiscard]] std::size_t capacity(const SchedulerHost& host) const {
    if (mStreamKbps == 0) return mStripes.size();
    const double stripeKbps = static_cast<double>(mStreamKbps) / static_cast<double>(mStripes.size());
    return static_cast<std::size_t>(std::floor(host.ownUploadKbps() * mC.utilisation / stripeKbps));
  }
  [[nodiscard]] std::size_t capacityIn(const SchedulerHost& host, std::size_t s) const {
    if (host.isSource()) return host.sourceCopies();  // its k copies of each chunk
    return s == mHome ? capacity(host) : 0;
  }

  static void send(SchedulerHost& host, MsgType type, PeerId to, std::size_t s, std::uint32_t slots = 0) {
    Message m;
    m.type = type;
    m.seqs = {s};
    m.slots = slots;
    host.sendControl(to, std::move(m));
  }
  static void unsubscribe(SchedulerHost& host, PeerId to, std::size_t s, PeerId instead = 0) {
    Message m;
    m.type = MsgType::kUnsubscribe;
    m.seqs = {s};
    if (instead != 0) m.peers.push_back(Descriptor{instead, 0, 0});  // where to ask instead
    host.sendControl(to, std::move(m));
  }

  /// Whom to send a subscriber we cannot take: a child of ours in the
  /// stripe with room, by its last state (push-down: one level deeper, but
  /// at once, instead of a search through stale states).
  [[nodiscard]] PeerId roomBelow(std::size_t s, PeerId except, std::int64_t nowUs) const {
    for (const Child& c : mStripes[s].children) {
      if (c.id == except || c.slots == 0) continue;
      auto it = mKnown.find(c.id);
      if (it != mKnown.end() && nowUs - it->second.atUs <= kStateFreshUs && it->second.stripes[s].freeSlots > 0) return c.id;
    }
    return 0;
  }

  void admit(SchedulerHost& host, PeerId peer, std::size_t s, const Child& child, std::uint64_t fromSeq,
             std::int64_t nowUs) {
    Stripe& st = mStripes[s];
    // Not our parent (a loop), and only with a path to give.
    if (st.parent == peer || st.pending == peer || (!host.isSource() && st.parent == 0)) {
      ++mStats.refused;
      return unsubscribe(host, peer, s);
    }
    for (const Child& c : st.children) {
      if (c.id == peer) {  // ours already (it asks again, having heard nothing): say so, and send what it missed
        send(host, MsgType::kAdmit, peer, s);
        return backfill(host, peer, s, fromSeq);
      }
    }
    if (st.children.size() >= capacityIn(host, s)) {
      // One that serves more (or is far better provisioned) takes the place
      // of the child that serves least, which looks for another parent.
      if (st.children.empty() || !st.children.back().displacedBy(child)) {
        ++mStats.refused;
        return unsubscribe(host, peer, s, roomBelow(s, peer, nowUs));
      }
      ++mStats.displaced;
      // The displaced child may go under its replacement, if that serves
      // the stripe (it has room: it just came), or under another child.
      const PeerId displaced = st.children.back().id;
      st.children.pop_back();
      unsubscribe(host, displaced, s, child.slots > 0 ? peer : roomBelow(s, displaced, nowUs));
    }
    const auto at = std::find_if(st.children.begin(), st.children.end(), [&](const Child& c) { return child.before(c); });
    st.children.insert(at, child);
    send(host, MsgType::kAdmit, peer, s);
    backfill(host, peer, s, fromSeq);
  }

  /// A new child had the stripe up to `fromSeq` (from its old parent, which
  /// stops now): what we hold from there on goes to it at once, or the
  /// switch would leave a hole for it to pull late. A few stripe periods
  /// back at most: older ones it has, or will not want.
  void backfill(SchedulerHost& host, PeerId peer, std::size_t s, std::uint64_t fromSeq) {
    const Stripe& st = mStripes[s];
    if (fromSeq == 0 || !st.anyHeld) return;
    const std::uint64_t k = mStripes.size();
    const std::uint64_t floor = st.newestHeld > kBackfillStripePeriods * k ? st.newestHeld - kBackfillStripePeriods * k : 0;
    for (std::uint64_t q = std::max(fromSeq, floor); q <= st.newestHeld; ++q) {
      if (q % k == s && host.holds(q)) {
        host.enqueueChunk(peer, q, SendClass::kRequested);  // repair: after fresh pushes
        ++mStats.backfilled;
      }
    }
  }

  static void removeChild(Stripe& st, PeerId peer) {
    st.children.erase(std::remove_if(st.children.begin(), st.children.end(), [&](const Child& c) { return c.id == peer; }),
                      st.children.end());
  }

  /// We lost our parent in stripe `s`. Our subtree keeps waiting on us
  /// (we find another parent within a few ticks, usually); we remember how
  /// deep we were, for no descendant of ours (all deeper) to become our
  /// parent.
  void orphan(std::size_t s, std::int64_t nowUs) {
    Stripe& st = mStripes[s];
    if (st.parent != 0) ++mStats.orphaned;
    if (st.parent != 0 || st.depth != StripeInfo::kNoPath) {
      st.lostDepth = st.depth;
      st.orphanedUs = nowUs;
    }
    st.parent = 0;
    st.delayUs = -1;
    st.nextTryUs = nowUs;
    st.depth = StripeInfo::kNoPath;
  }

  /// Fewer slots than children (the stream's rate came to be known, or
  /// rose): the children that serve least look elsewhere.
  void shedExcessChildren(SchedulerHost& host) {
    for (std::size_t s = 0; s < mStripes.size(); ++s) {
      Stripe& st = mStripes[s];
      const std::size_t cap = capacityIn(host, s);
      while (st.children.size() > cap) {
        unsubscribe(host, st.children.back().id, s);
        st.children.pop_back();
      }
    }
  }

  void dropSilentChildren(SchedulerHost& host, std::int64_t nowUs) {
    for (Stripe& st : mStripes) {
      for (auto it = st.children.begin(); it != st.children.end();) {
        if (host.responsive(it->id, nowUs)) {
          ++it;
          continue;
        }
        it = st.children.erase(it);
      }
    }
  }

  /// A stripe comes every stripes/chunk-rate; the parent is given up after
  /// missing several (and never sooner than a second: an orphaned parent
  /// finds a new path within a few ticks, and its subtree had better wait).
  [[nodiscard]] std::int64_t parentTimeoutUs() const {
    return std::max<std::int64_t>(1'000'000, static_cast<std::int64_t>(6 * mChunkUs * static_cast<double>(mStripes.size())));
  }

  /// When the stripe would reach us through `peer`: its own delay, the
  /// copies its uplink sends before ours, half the round trip. -1: not a
  /// candidate (unknown, no path or deeper than `maxDepth`, our child, full
  /// for us, or it refused us lately).
  [[nodiscard]] double costThrough(const SchedulerHost& host, PeerId peer, std::size_t s, std::uint32_t maxDepth,
                                   std::int64_t nowUs, bool ours = false) const {
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

  [[nodiscard]] PeerId bestParent(const SchedulerHost& host, std::size_t s, std::uint32_t maxDepth, std::int64_t nowUs,
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

  /// Ask the peer a refusal sent us to, unless it is ours to feed or
  /// refused us lately.
  void tryInstead(SchedulerHost& host, std::size_t s, PeerId peer, std::int64_t nowUs) {
    Stripe& st = mStripes[s];
    if (peer == st.parent) return;
    for (const Child& c : st.children) {
      if (c.id == peer) return;
    }
    if (rejectedLately(peer, nowUs)) return;
    ask(host, st, s, peer, nowUs);
  }

  /// A peer that refused us is not asked again until it tells its state
  /// anew (or for a while, if it does not).
  [[nodiscard]] bool rejectedLately(PeerId peer, std::int64_t nowUs) const {
    auto rej = mRejected.find(peer);
    if (rej == mRejected.end() || nowUs - rej->second >= kRejectMemoryUs) return false;
    auto k = mKnown.find(peer);
    return k == mKnown.end() || k->second.atUs <= rej->second;
  }

  void ask(SchedulerHost& host, Stripe& st, std::size_t s, PeerId parent, std::int64_t nowUs, double costUs = -1) {
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

  void maintain(SchedulerHost& host, std::size_t s, std::int64_t nowUs) {
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
      // starves, and its members give their parents up).
      const bool fresh = nowUs - st.orphanedUs < kOrphanCeilingUs;
      const PeerId p = bestParent(host, s, fresh ? st.lostDepth : kMaxDepth, nowUs, cost);
      if (p != 0) ask(host, st, s, p, nowUs, cost);
      return;
    }
    if (nowUs < st.nextImproveUs || st.delayUs < 0 || st.depth == StripeInfo::kNoPath) return;
    st.nextImproveUs = nowUs + kImprovePeriodUs;
    // A better parent: no deeper than we are (our descendants all are), and
    // better by the same estimate as our parent's (the estimate's errors are
    // alike for both; against our measured delay they made peers switch on
    // and on).
    const PeerId p = bestParent(host, s, st.depth, nowUs, cost);
    const double viaParent = costThrough(host, st.parent, s, kMaxDepth, nowUs, true);
    const double current = viaParent < 0 ? st.delayUs : std::min(st.delayUs, viaParent);
    if (p != 0 && cost < current - kImproveMarginUs) {
      ask(host, st, s, p, nowUs, cost);
    }
  }

  [[nodiscard]] Message state(const SchedulerHost& host) const {
    Message m;
    m.type = MsgType::kTreeState;
    m.stripes.reserve(mStripes.size());
    bool anyChild = false;
    for (std::size_t s = 0; s < mStripes.size(); ++s) {
      const Stripe& st = mStripes[s];
      StripeInfo info;
      info.depth = host.isSource() ? 0 : st.depth;
      info.delayMs = host.isSource() ? 0 : static_cast<std::uint32_t>(std::max(0.0, st.delayUs) / 1000);
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

  void broadcastState(SchedulerHost& host, std::int64_t nowUs) {
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

  TreeConfig mC;
  SchedulerStats mStats;
  std::vector<Stripe> mStripes;
  std::unordered_map<PeerId, Known> mKnown;
  std::unordered_map<PeerId, std::int64_t> mRejected;  // -> when it refused or dropped us
  std::unordered_map<PeerId, std::int64_t> mTold;      // -> when it last had our state
  std::vector<PeerId> mTargets;
  std::int64_t mNextStateUs = 0;
  std::int64_t mLastStateUs = 0;
  bool mStateDirty = false;  // a stripe's path came back since the last state
  std::size_t mHome = 0;  // the stripe we are interior in (children elsewhere: none)
  std::int64_t mLastTickUs = 0;
  bool mIsSource = false;
  std::uint32_t mStreamKbps = 0;  // the stream's rate (the source's measure, handed on)
  double mChunkBytes = 0;         // a chunk's mean payload
  bool mRateFrom = false;          // a chunk to measure the rate from (mRateSeq)
  bool mRateKnown = false;
  std::uint64_t mRateSeq = 0;      // the chunk the rate is measured from
  std::int64_t mRateInjectedUs = 0;
  double mChunkUs = 33'333;        // between chunks
};

}  // namespace

std::unique_ptr<Scheduler> makeTreeScheduler(const TreeConfig& config) { return std::make_unique<TreeScheduler>(config); }

}  // namespace partyhub::streamer::overlay
