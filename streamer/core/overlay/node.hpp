// One overlay node: membership, neighbourhood, chunk buffer and buffer-map
// knowledge, a scheduler chosen by name, rate control and pull repair. Pure:
// events in with `now`, actions out. The streamer executable drives it from
// UDP and a real clock; partyhub-sim drives thousands of them from a
// discrete-event network model.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "alto.hpp"
#include "answer_budget.hpp"
#include "membership.hpp"
#include "message.hpp"
#include "scheduler.hpp"
#include "seq_window.hpp"
#include "upload_estimator.hpp"

namespace partyhub::streamer::overlay {

struct NodeConfig {
  std::string scheduler = "push";
  bool isSource = false;
  std::uint32_t sourceCopies = 3;
  std::uint32_t uploadKbps = 2000;        // upload budget (configured or estimated)
  // The budget estimated from its chunks' one-way delays (UploadEstimator),
  // uploadKbps its ceiling: for a streamer not told its uplink's rate.
  bool estimateUpload = false;
  std::size_t neighbours = 10;            // target out-neighbourhood
  double closeShare = 0.8;                // ... this share of it the closest found, if the scheduler prefersClose()
  std::int64_t maxQueueDelayUs = 4'000;   // HRC: keep queueing delay below this
  double answerShare = 0.5;               // of the upload, at most, for gossip replies and pongs (Node::emitAnswer)
  std::int64_t deadlineUs = 1'000'000;    // a chunk older than this is never sent
  std::int64_t haveBatchUs = 10'000;      // buffer-map updates (and acks) are batched this long
  // In an overlay known whole, pushes follow delegation and hardly need to
  // know who has what: buffer maps go to every neighbour only this often
  // (for pull repair), acknowledgements to pushers still every batch. Most
  // of a small overlay's signalling and wake-ups were buffer maps.
  std::int64_t haveBroadcastStructuredUs = 100'000;
  // The same in a larger overlay (0: every batch).
  std::int64_t haveBroadcastUs = 0;
  std::int64_t pullAfterUs = 300'000;     // a chunk a neighbour has and we miss is pulled after this
  std::int64_t requestTimeoutUs = 200'000;
  std::int64_t ackSlackUs = 25'000;       // a push unacknowledged after its RTT plus this is sent again
  std::int64_t defaultRttUs = 200'000;    // for peers not measured yet
  std::size_t window = 512;               // chunks remembered
  std::uint32_t overlaySizeHint = 1000;   // the source's push budget: about how many peers to reach
  MembershipConfig membership;
  TreeConfig tree;  // the "tree" scheduler's
  // A streamer carrying several channels over one signalling overlay (the
  // shared layout, paper §V-A) gives each channel's node the one membership:
  // the node then neither joins, gossips nor leaves itself, and its peers are
  // the signalling overlay's (every member watches every channel).
  std::shared_ptr<Membership> sharedMembership;
  std::shared_ptr<const AltoCostMap> alto;  // when given, the close half of the neighbourhood is by ALTO cost
};

struct Delivery {
  ChunkPtr chunk;
  std::int64_t injectedUs = 0;
  std::uint32_t hops = 0;
  bool pulled = false;  // it came after we asked for it (pull repair), not by push
};

struct NodeActions {
  std::vector<std::pair<PeerId, Message>> sends;
  std::vector<std::size_t> sendBytes;  // each send's wireBytes(), as the node counted it
  std::vector<Delivery> delivered;
  void clear() {
    sends.clear();
    sendBytes.clear();
    delivered.clear();
  }
};

struct NodeStats {
  std::uint64_t chunksReceived = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t chunksSent = 0;
  std::uint64_t staleDropped = 0;  // queued sends that could no longer be useful
  std::uint64_t requests = 0;
  std::uint64_t bytesSent = 0;
  std::uint64_t payloadBytesSent = 0;
  std::uint64_t repushes = 0;      // pushes sent again after no acknowledgement came
  std::uint64_t lateAcks = 0;      // acknowledgements that came after their push was given up
  std::uint64_t restarts = 0;      // the channel's numbering started over (its source streamer restarted)
  std::uint64_t answersShed = 0;   // gossip replies and pongs not sent: they had used their share of the upload
  std::uint64_t implausible = 0;   // chunks and announced seqs dropped: numbered far beyond the stream (garbage)
  std::uint64_t requestsRefused = 0;  // seqs asked of us beyond the asker's allowance (see mAnswerAllowance)
  // How long chunks wait here before each copy goes to the uplink (per-hop
  // delay, passive monitoring): from its arrival to the first copy, to the
  // later ones, and from a request's arrival to its answer. Sums, µs.
  std::int64_t firstCopyWaitUs = 0;
  std::uint64_t firstCopies = 0;
  std::int64_t laterCopyWaitUs = 0;
  std::uint64_t laterCopies = 0;
  std::int64_t answerWaitUs = 0;
  std::uint64_t answers = 0;
};

class Node final : private SchedulerHost {
 public:
  Node(PeerId self, NodeConfig config, std::uint64_t seed);

