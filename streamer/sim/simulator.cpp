#include "simulator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <deque>
#include <memory>
#include <queue>
#include <random>

#include "core/fragmenter.hpp"
#include "core/overlay/node.hpp"
#include "event_queue.hpp"
#include "link_model.hpp"

namespace partyhub::streamer::sim {

using overlay::Message;
using overlay::Node;
using overlay::NodeActions;
using overlay::PeerId;

DelayBin TailProfile::from(double fromMs) const {
  DelayBin out;
  const double first = std::clamp(fromMs * 1000 / kBinUs, 0.0, static_cast<double>(bins.size()));
  for (auto i = static_cast<std::size_t>(first); i < bins.size(); ++i) {
    out.count += bins[i].count;
    out.hopsSum += bins[i].hopsSum;
    out.pulled += bins[i].pulled;
  }
  return out;
}

double lowerBoundMs(std::size_t n, double chunkUploadMs, double latencyMinMs) {
  const double hops = std::ceil(std::log2(static_cast<double>(std::max<std::size_t>(2, n))));
  return (hops + 1) * chunkUploadMs + hops * latencyMinMs;
}

double lowerBoundCutThroughMs(std::size_t n, double chunkUploadMs, double datagramUploadMs, double latencyMinMs) {
  const double d = std::min(datagramUploadMs, chunkUploadMs);
  return lowerBoundMs(n, d, latencyMinMs) + (chunkUploadMs - d);
}

namespace {

enum class EventKind : std::uint8_t { kTick, kDeliver, kInject, kChurn, kJoin, kWake, kSample, kComplete, kFailed };

struct PeerState {
  std::unique_ptr<Node> node;
  double x = 0, y = 0;
  Uplink uplink;
  bool alive = false;
  std::int64_t joinedUs = 0;
  std::uint64_t inWindow = 0;  // chunks received within 1 s, injected in the window
  std::uint64_t bytesSent = 0;
  std::int64_t wakeAtUs = -1;  // a kWake is pending for this time
  IncomingRing incoming{};  // cut-through
};

class Sim {
 public:
  explicit Sim(const Scenario& s) : mS(s), mRng(s.seed), mLinks(s.loss, s.fragmentRepair, mRng) {}

  Result run() {
    const auto wallStart = std::chrono::steady_clock::now();
    setup();
    const auto end = static_cast<std::int64_t>(mS.seconds * 1e6);
    while (!mEvents.empty() && mEvents.top().at() <= end) {
      const Event e = mEvents.top();
      mEvents.pop();
      ++mResult.events;
      mNow = e.at();
      handle(e);
    }
    finish();
    mResult.wallS = std::chrono::duration<double>(std::chrono::steady_clock::now() - wallStart).count();
    return std::move(mResult);
  }

 private:
  static PeerId idOf(std::uint32_t index) { return static_cast<PeerId>(index) + 1; }
  static std::uint32_t indexOf(PeerId id) { return static_cast<std::uint32_t>(id - 1); }

  void push(std::int64_t at, EventKind kind, std::uint32_t peer, std::uint32_t from = 0, std::uint32_t slot = 0) {
    mEvents.push(Event{(static_cast<std::uint64_t>(at) << 32) | (mOrder++ & 0xffffffffu), peer, from, slot,
                       static_cast<std::uint8_t>(kind)});
  }

  overlay::NodeConfig configFor(std::uint32_t index) const {
    overlay::NodeConfig c;
    c.scheduler = mS.scheduler;
    c.tree.stripes = mS.stripes;
    c.tree.utilisation = mS.treeUtilisation;
    c.isSource = index == 0;
    c.sourceCopies = mS.sourceCopies;
    c.uploadKbps = static_cast<std::uint32_t>(mPeers[index].uplink.kbps);
    c.neighbours = mS.neighbours;
    c.closeShare = mS.closeShare;
    // The group manager knows the member count; a margin over it covers what
    // stale knowledge wastes (tuned in partyhub-sim, see README).
    c.overlaySizeHint = static_cast<std::uint32_t>(mS.overlaySizeX * static_cast<double>(mS.peers));
    c.pullAfterUs = static_cast<std::int64_t>(mS.pullAfterMs * 1000);
    c.haveBroadcastUs = static_cast<std::int64_t>(mS.haveBroadcastMs * 1000);
    c.maxQueueDelayUs = static_cast<std::int64_t>(mS.maxQueueDelayMs * 1000);
    return c;
  }

