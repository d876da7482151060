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
//   children as `utilisation` of its upload carries (5 at twice the
//   stream rate); elsewhere it is a leaf. A hop's latency weighs more than a
//   chunk's upload time here, so wide trees beat deep ones (SplitStream's
//   design). Children that pass the stripe on go first, leaves after.
//   The home is drawn at random; in a small overlay a stripe may then be
//   no one's but the source's, whose k copies leave the other peers to
//   pull it late for good. In an overlay that small, a peer that sees a
//   stripe no one serves while someone has no path in it makes it its
//   home, if someone else serves its own (its children there go to them)
//   or no one needs it. In any overlay, a stripe a peer has found no
//   parent with room in for a while is short of slots (too few homes drew
//   it): it becomes the peer's home if its own has no child of its and no
//   neighbour without a path there.
// - A peer chooses the parent through which the stripe would come soonest:
//   the candidate's delay in the stripe (its path's: the least of its last
//   few chunks'), its uplink's time for the copies it sends before ours,
//   half the round trip. Neighbours tell each other their
//   place in every tree (kTreeState) twice a second, at first contact, and
//   when a path appears. A better parent (by the same estimate) replaces
//   ours only once it has admitted us, and only if no deeper than we are
//   (our descendants all are), so no loop forms. We look for one every
//   second, and at each neighbour's state (is it better?).
// - A full parent takes a subscriber that serves more (or is far better
//   provisioned) in place of its least-serving child, so the peers that pass
//   chunks on climb towards the source and poor ones become leaves (seed
//   paper §V-B); whoever it refuses or drops, it sends to a child of its
//   with room. The source takes k per stripe: its k copies of each chunk.
// - The subscription says which seq the child has up to; the new parent
//   sends it what followed, so a switch leaves no hole.
// - A parent quiet for a few stripe periods is asked again (a lost
//   UNSUBSCRIBE left the child waiting on a parent that had dropped it);
//   its answer, or a second of silence, settles it. A peer that pushes us
//   a stripe it is not our parent in (our UNSUBSCRIBE, or its ADMIT, was
//   lost) is told to stop. A child that stops acknowledging is dropped. A hole in the stripe's sequence is asked of
//   the parent at once; a chunk later than our usual delay is pulled.
//
// The class is split by side: tree_scheduler.cpp takes the events (chunks,
// ticks, messages) and tells the neighbours our place in the trees;
// tree_parent.cpp is the parent side (admission, displacement, backfill);
// tree_child.cpp the child side (choosing, asking, keeping and losing parents).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "partyhub/common/flat_map.hpp"
#include "scheduler.hpp"

namespace partyhub::streamer::overlay::tree {

inline constexpr std::int64_t kUnknownOneWayUs = 50'000;
inline constexpr std::int64_t kRejectMemoryUs = 2'000'000;    // a peer that refused us is not asked again for this long
inline constexpr std::int64_t kStateFreshUs = 3'000'000;      // a tree state older than this is not used
inline constexpr std::int64_t kImprovePeriodUs = 1'000'000;   // how often a peer looks for a better parent
inline constexpr std::int64_t kImproveMarginUs = 5'000;       // ... one at least this much better (see maintain())
inline constexpr std::int64_t kSettleUs = 250'000;            // a new parent is kept at least this long (see takeBetter())
inline constexpr std::int64_t kRetryUs = 50'000;              // an orphaned stripe looks for a parent this often
inline constexpr std::int64_t kPendingUs = 500'000;           // a subscription unanswered this long was lost
inline constexpr std::uint32_t kMaxDepth = 64;
inline constexpr std::uint64_t kBackfillStripePeriods = 6;    // a new child gets at most this many of the stripe's chunks it missed
inline constexpr std::int64_t kOrphanCeilingUs = 1'000'000;   // an orphan takes only parents no deeper than it was, this long
inline constexpr std::int64_t kTriggeredStateUs = 100'000;    // a changed state goes out at most this often
inline constexpr std::int64_t kPullSlackUs = 150'000;         // how late a chunk from our parent may be before we pull it
inline constexpr double kDisplaceFactor = 1.25;               // how much richer a subscriber must be to displace a child
inline constexpr double kQuietStripePeriods = 3;              // a parent this quiet is asked again (its word may have been lost)
inline constexpr std::int64_t kLeftGraceUs = 500'000;         // a parent we left may push us this long (copies in flight)
inline constexpr std::int64_t kStaleRepeatUs = 200'000;       // a stale parent is told to stop at most this often
inline constexpr std::int64_t kHomelessUs = 500'000;          // a stripe seen homeless this long (+ up to as long, at random) is served
inline constexpr std::int64_t kHomeHoldUs = 5'000'000;        // a home is kept this long at least (no back and forth)
inline constexpr std::int64_t kShortStripeUs = 1'000'000;     // without a parent this long (+ up to as long, at random), a stripe is short of slots

class TreeScheduler final : public Scheduler {
 public:
  explicit TreeScheduler(const TreeConfig& c) : mC(c), mStripes(std::max(1u, c.stripes)) {}

