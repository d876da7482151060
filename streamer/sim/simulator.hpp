// partyhub-sim's engine: a seeded discrete-event simulation that runs N
// instances of the very same overlay Node the streamer runs, over a network
// model with per-peer upload capacity (the uplink serialises what a peer
// sends), latency from positions in a plane, random datagram loss and churn.
// Reproducible: the same scenario and seed give the same numbers.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "partyhub/common/latency_histogram.hpp"

namespace partyhub::streamer::sim {

struct Scenario {
  std::size_t peers = 200;           // not counting the source
  double seconds = 20;
  double warmupS = 3;                // chunks injected before this are not measured
  // Chunks injected from this on also make the settled delay: the overlay
  // formed after everyone joined in the first second (a flash crowd the
  // window above starts in; at N = 5000 its trees take ~8 s to settle).
  double settledS = 10;
  std::string scheduler = "push";
  std::uint32_t stripes = 4;         // the "tree" scheduler's (TreeConfig)
  double treeUtilisation = 0.7;      // the "tree" scheduler's (TreeConfig)
  std::uint64_t seed = 1;
  double chunkRate = 30;             // chunks per second
  double streamKbps = 1000;
  double uploadMeanX = 2.0;          // mean upload / stream rate
  double poorFraction = 0.2;         // share of peers at poorX
  double poorX = 0.5;
  double sourceUploadX = 5.0;
  double latencyMinMs = 10;
  double latencyMaxMs = 80;
  double loss = 0.01;                // per datagram
  bool fragmentRepair = true;        // missing fragments asked for again, as the streamer does
  // Cut-through forwarding, as the streamer does it (transport/cut_through.hpp):
  // a relay hears of a chunk at its first datagram, decides its copies then,
  // and passes each datagram on as it lands (a copy's datagram leaves no
  // sooner than it came in). False: store and forward.
  bool cutThrough = true;
  double churnPerMin = 0;            // share of peers leaving (half crash) per minute, as many joining
  std::uint32_t sourceCopies = 3;
  std::size_t neighbours = 10;
  double closeShare = 0.8;  // of them, the closest found
  double tickMs = 10;
  double haveBroadcastMs = 0;        // see NodeConfig::haveBroadcastUs
  double pullAfterMs = 300;          // see NodeConfig
  double overlaySizeX = 2;           // the source's push budget, in peers (the group size is known)
  // HRC's queueing-delay target (NodeConfig::maxQueueDelayUs). The
  // simulator's clock is exact, so the next copy can be chosen the moment
  // the uplink drains: every decision as late, with knowledge as fresh, as
  // can be (N=2000, 12 s: worst peer 0.963 -> 0.971, p99 918 -> 886 ms
  // against 4 ms). The streamer keeps 4 ms: its timers fire late, and an
  // empty queue would leave the uplink idle meanwhile.
  double maxQueueDelayMs = 0;
};

/// One peer present from the measurement window's start to the end.
struct PeerResult {
  std::uint32_t index = 0;           // 1.. (0 is the source)
  double uploadKbps = 0;
  double latencyToSourceMs = 0;      // one-way, direct
  double deliveryRatio1s = 0;
  double uploadUse = 0;              // bytes sent / (capacity * its time in the run)
  std::size_t neighbours = 0;        // at the end
  std::uint64_t requests = 0;        // pulls it asked for
  std::uint64_t duplicates = 0;
};

/// Where a chunk's time goes on each hop, mean over every copy sent (ms):
/// waiting at the relay for its turn on the uplink (first copy, later
/// copies, answers to pull requests), then behind what is already on the
/// uplink, its own transmission, and the link's latency.
struct HopDelay {
  double firstCopyWaitMs = 0;
  double laterCopyWaitMs = 0;
  double answerWaitMs = 0;
  double uplinkQueueMs = 0;
  double transmissionMs = 0;
  double latencyMs = 0;
};

/// One second of injections, every peer then alive counted (the warm-up
/// too): how the overlay forms and settles.
struct Second {
  double deliveryRatio1s = 0;  // receptions within 1 s / (chunks x peers alive at injection)
  double p50Ms = 0;
  double p99Ms = 0;
  double pushedP99Ms = 0;  // of the receptions not pulled: the trees' own
  double meanHops = 0;     // of the second's receptions
  double pulledShare = 0;  // of the second's receptions
  // The tree scheduler's activity over the second, summed over the peers
  // (SchedulerStats), and its stripes without a parent at the second's end.
  std::uint64_t parentChanges = 0, orphaned = 0, refused = 0, displaced = 0, homeMoves = 0, parentless = 0;
};

/// Receptions in the window by delay (10 ms bins, the last one open-ended):
/// what the slow ones have in common (their paths' hops, pulls).
struct DelayBin {
  std::uint64_t count = 0, hopsSum = 0, pulled = 0;
  [[nodiscard]] double meanHops() const { return count == 0 ? 0 : static_cast<double>(hopsSum) / static_cast<double>(count); }
  [[nodiscard]] double pulledShare() const { return count == 0 ? 0 : static_cast<double>(pulled) / static_cast<double>(count); }
};
struct TailProfile {
  static constexpr std::int64_t kBinUs = 10'000;
  std::array<DelayBin, 200> bins{};
  /// Receptions at least `fromMs` late (to the bin: the one that holds
  /// `fromMs` counts whole; beyond 2 s the last, open-ended bin is not
  /// split): their count, hops and pulls.
  [[nodiscard]] DelayBin from(double fromMs) const;
};

struct Result {
  std::size_t peers = 0;
  double minDeliveryRatio1s = 0;     // worst peer: chunks within 1 s / chunks it should have had
  double meanDeliveryRatio1s = 0;
  LatencyHistogram delay;            // injection -> received, all receptions in the window
  LatencyHistogram pushedDelay;      // the same, of chunks that came by push alone
  LatencyHistogram settledDelay;     // the same, of chunks injected from Scenario::settledS on
  double pulledShare = 0;            // receptions that needed a pull
  double meanHops = 0;
  std::uint32_t maxHops = 0;
  double duplicateRatio = 0;         // duplicate chunk receptions / useful ones
  double signallingOverhead = 0;     // non-payload bytes / payload bytes, all peers
  double meanUploadUse = 0;          // bytes sent / (capacity * time), mean over peers
  double lowerBoundMs = 0;
  double chunkUploadMs = 0;
  double lowerBoundCutThroughMs = 0;  // the same bound for relays that pass datagrams on as they land
  double wallS = 0;
  std::uint64_t events = 0;
  std::size_t survivors = 0;         // peers present from start to end (churn)
  std::uint64_t chunksSent = 0, requests = 0, staleDropped = 0, received = 0, repushes = 0;
  std::uint64_t fragmentRepairs = 0;  // fragment resends (each after a request that got through)
  std::vector<PeerResult> perPeer;   // measured peers, worst delivery first
  HopDelay hop;
  TailProfile tail;
  std::vector<Second> timeline;      // from the first injection, one per simulated second
};

Result run(const Scenario& s);

/// Lower bound on the time for one chunk to reach all N peers when every peer
/// uploads at the mean rate (Abeni, Kiraly, Lo Cigno, "On the optimal
/// scheduling of streaming applications in unstructured meshes", 2009):
/// (ceil(log2 N) + 1) chunk-upload times; extended with link latency: every
/// one of the ceil(log2 N) hops of the last copy costs at least the smallest
/// one-way latency.
double lowerBoundMs(std::size_t n, double chunkUploadMs, double latencyMinMs);
/// The same argument for cut-through relays, which may pass a chunk's first
/// datagram on before the rest is in: the first datagram reaches all N peers
/// no sooner than (ceil(log2 N) + 1) datagram-upload times and
/// ceil(log2 N) latencies, and the last peer's copy has the chunk's other
/// datagrams still to come (chunk-upload minus datagram-upload time). With a
/// chunk of one datagram it is lowerBoundMs. Not the bound: the
/// fairer one for a relay that cuts through, reported beside it.
double lowerBoundCutThroughMs(std::size_t n, double chunkUploadMs, double datagramUploadMs, double latencyMinMs);

}  // namespace partyhub::streamer::sim
