#include "overlay_adapter.hpp"

#include "overlay_codec.hpp"

namespace partyhub::streamer {

OverlayAdapter::OverlayAdapter(PeerId self, OverlayAdapterConfig config, std::uint64_t seed)
    : mConfig(std::move(config)), mNode(self, mConfig.node, seed) {}

void OverlayAdapter::convert(PeerId from, std::int64_t nowUs, RelayActions& out) {
  for (auto& [to, m] : mScratch.sends) {
    if (m.type == overlay::MsgType::kChunk) ++mStats.chunksToPeers;
    out.toPeers.push_back({to, encodeOverlay(m)});
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

void OverlayAdapter::onPeerMessage(PeerId from, v1::PeerMessage&& msg, std::int64_t nowUs, RelayActions& out) {
  if (msg.has_control()) {
    forwardControl(msg.control(), from, nowUs, out);
    return;
  }
  auto m = decodeOverlay(std::move(msg));
  if (!m) return;
  if (m->type == overlay::MsgType::kChunk && m->chunk->channel_id() != mConfig.channelId) return;
  const std::uint64_t before = mNode.stats().chunksReceived;
  mNode.onMessage(from, *m, nowUs, mScratch);
  mStats.chunksFromPeers += mNode.stats().chunksReceived - before;
  convert(from, nowUs, out);
}

void OverlayAdapter::onPlayerControl(const v1::Control& control, std::int64_t nowUs, RelayActions& out) {
  forwardControl(control, 0, nowUs, out);
}

void OverlayAdapter::onTick(std::int64_t nowUs, RelayActions& out) {
  mNode.onTick(nowUs, mScratch);
  convert(0, nowUs, out);
}

void OverlayAdapter::forwardControl(const v1::Control& control, PeerId from, std::int64_t nowUs, RelayActions& out) {
  if (control.has_keyframe()) {
    // One request per gap, whoever asks: also stops requests circling.
    if (mLastKeyframeRequestUs != 0 && nowUs - mLastKeyframeRequestUs < mConfig.keyframeRequestGapUs) {
      ++mStats.keyframeRequestsSuppressed;
      return;
    }
    mLastKeyframeRequestUs = nowUs;
    ++mStats.keyframeRequestsForwarded;
  }
  if (mConfig.node.isSource) {
    out.toSource.push_back(control);
    return;
  }
  v1::PeerMessage msg;
  *msg.mutable_control() = control;
  if (mUpstream != 0 && mUpstream != from) {
    out.toPeers.push_back({mUpstream, std::move(msg)});
    return;
  }
  for (PeerId b : mConfig.bootstrap) {
    if (b != from) out.toPeers.push_back({b, msg});
  }
}

const RelayStats& OverlayAdapter::stats() const {
  mStats.duplicates = mNode.stats().duplicates;
  return mStats;
}

}  // namespace partyhub::streamer
