// First-version streamer brain: the channel's source streamer stamps and
// injects chunks; every streamer delivers new chunks to its local players and
// floods them on to its configured peers; duplicates are suppressed by
// (channel, seq); keyframe requests travel back towards the source along the
// path chunks came from. Pure: events in (with `now`), actions out. The overlay
// issue replaces flooding with epidemic scheduling behind the same events.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <unordered_set>
#include <vector>

#include "control_router.hpp"
#include "partyhub/common/latency_histogram.hpp"
#include "peer_actions.hpp"
#include "partyhub/v1/peer.pb.h"

namespace partyhub::streamer {

struct RelayStats {
  std::uint64_t chunksFromSource = 0;
  std::uint64_t chunksFromPeers = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t chunksToPeers = 0;
  std::uint64_t keyframeRequestsForwarded = 0;
  std::uint64_t keyframeRequestsSuppressed = 0;
  std::uint64_t restarts = 0;  // overlay: a channel's numbering started over
  std::uint64_t repushes = 0;  // overlay: pushes sent again, unacknowledged
  std::uint64_t lateAcks = 0;  // overlay: of those, acknowledged after all (late, not lost)
  std::uint64_t answersShed = 0;
  std::uint64_t implausibleSeqs = 0;   // overlay: chunks and announced seqs numbered far beyond the stream, dropped
  std::uint64_t requestsRefused = 0;   // overlay: seqs asked of us beyond the asker's allowance  // overlay: gossip replies and pongs over their share of the upload, not sent
  std::uint32_t uploadBudgetKbps = 0;  // overlay: the budget now (configured, or estimated)
  // Overlay, the tree scheduler: parents gained and lost, subscribers
  // refused, children displaced, chunks backfilled (stats.proto).
  std::uint64_t treeParentChanges = 0, treeOrphaned = 0, treeRefused = 0, treeDisplaced = 0, treeBackfilled = 0,
                treeReasked = 0, treeStaleParents = 0, treeHomeMoves = 0;
  std::uint32_t channels = 1;
  LatencyHistogram overlayDelay;
};

struct RelayConfig {
  bool isSource = false;
  std::uint32_t channelId = 1;
  std::vector<PeerId> peers;           // where new chunks are pushed
  std::size_t dedupWindow = 8192;      // chunks remembered per channel
  std::int64_t keyframeRequestGapUs = 200'000;
};

class Relay {
 public:
  explicit Relay(RelayConfig config);

  void onLocalChunk(v1::Chunk chunk, std::int64_t nowUs, RelayActions& out);
  void onPeerMessage(PeerId from, const v1::PeerMessage& msg, std::int64_t nowUs, RelayActions& out);
  void onPlayerControl(const v1::Control& control, std::int64_t nowUs, RelayActions& out);

  [[nodiscard]] const RelayStats& stats() const { return mStats; }
  [[nodiscard]] std::size_t knownPeers() const { return mConfig.peers.size() + mLearned.size(); }

 private:
  bool markSeen(std::uint32_t channel, std::uint64_t seq);
  void forwardControl(const v1::Control& control, PeerId from, std::int64_t nowUs, RelayActions& out);
  [[nodiscard]] std::vector<PeerId> knownPeerList() const;

  RelayConfig mConfig;
  RelayStats mStats;
  std::uint64_t mNextSeq = 0;
  struct Seen {
    std::unordered_set<std::uint64_t> set;
    std::deque<std::uint64_t> order;
  };
  std::map<std::uint32_t, Seen> mSeen;
  std::map<std::uint32_t, PeerId> mUpstream;  // last peer a channel's chunk came from
  std::set<PeerId> mLearned;                   // peers that talked to us first
  ControlRouter mControl;
};

}  // namespace partyhub::streamer