  void startPeer(std::uint32_t index) {
    PeerState& p = mPeers[index];
    p.node = std::make_unique<Node>(idOf(index), configFor(index), mRng());
    p.alive = true;
    p.joinedUs = mNow;
    p.uplink.freeUs = mNow;
    // Bootstrap through the source and a few random live peers.
    std::vector<PeerId> boot{idOf(0)};
    for (int i = 0; i < 3 && mPeers.size() > 2; ++i) {
      const auto j = static_cast<std::uint32_t>(1 + mRng() % (mPeers.size() - 1));
      if (j != index && mPeers[j].alive) boot.push_back(idOf(j));
    }
    NodeActions out;
    p.node->join(boot, mNow, out);
    apply(index, out);
    push(mNow + static_cast<std::int64_t>(mRng() % static_cast<std::uint64_t>(mTickUs)) + 1, EventKind::kTick, index);
  }

  void setup() {
    mTickUs = static_cast<std::int64_t>(mS.tickMs * 1000);
    mChunkBytes = static_cast<std::size_t>(mS.streamKbps * 1000 / 8 / mS.chunkRate);
    mPayload = std::string(mChunkBytes, 'x');
    std::uniform_real_distribution<double> unit(0, 1);
    // Upload: poorFraction at poorX, the rest such that the mean is uploadMeanX.
    const double richX = (mS.uploadMeanX - mS.poorFraction * mS.poorX) / (1 - mS.poorFraction);
    mPeers.resize(mS.peers + 1);
    for (std::size_t i = 0; i < mPeers.size(); ++i) {
      mPeers[i].x = unit(mRng);
      mPeers[i].y = unit(mRng);
      const double x = i == 0 ? mS.sourceUploadX : (unit(mRng) < mS.poorFraction ? mS.poorX : richX);
      mPeers[i].uplink.kbps = x * mS.streamKbps;
    }
    // The source first, then peers joining over the first second.
    startPeer(0);
    for (std::uint32_t i = 1; i < mPeers.size(); ++i) {
      push(static_cast<std::int64_t>(unit(mRng) * 1e6), EventKind::kJoin, i);
    }
    const auto interval = static_cast<std::int64_t>(1e6 / mS.chunkRate);
    for (std::int64_t t = kFirstInjectUs; t < static_cast<std::int64_t>(mS.seconds * 1e6); t += interval) {
      push(t, EventKind::kInject, 0);
    }
    if (mS.churnPerMin > 0) push(2'000'000, EventKind::kChurn, 0);
    for (std::int64_t t = kFirstInjectUs + 1'000'000; t <= static_cast<std::int64_t>(mS.seconds * 1e6); t += 1'000'000) {
      push(t, EventKind::kSample, 0);
    }
    mWindowStartUs = static_cast<std::int64_t>(std::max(mS.warmupS, 1.0) * 1e6);
    mWindowEndUs = static_cast<std::int64_t>(mS.seconds * 1e6) - 1'000'000;  // leave 1 s to arrive
    mSettledStartUs = std::max(mWindowStartUs, static_cast<std::int64_t>(mS.settledS * 1e6));
  }

  double latencyUs(std::uint32_t a, std::uint32_t b) const {
    const double d = std::hypot(mPeers[a].x - mPeers[b].x, mPeers[a].y - mPeers[b].y) / std::sqrt(2.0);
    return (mS.latencyMinMs + (mS.latencyMaxMs - mS.latencyMinMs) * d) * 1000;
  }