  void join(const std::vector<PeerId>& bootstrap, std::int64_t nowUs, NodeActions& out);
  void leave(std::int64_t nowUs, NodeActions& out);
  void onMessage(PeerId from, const Message& m, std::int64_t nowUs, NodeActions& out);
  void onTick(std::int64_t nowUs, NodeActions& out);
  /// When onTick next has work (acknowledgements due, a batch of buffer maps,
  /// a pull, a repush, a shuffle...): a tick sooner changes nothing, a tick
  /// later delays it. At least every kIdleTickUs. Ticking only then, a
  /// streamer of a small quiet overlay wakes a few times a second rather
  /// than 100 (the simulator ticks regularly).
  [[nodiscard]] std::int64_t nextTickUs() const;
  static constexpr std::int64_t kIdleTickUs = 100'000;
  /// The uplink has drained (see uplinkFreeAtUs): send what is next.
  void onUplinkFree(std::int64_t nowUs, NodeActions& out);
  /// The transport sent `bytes` on its own (fragments resent on request):
  /// they occupied the uplink as our sends do.
  void chargeUplink(std::size_t bytes, std::int64_t nowUs);
  /// Cut-through forwarding: a chunk told by its first datagram (Message::coming)
  /// is whole now (the body is the chunk's, whoever sent which datagram):
  /// delivered and announced. `whole`, when given, replaces what the coming
  /// message carried (a transport that tells a chunk by its header alone
  /// hands the body over here).
  void onChunkComplete(std::uint64_t seq, ChunkPtr whole, std::int64_t nowUs, NodeActions& out);
  /// ... or its copy from `from` never came whole: if it was the one we took,
  /// the seq is missing again (a pull fetches it).
  void onChunkFailed(PeerId from, std::uint64_t seq, std::int64_t nowUs, NodeActions& out);
  /// The source streamer injects a chunk (its seq must be set).
  void onLocalChunk(ChunkPtr chunk, std::int64_t nowUs, NodeActions& out);

  [[nodiscard]] const NodeStats& stats() const { return mStats; }
  [[nodiscard]] SchedulerStats schedulerStats() const { return mScheduler->stats(); }
  /// The upload budget now: the configured one, or its estimate (NodeConfig::estimateUpload).
  [[nodiscard]] std::uint32_t uploadBudgetKbps() const { return mConfig.uploadKbps; }
  [[nodiscard]] PeerId id() const { return mSelf; }
  [[nodiscard]] const std::vector<PeerId>& neighbours() const override { return mNeighbours; }
  [[nodiscard]] const Membership& membership() const { return *mMembership; }
  /// When the node wants its next tick: as soon as its uplink frees up while
  /// it has something to send; otherwise at the regular tick.
  [[nodiscard]] std::int64_t uplinkFreeAtUs() const { return mBacklogAtUs + mBacklogUs - mConfig.maxQueueDelayUs; }
  /// Whether anything waits for the uplink (queued, or with push budget
  /// left): if not, a wake-up at uplinkFreeAtUs() would find nothing to
  /// send (half of the simulator's did).
  [[nodiscard]] bool waitsForUplink() const { return !mQueue.empty() || !mBudgeted.empty(); }