  const char* name() const override { return "tree"; }

  void onNewChunk(SchedulerHost& host, std::uint64_t seq, PeerId from, bool asked, std::int64_t nowUs) override;

  void onTick(SchedulerHost& host, std::int64_t nowUs) override;

  std::optional<std::pair<PeerId, std::uint64_t>> nextSend(SchedulerHost&, std::int64_t) override {
    return std::nullopt;  // pushes wait on the upload queue, queued as chunks come
  }

  void onMessage(SchedulerHost& host, PeerId from, const Message& m, std::int64_t nowUs) override;

  /// A stripe whose parent delivers is pulled only once its chunk is late:
  /// past our usual delay in it, with some slack (a neighbour closer to the
  /// source has it long before our parent's copy comes, and pulling then
  /// only loads the uplinks with duplicates); but never later than a stripe
  /// without a parent would be (a pull `pullAfterUs` after a neighbour had it).
  std::int64_t pullAtUs(std::uint64_t seq, std::int64_t firstHeardUs, std::int64_t pullAfterUs) const override;

  std::int64_t haveBroadcastUs() const override { return mC.haveBroadcastUs; }
  bool prefersClose() const override { return true; }
  SchedulerStats stats() const override;

  void onPeerGone(SchedulerHost&, PeerId peer) override;

  void partners(std::vector<PeerId>& out) const override;

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
    std::int64_t adoptedUs = 0;  // when the parent admitted us
    double delayUs = -1;  // smoothed, of the chunks from the parent: when to pull
    /// The least of the last few delays: the path's own, without the
    /// chunks a lost fragment held up by a round trip. What we tell and
    /// compare parents by (the smoothed delay, jumping with each repair,
    /// made peers switch parents for noise: twice as many changes).
    double pathUs = -1;
    std::array<std::int64_t, 8> recentUs{};
    std::uint32_t recentCount = 0;
    /// A parent that delivers, a delay measured, a path, nothing asked:
    /// what a better parent is compared against (maintain(), takeBetter()).
    [[nodiscard]] bool mayLookForBetter() const {
      return parent != 0 && pending == 0 && delayUs >= 0 && depth != StripeInfo::kNoPath;
    }
    /// A new parent, or none: its chunks' delays are not ours to go by.
    void forgetDelays() {
      delayUs = -1;
      pathUs = -1;
      recentCount = 0;
    }
    PeerId left = 0;  // the parent we last left, and when (its copies in flight are no stale push)
    std::int64_t leftUs = 0;
    PeerId staleTold = 0;  // the last stale parent told to stop, and when
    std::int64_t staleToldUs = 0;
    std::uint32_t lostDepth = StripeInfo::kNoPath;  // how deep we were when we lost our parent
    std::int64_t orphanedUs = 0;
    std::int64_t shortAtUs = -1;  // without a parent: when, if none is to be had still, we take the stripe for our home
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
  void noteChunk(SchedulerHost& host, std::uint64_t seq);