  void apply(std::uint32_t index, NodeActions& out) {
    PeerState& p = mPeers[index];
    for (std::size_t i = 0; i < out.sends.size(); ++i) {
      auto& [to, msg] = out.sends[i];
      const std::size_t bytes = out.sendBytes[i];
      p.bytesSent += bytes;
      mTotalBytes += bytes;
      mPayloadBytes += overlay::payloadBytes(msg);
      // The uplink serialises: transmission starts when it is free.
      const std::int64_t start = std::max(mNow, p.uplink.freeUs);
      p.uplink.freeUs = start + transmitUs(p.uplink.kbps, bytes);
      const std::uint32_t dst = indexOf(to);
      if (dst >= mPeers.size()) continue;
      const std::int64_t latency = static_cast<std::int64_t>(latencyUs(index, dst));
      if (msg.type == overlay::MsgType::kChunk) {
        mChunkQueueUs += start - mNow;
        mChunkTransmitUs += p.uplink.freeUs - start;
        mChunkLatencyUs += latency;
        ++mChunkMessages;
      }
      // As the streamer: a chunk of one datagram goes whole.
      if (mS.cutThrough && msg.type == overlay::MsgType::kChunk && msg.chunk && bytes > kMaxSinglePayload) {
        relay(index, dst, std::move(msg), start, bytes, latency);
        continue;
      }
      std::int64_t arrives = p.uplink.freeUs + latency;
      if (!cross(p, bytes, latency, arrives).whole) continue;
      const std::uint32_t slot = store(std::move(msg));
      push(arrives, EventKind::kDeliver, dst, index, slot);
    }
    for (const overlay::Delivery& d : out.delivered) record(index, d);
    out.clear();
    // Wake the node when its uplink drains, if that is before its next tick
    // and something waits for it.
    if (p.node && p.alive && p.node->waitsForUplink()) {
      const std::int64_t at = p.node->uplinkFreeAtUs();
      if (at > mNow && (p.wakeAtUs <= mNow || at < p.wakeAtUs)) {
        p.wakeAtUs = at;
        push(at, EventKind::kWake, index);
      }
    }
  }

  /// Cut-through: a chunk copy of several datagrams from `from` to `to` whose turn on the uplink
  /// is [start, uplink.freeUs), as if it were held whole. Its datagrams leave
  /// no sooner than they came in to `from`; the receiver hears of it at its
  /// first datagram (Message::coming) and has it whole at its last, repairs
  /// included. The uplink's turn is not stretched while a datagram is
  /// awaited: the transport sends other copies' datagrams meanwhile (a
  /// relay's uplink held until the body is in, copy after copy, gave a worse
  /// tail than store and forward: docs/overlay-notes.md), as the streamer's
  /// transport sends each datagram as it lands (transport/cut_through.hpp).
  void relay(std::uint32_t from, std::uint32_t to, Message&& msg, std::int64_t start, std::size_t bytes,
             std::int64_t latency) {
    PeerState& p = mPeers[from];
    const std::uint64_t seq = msg.chunk->seq();
    const std::size_t n = fragmentCount(bytes);
    const RelayTimes t = relayTimes(p.incoming, seq, start, p.uplink.freeUs, n);
    bool whole = t.whole;
    std::int64_t givenUpUs = t.givenUpUs;
    std::int64_t arrives = t.lastLeavesUs + latency;
    if (whole) {
      const Crossing c = cross(p, bytes, latency, arrives, t.firstLeavesUs + latency);
      whole = c.whole;
      if (!whole && c.lostFirst == n) return;  // not one datagram came
      if (!whole) givenUpUs = arrives + kGiveUpUs;
    } else {
      givenUpUs = std::max(givenUpUs, t.firstLeavesUs) + latency;
    }
    const std::int64_t firstArrives = t.firstLeavesUs + latency;
    noteIncoming(mPeers[to].incoming, seq, firstArrives, whole ? arrives : givenUpUs, whole);
    msg.coming = true;
    const std::uint32_t slot = store(std::move(msg));
    push(firstArrives, EventKind::kDeliver, to, from, slot);
    // The event's slot carries the seq (a run injects fewer than 2^32 chunks).
    push(whole ? arrives : givenUpUs, whole ? EventKind::kComplete : EventKind::kFailed, to, from,
         static_cast<std::uint32_t>(seq));
  }
  // A copy not whole after its repairs is given up this long after its last datagram.
  static constexpr std::int64_t kGiveUpUs = 300'000;