 private:
  struct Held {
    ChunkPtr chunk;
    std::int64_t injectedUs;
    std::uint32_t hops;
    std::uint32_t budget = 0;  // peers still to reach through our pushes
    std::uint64_t seq = 0;
    std::vector<PeerId> delegates;  // which peers, when we were told (structured push)
    std::int64_t arrivedUs = 0;     // when it came to us (or was injected)
    std::uint32_t copies = 0;       // sent by us, resent ones included
    bool whole = true;              // false: told at its first datagram, the body still coming (Message::coming)
    std::uint32_t bytes = 0;        // the payload's size (known before the payload, for a coming chunk)
    PeerId from = 0;                // whose copy we took
    bool pulled = false;            // it came after we asked for it
  };
  // A push whose subtree budget is lost unless the receiver acknowledges it
  // (its HAVE for the seq); after its RTT plus slack the budget comes back
  // and goes out again, to the same peer or another one.
  struct Unacked {
    PeerId peer;
    std::uint64_t seq;
    std::uint32_t give;
    std::int64_t sentUs;  // when it left our uplink
    std::int64_t dueUs;
    std::vector<PeerId> delegates;  // handed on with it: ours again if it is lost
  };
  // How long a peer takes to acknowledge a push, smoothed as TCP does its
  // round trip (Jacobson/Karels): a push counts as lost only after the
  // mean plus four deviations. A fixed timeout from a probe's RTT took an
  // overloaded peer's late acknowledgements for losses and pushed everything
  // again, filling the uplinks (the 6-host test bed at 30 fps collapsed so).
  // And as TCP backs its retransmission timer off (RFC 6298 §5.5): after a
  // push to a peer times out, its next ones wait twice as long (up to 4x),
  // until an acknowledgement comes in time. A queue we cannot see (a full
  // uplink's, a busy receiver's) delays a burst of acknowledgements at
  // once: without the backoff every push of the burst timed out and went
  // again, into the same queue (the test bed's late-ack spikes: 38 of 47
  // repushes in one second answered by late acknowledgements).
  struct AckDelay {
    std::int64_t srttUs = 0;
    std::int64_t rttvarUs = 0;
    int backoff = 0;  // the timeout is doubled this many times
  };
  static constexpr int kMaxAckBackoff = 2;
  struct TimedOut {
    PeerId peer;
    std::uint64_t seq;
    std::int64_t sentUs;
  };
  struct Queued {
    PeerId peer;
    std::uint64_t seq;
    SendClass cls;
    std::int64_t queuedUs;
  };