  /// Children we can serve: `utilisation` of our upload in stripe rates
  /// (the rate not known yet: one stream's worth), all in our home stripe.
  /// Interior in one stripe only, a peer serves many children there: the
  /// trees are shallow (a hop's latency weighs more than a chunk's upload
  /// time, so wide beats deep; SplitStream's design).
  [[nodiscard]] std::size_t capacity(const SchedulerHost& host) const;
  [[nodiscard]] std::size_t capacityIn(const SchedulerHost& host, std::size_t s) const;

  /// ADMIT `peer` in stripe `s`, saying from which seq we hold the stripe
  /// (0: nothing yet; its child then knows our silence is the stream's).
  void sendAdmit(SchedulerHost& host, PeerId peer, std::size_t s) const;
  static void unsubscribe(SchedulerHost& host, PeerId to, std::size_t s, PeerId instead = 0);

  /// Whom to send a subscriber we cannot take: a child of ours in the
  /// stripe with room, by its last state (push-down: one level deeper, but
  /// at once, instead of a search through stale states).
  [[nodiscard]] PeerId roomBelow(std::size_t s, PeerId except, std::int64_t nowUs) const;

  void admit(SchedulerHost& host, PeerId peer, std::size_t s, const Child& child, std::uint64_t fromSeq,
             std::int64_t nowUs);

  /// A new child had the stripe up to `fromSeq` (from its old parent, which
  /// stops now): what we hold from there on goes to it at once, or the
  /// switch would leave a hole for it to pull late. A few stripe periods
  /// back at most: older ones it has, or will not want.
  void backfill(SchedulerHost& host, PeerId peer, std::size_t s, std::uint64_t fromSeq);

  static void removeChild(Stripe& st, PeerId peer);

  /// A new chunk of the stripe from our parent: its delay, the path's.
  static void notePathDelay(Stripe& st, std::int64_t delayUs);

  /// A peer pushes us a stripe it is not our parent in: our UNSUBSCRIBE
  /// (or its ADMIT, which we gave up waiting for) was lost, and it would
  /// feed us for good, in a child's place, racing our parent (who then
  /// skips what we hold, goes quiet, and is given up). Told to stop.
  void stopStaleParent(SchedulerHost& host, Stripe& st, std::size_t s, PeerId from, std::int64_t nowUs);

  /// We leave our parent in the stripe (for another, or none).
  static void leave(Stripe& st, std::int64_t nowUs);

  /// We lost our parent in stripe `s`. Our subtree keeps waiting on us
  /// (we find another parent within a few ticks, usually); we remember how
  /// deep we were, for no descendant of ours (all deeper) to become our
  /// parent.
  void orphan(std::size_t s, std::int64_t nowUs);

  /// Fewer slots than children (the stream's rate came to be known, or
  /// rose): the children that serve least look elsewhere.
  void shedExcessChildren(SchedulerHost& host);

  void dropSilentChildren(SchedulerHost& host, std::int64_t nowUs);

  /// A stripe comes every stripes/chunk-rate; the parent is given up after
  /// missing several (and never sooner than a second: an orphaned parent
  /// finds a new path within a few ticks, and its subtree had better wait).
  [[nodiscard]] std::int64_t parentTimeoutUs() const;

  /// When the stripe would reach us through `peer`: its own delay, the
  /// copies its uplink sends before ours, half the round trip. -1: not a
  /// candidate (unknown, no path or deeper than `maxDepth`, our child, full
  /// for us, or it refused us lately).
  [[nodiscard]] double costThrough(const SchedulerHost& host, PeerId peer, std::size_t s, std::uint32_t maxDepth,
                                   std::int64_t nowUs, bool ours = false) const;

  [[nodiscard]] PeerId bestParent(const SchedulerHost& host, std::size_t s, std::uint32_t maxDepth, std::int64_t nowUs,
                                  double& costUs) const;

  /// Ask the peer a refusal sent us to, unless it is ours to feed or
  /// refused us lately.
  void tryInstead(SchedulerHost& host, std::size_t s, PeerId peer, std::int64_t nowUs);