  /// A message from `p` over its lossy link (LossyLinks::cross); each
  /// repair's resend is counted as its send and charged to its node.
  Crossing cross(PeerState& p, std::size_t bytes, std::int64_t latency, std::int64_t& arrives,
                 std::int64_t firstArrives = -1) {
    const Crossing c = mLinks.cross(p.uplink, bytes, latency, arrives, firstArrives);
    for (std::uint32_t i = 0; i < c.repairs; ++i) {
      p.bytesSent += c.resentBytes[i];
      mTotalBytes += c.resentBytes[i];
      p.node->chargeUplink(c.resentBytes[i], mNow);
    }
    mResult.fragmentRepairs += c.repairs;
    return c;
  }

  std::uint32_t store(Message&& m) {
    if (!mFree.empty()) {
      const std::uint32_t slot = mFree.back();
      mFree.pop_back();
      mSlots[slot] = std::move(m);
      return slot;
    }
    mSlots.push_back(std::move(m));
    return static_cast<std::uint32_t>(mSlots.size() - 1);
  }

  void record(std::uint32_t index, const overlay::Delivery& d) {
    if (index == 0) return;
    const std::int64_t delay = mNow - d.injectedUs;
    if (Bucket* b = bucketOf(d.injectedUs)) {
      b->delay.record(delay);
      if (!d.pulled) b->pushed.record(delay);
      if (delay <= 1'000'000) ++b->within1s;
      ++b->received;
      b->hopsSum += d.hops;
      b->pulled += d.pulled ? 1 : 0;
    }
    if (d.injectedUs < mWindowStartUs || d.injectedUs >= mWindowEndUs) return;
    mResult.delay.record(delay);
    if (d.injectedUs >= mSettledStartUs) mResult.settledDelay.record(delay);
    if (d.pulled) {
      ++mPulled;
    } else {
      mResult.pushedDelay.record(delay);
    }
    mHopsSum += d.hops;
    ++mHopsCount;
    DelayBin& bin = mResult.tail.bins[std::min<std::size_t>(static_cast<std::size_t>(delay / TailProfile::kBinUs),
                                                            mResult.tail.bins.size() - 1)];
    ++bin.count;
    bin.hopsSum += d.hops;
    bin.pulled += d.pulled ? 1 : 0;
    mResult.maxHops = std::max(mResult.maxHops, d.hops);
    if (delay <= 1'000'000) ++mPeers[index].inWindow;
  }