  // SchedulerHost
  bool isSource() const override { return mConfig.isSource; }
  std::uint32_t sourceCopies() const override { return mConfig.sourceCopies; }
  std::uint32_t uploadOf(PeerId peer) const override { return mMembership->uploadOf(peer); }
  bool peerHas(PeerId peer, std::uint64_t seq) const override;
  bool holds(std::uint64_t seq) const override { return findHeld(seq) != nullptr; }
  // The chunk buffer is a ring indexed by seq: O(1), one cache line, no
  // allocation per chunk (the simulator runs thousands of nodes).
  [[nodiscard]] const Held* findHeld(std::uint64_t seq) const {
    const Held& h = mHeld[seq % mHeld.size()];
    return h.chunk && h.seq == seq ? &h : nullptr;
  }
  Held* findHeld(std::uint64_t seq) {
    return const_cast<Held*>(static_cast<const Node*>(this)->findHeld(seq));
  }
  std::vector<std::uint64_t> recentHeld(std::size_t max) const override;
  void enqueueChunk(PeerId peer, std::uint64_t seq, SendClass cls) override;
  std::size_t copiesSent(std::uint64_t seq) const override;
  bool sentTo(PeerId peer, std::uint64_t seq) const override;
  /// `answersRequestOfUs`: when the request it answers came (-1: a push).
  void sendChunk(PeerId peer, std::uint64_t seq, std::int64_t nowUs, std::int64_t answersRequestOfUs = -1);
  std::uint32_t budget(std::uint64_t seq) const override;
  const std::vector<std::uint64_t>& budgeted() const override { return mBudgeted; }
  const std::vector<PeerId>& delegates(std::uint64_t seq) const override;
  /// Every peer we know, when we know the whole overlay; empty otherwise.
  [[nodiscard]] std::vector<PeerId> wholeOverlay() const;
  /// Our view is not full, and has not been for a while: a view that is
  /// full now and then belongs to an overlay larger than it, whose view dips
  /// below full whenever a member expires (taking such a dip for the whole
  /// overlay pushed a chunk to those 23 peers only).
  [[nodiscard]] bool knowsWholeOverlay() const {
    return mMembership->view().size() < mConfig.membership.viewSize &&
           (mViewFullAtUs < 0 || mLastTickUs - mViewFullAtUs > kViewFullMemoryUs);
  }
  /// The group's size says the overlay fits our view, or we have known it
  /// whole for a while (in a joiner's first seconds its view is short of
  /// full whatever the overlay's size: a flash crowd of 2000 took itself
  /// for small, and 582 of its peers moved their tree's home stripe).
  [[nodiscard]] bool smallOverlay() const override {
    return knowsWholeOverlay() && (mConfig.overlaySizeHint <= mConfig.membership.viewSize ||
                                   mLastTickUs - mJoinedUs > kViewFullMemoryUs);
  }
  /// Close neighbours wanted: the scheduler prefers them, and the overlay is
  /// not small (in one known whole every peer is a neighbour, and closeness
  /// has nothing to choose between). Not judged small by a joiner's view
  /// alone: it fills in the first seconds, and going without close peers
  /// then cost N = 2000 its flash crowd (window p99 594 -> 625 ms, worst
  /// peer 0.9970 -> 0.9952).
  [[nodiscard]] bool wantsClose() const { return mScheduler->prefersClose() && !smallOverlay(); }
  void handOn(std::uint64_t seq, std::uint32_t give) override { mNextGive = give; (void)seq; }
  std::uint32_t ownUploadKbps() const override { return mConfig.uploadKbps; }
  std::int64_t rttOf(PeerId peer) const override;
  /// Locality rank: ALTO cost first (when a map is given and knows both
  /// ends), then measured RTT; unknown sorts last.
  [[nodiscard]] std::pair<double, std::int64_t> closeness(PeerId peer) const;
  bool responsive(PeerId peer, std::int64_t nowUs) const override;
  bool anyUnresponsive() const override { return mSuspects > 0; }
  void ping(PeerId peer, std::int64_t nowUs);  // an RTT probe; also tells the peer of us
  void probe(std::int64_t nowUs);
  /// A measured RTT: kept, and the peer ranked among our closest.
  void noteRtt(PeerId peer, std::int64_t rttUs);
  void forgetClose(PeerId peer);
  /// A pong from `from` named its closest peers: if it is among ours, its
  /// closest are likely close to us too (Vicinity's idea): measured.
  void measureSuggested(PeerId from, const std::vector<Descriptor>& suggested, std::int64_t nowUs);
  /// Our closest peers, still alive (a silent one is asked again first).
  void refreshClosest(std::int64_t nowUs);
  void sendControl(PeerId peer, Message m) override;
  std::mt19937_64& rng() override { return mRng; }
  std::int64_t injectedOf(std::uint64_t seq) const override {
    const Held* h = findHeld(seq);
    return h == nullptr ? 0 : h->injectedUs;
  }
  std::uint32_t hopsOf(std::uint64_t seq) const override {
    const Held* h = findHeld(seq);
    return h == nullptr ? 0 : h->hops;
  }
  std::size_t bytesOf(std::uint64_t seq) const override {
    const Held* h = findHeld(seq);
    return h == nullptr ? 0 : h->bytes;
  }
  void request(PeerId peer, const std::vector<std::uint64_t>& seqs) override;
  /// We miss `seq` and have not asked for it, or not lately.
  [[nodiscard]] bool mayRequest(std::uint64_t seq) const;

