// Chunk scheduling policies, chosen by name as GRAPES did: "push" (PartyHub's:
// push every new chunk at once to the neighbours that lack it, best-provisioned
// first, the source only k copies) and "offer-accept" (PeerStreamer's: offer
// the buffer map to a few neighbours periodically, receivers accept the latest
// useful chunks). Both act through a SchedulerHost and never see a socket.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "message.hpp"

namespace partyhub::streamer::overlay {

/// How much to prefer `peer` as the next hop of a chunk or the owner to pull
/// one from: its upload over its distance (unmeasured RTTs count as 100 ms),
/// so chunks lean towards peers that pass them on soon.
inline double preference(std::uint32_t uploadKbps, std::int64_t rttUs) {
  const double upload = uploadKbps > 0 ? uploadKbps : 1;
  return upload / (10.0 + static_cast<double>(rttUs > 0 ? rttUs : 100'000) / 1000.0);
}

/// An index drawn with probability proportional to its weight (not all
/// zero); the last one when rounding leaves a sliver.
inline std::size_t weightedPick(const std::vector<double>& weights, std::mt19937_64& rng) {
  double total = 0;
  for (double w : weights) total += w;
  double pick = std::uniform_real_distribution<double>(0, total)(rng);
  std::size_t chosen = 0;
  while (chosen + 1 < weights.size() && (pick -= weights[chosen]) > 0) ++chosen;
  return chosen;
}

/// Which queued copies go first: a subscriber's (a tree child: its whole
/// subtree waits on it), then answers to requests (someone is waiting),
/// then the rest (offer/accept). Subscriptions in seq order (every child
/// wants them all), the others freshest first.
enum class SendClass : std::uint8_t { kOffered, kRequested, kSubscribed };

/// How a scheduler's structure moves (the tree scheduler's; zero for others).
struct SchedulerStats {
  std::uint64_t parentChanges = 0;  // a parent admitted us in a stripe
  std::uint64_t orphaned = 0;       // a parent lost: it dropped us, went silent or left
  std::uint64_t refused = 0;        // subscribers we could not take
  std::uint64_t displaced = 0;      // children that made room for one serving more
  std::uint64_t backfilled = 0;     // chunks queued for a new child, to fill its switch's hole
  std::uint64_t reasked = 0;        // a quiet parent asked again whether we are its child
  std::uint64_t staleParents = 0;   // a peer still pushing us a stripe it is not our parent in, told to stop
  std::uint64_t homeMoves = 0;      // our home stripe moved to one no neighbour served, or one short of slots
  std::uint64_t parentless = 0;     // now: stripes with no parent (a gauge, not a count)
};

/// What a scheduler may see and do; implemented by the Node.
class SchedulerHost {
 public:
  virtual ~SchedulerHost() = default;
  [[nodiscard]] virtual bool isSource() const = 0;
  [[nodiscard]] virtual std::uint32_t sourceCopies() const = 0;
  [[nodiscard]] virtual const std::vector<PeerId>& neighbours() const = 0;
  [[nodiscard]] virtual std::uint32_t uploadOf(PeerId peer) const = 0;
  /// Whether `peer` is known to hold `seq` (it said so, sent it, or we sent it).
  [[nodiscard]] virtual bool peerHas(PeerId peer, std::uint64_t seq) const = 0;
  [[nodiscard]] virtual bool holds(std::uint64_t seq) const = 0;
  /// Recent seqs we hold, newest first, at most `max`.
  [[nodiscard]] virtual std::vector<std::uint64_t> recentHeld(std::size_t max) const = 0;
  /// Queue `seq` for `peer` on the rate-controlled upload queue.
  virtual void enqueueChunk(PeerId peer, std::uint64_t seq, SendClass cls) = 0;
  /// Peers we already sent `seq` to.
  [[nodiscard]] virtual std::size_t copiesSent(std::uint64_t seq) const = 0;
  [[nodiscard]] virtual bool sentTo(PeerId peer, std::uint64_t seq) const = 0;
  /// Push budget: how many more peers we are responsible for reaching with
  /// `seq` (through the copies we send and the budgets we hand on).
  [[nodiscard]] virtual std::uint32_t budget(std::uint64_t seq) const = 0;
  /// The peers we were delegated to reach with `seq` (structured push in an
  /// overlay we know whole); empty when any lacking neighbour will do.
  [[nodiscard]] virtual const std::vector<PeerId>& delegates(std::uint64_t seq) const = 0;
  /// Seqs we still hold push budget for, oldest first (a short list).
  [[nodiscard]] virtual const std::vector<std::uint64_t>& budgeted() const = 0;
  /// Hands `give` of our budget for `seq` to the next copy we send.
  virtual void handOn(std::uint64_t seq, std::uint32_t give) = 0;
  [[nodiscard]] virtual std::uint32_t ownUploadKbps() const = 0;
  /// Measured round-trip time to `peer`, µs; 0 when not measured yet.
  [[nodiscard]] virtual std::int64_t rttOf(PeerId peer) const = 0;
  /// False for a neighbour that has gone quiet while chunks flow: likely dead,
  /// so a push to it (and the budget it carries) would be lost.
  [[nodiscard]] virtual bool responsive(PeerId peer, std::int64_t nowUs) const = 0;
  /// False while every peer is responsive (the usual case: then no one need
  /// be asked).
  [[nodiscard]] virtual bool anyUnresponsive() const = 0;
  /// An overlay small enough that our neighbours' tree states are everyone's
  /// (so a stripe none of them serves is served by no one).
  [[nodiscard]] virtual bool smallOverlay() const = 0;
  virtual void sendControl(PeerId peer, Message m) = 0;
  virtual std::mt19937_64& rng() = 0;
  /// Of a chunk we hold: when the source injected it, its hop count to us,
  /// its payload bytes.
  [[nodiscard]] virtual std::int64_t injectedOf(std::uint64_t seq) const = 0;
  [[nodiscard]] virtual std::uint32_t hopsOf(std::uint64_t seq) const = 0;
  [[nodiscard]] virtual std::size_t bytesOf(std::uint64_t seq) const = 0;
  /// Pull `seqs` from `peer` now (it should have them).
  virtual void request(PeerId peer, const std::vector<std::uint64_t>& seqs) = 0;
};

/// The "tree" scheduler's settings.
struct TreeConfig {
  std::uint32_t stripes = 4;         // chunk seq mod stripes: one tree each
  double utilisation = 0.7;          // share of the upload that children may take
  std::int64_t statePeriodUs = 500'000;  // how often neighbours hear where we are in the trees
  /// Buffer maps (for pull repair only) at most this often. 300 ms, not
  /// 200: a third fewer messages, and at N = 2000 (60 s, seeds 1-2) p99
  /// 592/609 -> 583/588 ms with the worst peer 0.9976/0.9970 ->
  /// 0.9970/0.9964; 400 ms was worse (20 s, seed 2: worst peer 0.979).
  std::int64_t haveBroadcastUs = 300'000;
};

class Scheduler {
 public:
  /// The simulator's tick, and the streamer's before it asked nextTickUs().
  static constexpr std::int64_t kRegularTickUs = 10'000;

  virtual ~Scheduler() = default;
  [[nodiscard]] virtual const char* name() const = 0;
  /// We just got `seq` (from the source or a peer `from`, 0 for local);
  /// `asked`: it answers a request of ours (not a push).
  virtual void onNewChunk(SchedulerHost& host, std::uint64_t seq, PeerId from, bool asked, std::int64_t nowUs) = 0;
  virtual void onTick(SchedulerHost& host, std::int64_t nowUs) = 0;
  /// When onTick next has work, given the last tick; by default the next
  /// regular tick (10 ms on), for schedulers that keep no timetable.
  [[nodiscard]] virtual std::int64_t nextTickUs(std::int64_t lastTickUs) const { return lastTickUs + kRegularTickUs; }
  /// The uplink is free: what to send next, if anything ({peer, seq}).
  virtual std::optional<std::pair<PeerId, std::uint64_t>> nextSend(SchedulerHost& host, std::int64_t nowUs) = 0;
  /// Offers, accepts and the tree's messages (other messages never reach the scheduler).
  virtual void onMessage(SchedulerHost& host, PeerId from, const Message& m, std::int64_t nowUs) = 0;
  /// When a chunk that a neighbour announced (first at `firstHeardUs`) and
  /// we miss may be pulled; by default `pullAfterUs` after that.
  [[nodiscard]] virtual std::int64_t pullAtUs(std::uint64_t seq, std::int64_t firstHeardUs, std::int64_t pullAfterUs) const {
    (void)seq;
    return firstHeardUs + pullAfterUs;
  }
  /// How often buffer maps must go to every neighbour at least (0: with
  /// every batch). A scheduler that pushes by subscription needs them only
  /// for pull repair.
  [[nodiscard]] virtual std::int64_t haveBroadcastUs() const { return 0; }
  /// Whether most neighbours should be the closest peers found (a tree's
  /// hops are then short), or half (an epidemic needs random ones: push at
  /// N = 2000 with its close half kept across shuffles fell from 0.998 to
  /// 0.94 mean delivery within 1 s).
  [[nodiscard]] virtual bool prefersClose() const { return false; }
  [[nodiscard]] virtual SchedulerStats stats() const { return {}; }
  /// `peer` left gracefully.
  virtual void onPeerGone(SchedulerHost&, PeerId) {}
  /// Peers we push to and take chunks from by subscription (the tree's
  /// children and parents): neighbours whatever the neighbourhood says.
  virtual void partners(std::vector<PeerId>&) const {}
};

/// "push", "offer-accept" or "tree"; throws std::invalid_argument for anything else.
std::unique_ptr<Scheduler> makeScheduler(const std::string& name, const TreeConfig& tree = {});

}  // namespace partyhub::streamer::overlay