  void handle(const Event& e) {
    PeerState& p = mPeers[e.peer];
    NodeActions& out = mOut;  // reused: apply() empties it, its buffers stay
    switch (static_cast<EventKind>(e.kind)) {
      case EventKind::kTick:
        if (!p.alive) return;
        p.node->onTick(mNow, out);
        apply(e.peer, out);
        push(mNow + mTickUs, EventKind::kTick, e.peer);
        break;
      case EventKind::kDeliver: {
        // Read in place (the slots are a deque: storing the messages this
        // one causes moves nothing), then freed.
        const Message& m = mSlots[e.slot];
        if (p.alive) {
          const std::uint64_t dupBefore = p.node->stats().duplicates;
          p.node->onMessage(idOf(e.from), m, mNow, out);
          mDuplicates += p.node->stats().duplicates - dupBefore;
          apply(e.peer, out);
        }
        mSlots[e.slot] = Message{};
        mFree.push_back(e.slot);
        break;
      }
      case EventKind::kInject: {
        auto chunk = std::make_shared<v1::Chunk>();
        chunk->set_seq(mNextSeq++);  // on the wire, a chunk's channel and kind go unsaid
        chunk->set_capture_us(mNow);
        chunk->set_payload(mPayload);
        if (mNow >= mWindowStartUs && mNow < mWindowEndUs) ++mInjectedInWindow;
        if (Bucket* b = bucketOf(mNow)) {
          for (std::size_t i = 1; i < mPeers.size(); ++i) b->expected += mPeers[i].alive ? 1 : 0;
        }
        p.node->onLocalChunk(std::move(chunk), mNow, out);
        apply(0, out);
        break;
      }
      case EventKind::kComplete:
        if (!p.alive) return;
        p.node->onChunkComplete(e.slot, nullptr, mNow, out);
        apply(e.peer, out);
        break;
      case EventKind::kFailed: {
        if (!p.alive) return;
        // Another copy's datagrams make the body whole: this one's failure is none.
        const std::uint64_t seq = e.slot;
        const Incoming& in = p.incoming[seq % p.incoming.size()];
        if (in.seq == seq && in.whole) return;
        p.node->onChunkFailed(idOf(e.from), seq, mNow, out);
        apply(e.peer, out);
        break;
      }
      case EventKind::kChurn: churn(); break;
      case EventKind::kSample: sample(); break;
      case EventKind::kJoin: startPeer(e.peer); break;
      case EventKind::kWake:
        if (!p.alive || e.at() != p.wakeAtUs) return;  // superseded
        p.node->onUplinkFree(mNow, out);
        apply(e.peer, out);
        break;
    }
  }

  void churn() {
    // Every second, a share of the peers leaves (half gracefully, half by
    // crashing) and as many new ones join.
    const double perSecond = mS.churnPerMin / 60.0 * static_cast<double>(mS.peers);
    mChurnCarry += perSecond;
    while (mChurnCarry >= 1) {
      mChurnCarry -= 1;
      const auto victim = static_cast<std::uint32_t>(1 + mRng() % (mPeers.size() - 1));
      if (!mPeers[victim].alive) continue;
      if (mRng() % 2 == 0) {
        NodeActions out;
        mPeers[victim].node->leave(mNow, out);
        apply(victim, out);
      }
      mPeers[victim].alive = false;
      addCounts(mGoneCounts, mPeers[victim].node->schedulerStats());
      mPeers[victim].node.reset();
      // A newcomer takes a fresh slot (new id), so nobody mistakes it for the old peer.
      PeerState fresh;
      std::uniform_real_distribution<double> unit(0, 1);
      fresh.x = unit(mRng);
      fresh.y = unit(mRng);
      fresh.uplink.kbps = mPeers[victim].uplink.kbps;
      mPeers.push_back(std::move(fresh));
      startPeer(static_cast<std::uint32_t>(mPeers.size() - 1));
    }
    push(mNow + 1'000'000, EventKind::kChurn, 0);
  }

  static void addCounts(overlay::SchedulerStats& into, const overlay::SchedulerStats& st) {
    into.parentChanges += st.parentChanges;
    into.orphaned += st.orphaned;
    into.refused += st.refused;
    into.displaced += st.displaced;
    into.homeMoves += st.homeMoves;
  }

  /// The schedulers' activity over the second that ends now (the counts of
  /// peers churned away kept, so the sums never go back).
  void sample() {
    overlay::SchedulerStats sum = mGoneCounts;
    for (const PeerState& p : mPeers) {
      if (!p.alive) continue;
      const overlay::SchedulerStats st = p.node->schedulerStats();
      addCounts(sum, st);
      sum.parentless += st.parentless;
    }
    Second s;
    s.parentChanges = sum.parentChanges - mSampled.parentChanges;
    s.orphaned = sum.orphaned - mSampled.orphaned;
    s.refused = sum.refused - mSampled.refused;
    s.displaced = sum.displaced - mSampled.displaced;
    s.homeMoves = sum.homeMoves - mSampled.homeMoves;
    s.parentless = sum.parentless;
    mSamples.push_back(s);
    mSampled = sum;
  }