  void accept(PeerId from, const Held& h, std::int64_t nowUs);
  void restart();
  /// Whether `seq` can be the stream's: not garbage, and not far ahead of
  /// the chunks we take, unless they stopped coming (see node.cpp).
  [[nodiscard]] bool plausibleSeq(std::uint64_t seq, std::int64_t nowUs) const;
  /// A chunk `m` from `from` that says the numbering restarted (see
  /// node_trust.cpp) is noted, or, from the source or a second peer, starts
  /// us over; a witness's chunk to take after this one goes to `after`.
  /// False: `m`'s chunk is not to be taken after all.
  bool followRestart(PeerId from, const Message& m, std::int64_t nowUs, Held& after, PeerId& afterFrom);
  void markHas(PeerId peer, std::uint64_t seq);
  void pumpUpload(std::int64_t nowUs);
  // The scheduler's next copy, sent if it is still in time; false when there is none.
  bool sendScheduled(std::int64_t nowUs);
  [[nodiscard]] bool queued(SendClass cls) const;
  /// The uplink model: `bytes` more to send; what drained by `nowUs` gone.
  void occupyUplink(std::size_t bytes);
  void drainUplink(std::int64_t nowUs);
  void dropSpentBudgets(std::int64_t nowUs);
  void flushHaves(std::int64_t nowUs);
  void acknowledged(PeerId peer, std::uint64_t seq, std::int64_t nowUs);
  /// A HAVE to `to`, with the stamp owed to it (if any).
  void emitHave(PeerId to, Message m);
  /// The one-way delay of our chunk a stamp names, for the upload estimate.
  void stamped(PeerId peer, std::uint64_t seq, std::int64_t recvUs, std::int64_t nowUs);
  /// A push to `peer` awaits its acknowledgement (or was given up lately).
  [[nodiscard]] bool awaitsAck(PeerId peer) const;
  AckDelay& sampleAckDelay(PeerId peer, std::int64_t delayUs);  // the peer's record, updated
  /// When a push to `peer` that leaves the uplink at `sentUs` counts as lost.
  [[nodiscard]] std::int64_t ackDueUs(PeerId peer, std::int64_t sentUs) const;
  /// A push to `peer` timed out: its timer backs off (see AckDelay).
  void backOffAcks(PeerId peer);
  void checkAcks(std::int64_t nowUs);
  void addBudget(std::uint64_t seq, std::uint32_t extra);
  void pull(std::int64_t nowUs);
  void refreshNeighbours(std::int64_t nowUs);
  void prune();
  void emit(PeerId to, Message m);
  /// A message we owe no one in particular (a shuffle's reply, a probe's
  /// echo): sent only within `answerShare` of the upload, else counted and
  /// dropped (the asker tries again later). A flash crowd of joiners, all
  /// bootstrapping through the source, once took its uplink for 3 s at
  /// N = 5000: gossip replies and pongs, and not one chunk.
  void emitAnswer(PeerId to, Message m, std::int64_t nowUs);

  PeerId mSelf;
  NodeConfig mConfig;
  std::mt19937_64 mRng;
  std::shared_ptr<Membership> mMembership;
  bool mOwnMembership;  // false in the shared layout: someone else gossips
  std::unique_ptr<Scheduler> mScheduler;
  NodeStats mStats;
  NodeActions* mOut = nullptr;  // valid during an event
  std::int64_t mNowUs = 0;      // the current event's time

  std::vector<PeerId> mNeighbours;
  std::vector<PeerId> mPartners;  // scratch: the scheduler's subscription partners
  PeerId mSourceId = 0;  // the channel's source streamer, once a chunk came from it
  std::int64_t mNextNeighbourRefreshUs = 0;

  std::vector<Held> mHeld;  // mConfig.window slots
  std::uint64_t mNewestKnown = 0;
  bool mAnyKnown = false;
  std::int64_t mLastChunkUs = -1;  // when a chunk last came (any: new or duplicate)
  std::int64_t mNewestCaptureUs = 0;  // of the chunks accepted
  std::uint64_t mNewestAccepted = 0;  // the newest chunk we took (not hearsay: mNewestKnown)
  std::int64_t mLastAcceptUs = -1;    // when we last took a chunk
  PeerId mRestartWitness = 0;         // a peer whose chunk said the numbering restarted, and when
  std::int64_t mRestartWitnessUs = 0;
  Held mRestartWitnessed{};  // its chunk
  partyhub::FlatMap<SeqWindow> mKnows;  // what each peer is known to hold
  partyhub::FlatMap<std::int64_t> mFirstHeardOf;  // seq -> when a neighbour first had it
  struct Asked {
    std::int64_t atUs = 0;
    PeerId of = 0;
  };
  partyhub::FlatMap<Asked> mRequested;  // seq -> when we asked, and whom
  // Peers that let our requests time out: how many since one was answered,
  // the last when. From kUnansweredToAvoid on, they are asked only if no
  // one else holds the chunk (a peer that claims everything and answers
  // nothing would draw every pull), for kAvoidUnansweredUs after the last,
  // doubled with each one more (up to kAvoidDoublings times). Forgotten
  // after the longest of those.
  struct Unanswered {
    std::uint32_t count = 0;
    std::int64_t lastUs = 0;
  };
  static constexpr std::uint32_t kUnansweredToAvoid = 2;
  static constexpr std::int64_t kAvoidUnansweredUs = 2'000'000;
  static constexpr std::uint32_t kAvoidDoublings = 4;
  partyhub::FlatMap<Unanswered> mUnanswered;
  [[nodiscard]] bool avoided(PeerId peer, std::int64_t nowUs) const;
  partyhub::FlatMap<std::vector<PeerId>> mSentTo;  // seq -> who we sent it to


