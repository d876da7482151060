#include "overlay_adapter.hpp"

#include "overlay_codec.hpp"

namespace partyhub::streamer {

OverlayAdapter::OverlayAdapter(PeerId self, OverlayAdapterConfig config, std::uint64_t seed)
    : mConfig(std::move(config)), mNode(self, mConfig.node, seed), mControl(mConfig.keyframeRequestGapUs) {}

void OverlayAdapter::convert(PeerId from, std::int64_t nowUs, RelayActions& out) {
  for (auto& [to, m] : mScratch.sends) {
    if (m.type == overlay::MsgType::kChunk) ++mStats.chunksToPeers;
    out.toPeers.push_back({{to}, encodeOverlay(m)});
  }
  for (const overlay::Delivery& d : mScratch.delivered) {
    if (from != 0) {
      mUpstream = from;
      mStats.overlayDelay.record(nowUs - d.injectedUs);
    }
    out.toPlayers.push_back(*d.chunk);
  }
  mScratch.clear();
}

void OverlayAdapter::start(std::int64_t nowUs, RelayActions& out) {
  mNode.join(mConfig.bootstrap, nowUs, mScratch);
  convert(0, nowUs, out);
}

void OverlayAdapter::stop(std::int64_t nowUs, RelayActions& out) {
  mNode.leave(nowUs, mScratch);
  convert(0, nowUs, out);
}

void OverlayAdapter::onLocalChunk(v1::Chunk chunk, std::int64_t nowUs, RelayActions& out) {
  ++mStats.chunksFromSource;
  chunk.set_channel_id(mConfig.channelId);
  chunk.set_seq(mNextSeq++);
  mNode.onLocalChunk(std::make_shared<v1::Chunk>(std::move(chunk)), nowUs, mScratch);
  convert(0, nowUs, out);
}

void OverlayAdapter::onPeerMessage(PeerId from, v1::PeerMessage&& msg, std::int64_t nowUs, RelayActions& out,
                                   std::int64_t firstArrivalUs) {
  if (msg.has_control()) {
    forwardControl(msg.control(), from, nowUs, out);
    return;
  }
  // A chunk of another channel (the message says so, in the shared layout)
  // is not ours; one without a channel is our channel's.
  if (msg.channel() != 0 && msg.channel() != mConfig.channelId) return;
  auto m = decodeOverlay(std::move(msg), mConfig.channelId);
  if (!m) return;
  m->arrivedUs = firstArrivalUs;
  const std::uint64_t before = mNode.stats().chunksReceived;
  mNode.onMessage(from, *m, nowUs, mScratch);
  mStats.chunksFromPeers += mNode.stats().chunksReceived - before;
  convert(from, nowUs, out);
}

void OverlayAdapter::onChunkComplete(PeerId from, v1::PeerMessage&& msg, std::int64_t nowUs, RelayActions& out) {
  if (msg.channel() != 0 && msg.channel() != mConfig.channelId) return;
  auto m = decodeOverlay(std::move(msg), mConfig.channelId);
  if (!m || m->type != overlay::MsgType::kChunk) return;
  mNode.onChunkComplete(m->chunk->seq(), m->chunk, nowUs, mScratch);
  convert(from, nowUs, out);
}

void OverlayAdapter::onChunkFailed(PeerId from, std::uint32_t channel, std::uint64_t seq, std::int64_t nowUs,
                                   RelayActions& out) {
  if (channel != 0 && channel != mConfig.channelId) return;
  mNode.onChunkFailed(from, seq, nowUs, mScratch);
  convert(0, nowUs, out);
}

void OverlayAdapter::onPlayerControl(std::uint32_t /*channel*/, const v1::Control& control, std::int64_t nowUs,
                                     RelayActions& out) {
  forwardControl(control, 0, nowUs, out);
}

void OverlayAdapter::onTick(std::int64_t nowUs, RelayActions& out) {
  mNode.onTick(nowUs, mScratch);
  convert(0, nowUs, out);
}

void OverlayAdapter::onUplinkFree(std::int64_t nowUs, RelayActions& out) {
  mNode.onUplinkFree(nowUs, mScratch);
  convert(0, nowUs, out);
}

void OverlayAdapter::forwardControl(const v1::Control& control, PeerId from, std::int64_t nowUs, RelayActions& out) {
  mControl.route(control, mConfig.channelId, from, nowUs, mConfig.node.isSource, mUpstream, mConfig.bootstrap, out);
}

const RelayStats& OverlayAdapter::stats() const {
  mStats.duplicates = mNode.stats().duplicates;
  mStats.restarts = mNode.stats().restarts;
  mStats.repushes = mNode.stats().repushes;
  mStats.lateAcks = mNode.stats().lateAcks;
  mStats.answersShed = mNode.stats().answersShed;
  mStats.implausibleSeqs = mNode.stats().implausible;
  mStats.requestsRefused = mNode.stats().requestsRefused;
  mStats.uploadBudgetKbps = mNode.uploadBudgetKbps();
  const overlay::SchedulerStats tree = mNode.schedulerStats();
  mStats.treeParentChanges = tree.parentChanges;
  mStats.treeOrphaned = tree.orphaned;
  mStats.treeRefused = tree.refused;
  mStats.treeDisplaced = tree.displaced;
  mStats.treeBackfilled = tree.backfilled;
  mStats.treeReasked = tree.reasked;
  mStats.treeStaleParents = tree.staleParents;
  mStats.treeHomeMoves = tree.homeMoves;
  mStats.keyframeRequestsForwarded = mControl.forwarded();
  mStats.keyframeRequestsSuppressed = mControl.suppressed();
  return mStats;
}

}  // namespace partyhub::streamer