  struct Bucket {  // one second of injections (Result::timeline)
    LatencyHistogram delay, pushed;
    std::uint64_t within1s = 0, expected = 0;
    std::uint64_t received = 0, hopsSum = 0, pulled = 0;
  };
  Bucket* bucketOf(std::int64_t injectedUs) {
    if (injectedUs < kFirstInjectUs) return nullptr;
    const auto i = static_cast<std::size_t>((injectedUs - kFirstInjectUs) / 1'000'000);
    if (i >= mBuckets.size()) mBuckets.resize(i + 1);
    return &mBuckets[i];
  }

  void finish() {
    for (std::size_t i = 0; i + 1 < mBuckets.size(); ++i) {  // the last second has not had its second to arrive
      const Bucket& b = mBuckets[i];
      Second t = i < mSamples.size() ? mSamples[i] : Second{};
      t.deliveryRatio1s = b.expected == 0 ? 0 : static_cast<double>(b.within1s) / static_cast<double>(b.expected);
      t.p50Ms = b.delay.percentileMs(0.5);
      t.p99Ms = b.delay.percentileMs(0.99);
      t.pushedP99Ms = b.pushed.percentileMs(0.99);
      if (b.received > 0) {
        t.meanHops = static_cast<double>(b.hopsSum) / static_cast<double>(b.received);
        t.pulledShare = static_cast<double>(b.pulled) / static_cast<double>(b.received);
      }
      mResult.timeline.push_back(t);
    }
    double minRatio = 1, sum = 0;
    std::size_t counted = 0;
    for (std::size_t i = 1; i < mPeers.size(); ++i) {
      const PeerState& p = mPeers[i];
      if (!p.alive || p.joinedUs > mWindowStartUs) continue;  // churned or joined late
      const double ratio = mInjectedInWindow == 0 ? 0 : static_cast<double>(p.inWindow) / static_cast<double>(mInjectedInWindow);
      const double presentS = mS.seconds - static_cast<double>(p.joinedUs) / 1e6;
      mResult.perPeer.push_back({static_cast<std::uint32_t>(i), p.uplink.kbps,
                                 latencyUs(0, static_cast<std::uint32_t>(i)) / 1000, ratio,
                                 static_cast<double>(p.bytesSent) * 8 / (p.uplink.kbps * 1000 * std::max(1.0, presentS)),
                                 p.node->neighbours().size(), p.node->stats().requests, p.node->stats().duplicates});
      minRatio = std::min(minRatio, ratio);
      sum += ratio;
      ++counted;
    }
    std::stable_sort(mResult.perPeer.begin(), mResult.perPeer.end(),
                     [](const PeerResult& a, const PeerResult& b) { return a.deliveryRatio1s < b.deliveryRatio1s; });
    mResult.peers = mS.peers;
    mResult.survivors = counted;
    mResult.minDeliveryRatio1s = counted == 0 ? 0 : minRatio;
    mResult.meanDeliveryRatio1s = counted == 0 ? 0 : sum / static_cast<double>(counted);
    mResult.meanHops = mHopsCount == 0 ? 0 : static_cast<double>(mHopsSum) / static_cast<double>(mHopsCount);
    mResult.pulledShare = mHopsCount == 0 ? 0 : static_cast<double>(mPulled) / static_cast<double>(mHopsCount);
    mResult.duplicateRatio = mHopsCount == 0 ? 0 : static_cast<double>(mDuplicates) / static_cast<double>(mHopsCount);
    mResult.signallingOverhead = mPayloadBytes == 0 ? 0 : static_cast<double>(mTotalBytes - mPayloadBytes) / static_cast<double>(mPayloadBytes);
    double use = 0;
    std::size_t users = 0;
    for (std::size_t i = 1; i < mPeers.size(); ++i) {
      if (mPeers[i].joinedUs > 1'000'000) continue;
      use += static_cast<double>(mPeers[i].bytesSent) * 8 / (mPeers[i].uplink.kbps * 1000 * mS.seconds);
      ++users;
    }
    mResult.meanUploadUse = users == 0 ? 0 : use / static_cast<double>(users);
    struct Mean {
      std::int64_t sumUs = 0;
      std::uint64_t n = 0;
      void add(std::int64_t us, std::uint64_t count) {
        sumUs += us;
        n += count;
      }
      double meanMs() const { return n == 0 ? 0 : static_cast<double>(sumUs) / 1000.0 / static_cast<double>(n); }
    } first, later, answer;
    for (const PeerState& p : mPeers) {
      if (!p.node) continue;
      const auto& st = p.node->stats();
      mResult.chunksSent += st.chunksSent;
      mResult.requests += st.requests;
      mResult.staleDropped += st.staleDropped;
      mResult.received += st.chunksReceived;
      mResult.repushes += st.repushes;
      first.add(st.firstCopyWaitUs, st.firstCopies);
      later.add(st.laterCopyWaitUs, st.laterCopies);
      answer.add(st.answerWaitUs, st.answers);
    }
    mResult.hop.firstCopyWaitMs = first.meanMs();
    mResult.hop.laterCopyWaitMs = later.meanMs();
    mResult.hop.answerWaitMs = answer.meanMs();
    const Mean queue{mChunkQueueUs, mChunkMessages}, transmit{mChunkTransmitUs, mChunkMessages},
        latency{mChunkLatencyUs, mChunkMessages};
    mResult.hop.uplinkQueueMs = queue.meanMs();
    mResult.hop.transmissionMs = transmit.meanMs();
    mResult.hop.latencyMs = latency.meanMs();
    const double meanUploadKbps = mS.uploadMeanX * mS.streamKbps;
    mResult.chunkUploadMs = static_cast<double>(mChunkBytes) * 8 / meanUploadKbps;
    mResult.lowerBoundMs = lowerBoundMs(mS.peers, mResult.chunkUploadMs, mS.latencyMinMs);
    // As the streamer, only a chunk of several datagrams cuts through.
    const bool cuts = mS.cutThrough && mChunkBytes > kMaxSinglePayload;
    const double datagramMs = static_cast<double>(cuts ? kMaxFragmentPayload : mChunkBytes) * 8 / meanUploadKbps;
    mResult.lowerBoundCutThroughMs = lowerBoundCutThroughMs(mS.peers, mResult.chunkUploadMs, datagramMs, mS.latencyMinMs);
  }