  std::uint32_t mNextGive = 0;  // budget for the copy about to be sent
  std::vector<std::uint64_t> mBudgeted;  // held seqs with push budget left, ascending
  partyhub::FlatMap<std::int64_t> mRtt;  // measured round-trip times, µs
  /// The closest peers measured, nearest first, and their RTTs: a peer
  /// measured once stays a candidate neighbour while it answers (a view's
  /// random sample holds few close peers; these are kept across shuffles).
  std::vector<std::pair<std::int64_t, PeerId>> mClosest;
  static constexpr std::size_t kClosestKept = 16;
  static constexpr std::size_t kClosestTold = 4;  // of ours a pong carries: the asker's candidates
  std::size_t mVicinityPings = 0;  // pings this neighbour period to peers a close peer named

  std::vector<Queued> mQueue;
  std::int64_t mBacklogUs = 0;
  std::int64_t mBacklogAtUs = 0;

  static constexpr int kMissesBeforeSuspect = 2;
  static constexpr std::size_t kDeparturesKept = 512;  // a few seconds of copies: stamps come back within a round trip
  static constexpr std::int64_t kViewFullMemoryUs = 10'000'000;
  std::int64_t mViewFullAtUs = -1;  // last tick our view was full
  std::int64_t mLastTickUs = 0;
  std::int64_t mJoinedUs = 0;
  std::vector<Unacked> mUnacked;
  // No earlier than the soonest dueUs among mUnacked (maybe earlier: an
  // acknowledgement does not raise it; checkAcks makes it exact).
  std::int64_t mUnackedDueUs = std::numeric_limits<std::int64_t>::max();
  partyhub::FlatMap<AckDelay> mAckDelay;
  std::deque<TimedOut> mTimedOut;  // pushes given up lately: a late acknowledgement still teaches the delay
  partyhub::FlatMap<int> mMisses;  // unacknowledged pushes in a row
  std::size_t mSuspects = 0;       // peers in mMisses at kMissesBeforeSuspect or more
  partyhub::FlatMap<std::vector<std::uint64_t>> mAcksOwed;  // peer -> seqs it pushed us
  // A peer that estimates its upload asks when its chunks came (their
  // one-way delay): the newest one's arrival, sent on our next HAVE to it.
  struct Stamp {
    std::uint64_t seq = 0;
    std::int64_t recvUs = 0;
  };
  partyhub::FlatMap<Stamp> mStampsOwed;
  // Pull answers each peer may still have from us: a burst, and one more
  // for every two chunks we take. A peer asks for the few chunks it missed;
  // one asking for everything we hold, over and over, gets at most half a
  // stream's worth, not our whole uplink (and a burst of 32, answered ahead
  // of our pushes, held them up for 400 ms: a hole in our subtree).
  struct AnswerAllowance {
    std::uint32_t left = 0;
    std::uint64_t at = 0;  // mStats.chunksReceived when `left` was counted
  };
  static constexpr std::uint32_t kAnswerBurst = 16;
  static constexpr std::uint64_t kChunksPerAnswer = 2;  // the allowance grows by one per this many chunks taken
  partyhub::FlatMap<AnswerAllowance> mAnswerAllowance;
  /// Whether `peer` may have one more answer from us (and counts it).
  bool mayAnswer(PeerId peer);
  /// Forgets unanswered requests and answer allowances that say nothing
  /// any more (as prune() does for chunks).
  void forgetTrust();
  // Our chunks' departures (their first byte), the last few hundred, for
  // the stamps that come back (only with an upload estimate).
  struct Departure {
    PeerId peer;
    std::uint64_t seq;
    std::int64_t firstByteUs;
  };
  std::deque<Departure> mDepartures;
  std::vector<std::uint64_t> mPendingHaves;
  std::vector<std::uint64_t> mSeqScratch;  // flushHaves' per-neighbour list, reused
  std::int64_t mNextHaveFlushUs = 0;
  std::int64_t mNextHaveBroadcastUs = 0;
  std::int64_t mNextPullUs = 0;
  AnswerBudget mAnswers;  // gossip replies and pongs: their share of the upload
  std::optional<UploadEstimator> mUploadEstimate;  // NodeConfig::estimateUpload
};

}  // namespace partyhub::streamer::overlay