  /// A peer that refused us is not asked again until it tells its state
  /// anew (or for a while, if it does not).
  [[nodiscard]] bool rejectedLately(PeerId peer, std::int64_t nowUs) const;

  void ask(SchedulerHost& host, Stripe& st, std::size_t s, PeerId parent, std::int64_t nowUs, double costUs = -1);

  void maintain(SchedulerHost& host, std::size_t s, std::int64_t nowUs);

  /// A neighbour's new state: in each stripe where it would be a better
  /// parent than ours (by the margin maintain() asks), it is asked at once,
  /// not at our next periodic look. The trees then take a better place as
  /// soon as it is told, which in a flash crowd is what shortens it: N =
  /// 2000, 20 s, seeds 1-8, window p99 506 -> 413 ms (a margin of 60 ms:
  /// 431, 100 ms: 461), settled 341 either way. Once a new parent has been
  /// kept kSettleUs: 250 ms, not 500, ends the flash crowd sooner (N =
  /// 2000, 60 s, seeds 1-8: window p99 359.0 -> 352.1 ms, settled 335.9 ->
  /// 334.6; 125 ms: 351.1, 336.1).
  void takeBetter(SchedulerHost& host, PeerId peer, std::int64_t nowUs);

  /// The stripe's delay through our parent, as we would compare another by.
  [[nodiscard]] double currentCost(const SchedulerHost& host, std::size_t s, std::int64_t nowUs) const;

  /// A stripe that is no one's home (no neighbour but the source serves
  /// it) while someone has no path in it, we or a neighbour; or
  /// mStripes.size(). Said of the overlay only when it is small: our
  /// neighbours are everyone (in a large one, a neighbourhood without a
  /// peer serving the stripe says nothing of the rest).
  [[nodiscard]] std::size_t homelessStripe(std::int64_t nowUs) const;

  /// In a small overlay, each tick: a homeless stripe seen for a while
  /// becomes our home if we have upload to give, and if another peer
  /// serves our home (our children there are sent to it) or no one needs
  /// it (no child of ours there, no peer without a path there). Not twice
  /// within kHomeHoldUs.
  void checkHomes(SchedulerHost& host, std::int64_t nowUs);

  /// Stripe `s` is short of slots: we have had no parent there, and no
  /// neighbour had room, for a while. Homes are drawn at random, and in an
  /// overlay of 150 one stripe may get 26 of them (38 would be its share):
  /// 124 slots for 150 peers. If our home has no child of ours (it has slots
  /// to spare where we are) and every neighbour has a path there (none needs
  /// them), `s` becomes our home: then we serve it, and take a leaf's place
  /// at a full parent there (the leaf comes under us), which makes room for
  /// the others without a parent. Not if we serve fewer than two (we would
  /// take as many as we give), nor twice within kHomeHoldUs.
  void takeShortStripe(SchedulerHost& host, std::size_t s, std::int64_t nowUs);

  /// Our home moves to `s`; our children in the old one are sent to `other`
  /// (0: let them search).
  void moveHome(SchedulerHost& host, std::size_t s, PeerId other, std::int64_t nowUs);

  [[nodiscard]] Message state(const SchedulerHost& host) const;

  void broadcastState(SchedulerHost& host, std::int64_t nowUs);

  TreeConfig mC;
  SchedulerStats mStats;
  std::vector<Stripe> mStripes;
  partyhub::FlatMap<Known> mKnown;
  partyhub::FlatMap<std::int64_t> mRejected;  // -> when it refused or dropped us
  partyhub::FlatMap<std::int64_t> mTold;      // -> when it last had our state
  std::vector<PeerId> mTargets;
  std::int64_t mNextStateUs = 0;
  std::int64_t mLastStateUs = 0;
  bool mStateDirty = false;  // a stripe's path came back since the last state
  std::size_t mHome = 0;  // the stripe we are interior in (children elsewhere: none)
  std::int64_t mHomeCheckUs = -1;  // a homeless stripe seen: when to move to it, if it still is
  std::int64_t mHomeMovedUs = -1;  // when our home last moved
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

}  // namespace partyhub::streamer::overlay::tree