  Scenario mS;
  std::mt19937_64 mRng;
  LossyLinks mLinks;
  std::int64_t mChunkQueueUs = 0, mChunkTransmitUs = 0, mChunkLatencyUs = 0;  // over chunk messages sent
  std::uint64_t mChunkMessages = 0;
  Result mResult;
  std::vector<PeerState> mPeers;
  EventQueue mEvents;
  NodeActions mOut;
  std::deque<Message> mSlots;
  std::vector<std::uint32_t> mFree;
  std::uint64_t mOrder = 0;
  std::int64_t mNow = 0;
  std::int64_t mTickUs = 10'000;
  std::size_t mChunkBytes = 0;
  std::string mPayload;
  std::uint64_t mNextSeq = 0;
  std::int64_t mWindowStartUs = 0, mWindowEndUs = 0, mSettledStartUs = 0;
  std::uint64_t mInjectedInWindow = 0;
  std::vector<Bucket> mBuckets;
  std::vector<Second> mSamples;       // one per second from the first injection
  overlay::SchedulerStats mSampled;   // the counts at the last sample
  overlay::SchedulerStats mGoneCounts;  // the counts of peers churned away
  static constexpr std::int64_t kFirstInjectUs = 1'000'000;
  std::uint64_t mHopsSum = 0, mHopsCount = 0, mDuplicates = 0, mPulled = 0;
  std::uint64_t mTotalBytes = 0, mPayloadBytes = 0;
  double mChurnCarry = 0;
};

}  // namespace

Result run(const Scenario& s) { return Sim(s).run(); }

}  // namespace partyhub::streamer::sim
