#include "relay.hpp"

#include <algorithm>

namespace partyhub::streamer {

Relay::Relay(RelayConfig config) : mConfig(std::move(config)) {}

bool Relay::markSeen(std::uint32_t channel, std::uint64_t seq) {
  Seen& seen = mSeen[channel];
  if (!seen.set.insert(seq).second) return false;
  seen.order.push_back(seq);
  while (seen.order.size() > mConfig.dedupWindow) {
    seen.set.erase(seen.order.front());
    seen.order.pop_front();
  }
  return true;
}

void Relay::onLocalChunk(v1::Chunk chunk, std::int64_t nowUs, RelayActions& out) {
  ++mStats.chunksFromSource;
  chunk.set_channel_id(mConfig.channelId);
  chunk.set_seq(mNextSeq++);
  markSeen(chunk.channel_id(), chunk.seq());
  for (PeerId peer : mConfig.peers) {
    v1::PeerMessage msg;
    auto* pc = msg.mutable_chunk();
    *pc->mutable_chunk() = chunk;
    pc->set_injected_us(nowUs);
    pc->set_hops(1);
    out.toPeers.push_back({peer, std::move(msg)});
    ++mStats.chunksToPeers;
  }
  out.toPlayers.push_back(std::move(chunk));
}

void Relay::onPeerMessage(PeerId from, const v1::PeerMessage& msg, std::int64_t nowUs, RelayActions& out) {
  if (std::find(mConfig.peers.begin(), mConfig.peers.end(), from) == mConfig.peers.end()) {
    mLearned.insert(from);
  }
  if (msg.has_chunk()) {
    const v1::PeerChunk& pc = msg.chunk();
    const v1::Chunk& chunk = pc.chunk();
    if (!markSeen(chunk.channel_id(), chunk.seq())) {
      ++mStats.duplicates;
      return;
    }
    ++mStats.chunksFromPeers;
    mUpstream[chunk.channel_id()] = from;
    mStats.overlayDelay.record(nowUs - pc.injected_us());
    for (PeerId peer : mConfig.peers) {
      if (peer == from) continue;
      v1::PeerMessage fwd = msg;
      fwd.mutable_chunk()->set_hops(pc.hops() + 1);
      out.toPeers.push_back({peer, std::move(fwd)});
      ++mStats.chunksToPeers;
    }
    out.toPlayers.push_back(chunk);
  } else if (msg.has_control()) {
    forwardControl(msg.control(), from, nowUs, out);
  }
}

void Relay::onPlayerControl(const v1::Control& control, std::int64_t nowUs, RelayActions& out) {
  forwardControl(control, /*from=*/0, nowUs, out);
}

void Relay::forwardControl(const v1::Control& control, PeerId from, std::int64_t nowUs, RelayActions& out) {
  std::uint32_t channel = mConfig.channelId;
  if (control.has_keyframe()) {
    channel = control.keyframe().channel_id() != 0 ? control.keyframe().channel_id() : channel;
    // Many players see the same loss: pass one request on per gap, which also
    // stops a request from circling in a mesh.
    auto& last = mLastKeyframeRequestUs[channel];
    if (last != 0 && nowUs - last < mConfig.keyframeRequestGapUs) {
      ++mStats.keyframeRequestsSuppressed;
      return;
    }
    last = nowUs;
    ++mStats.keyframeRequestsForwarded;
  }
  if (mConfig.isSource) {
    out.toSource.push_back(control);
    return;
  }
  v1::PeerMessage msg;
  *msg.mutable_control() = control;
  auto up = mUpstream.find(channel);
  if (up != mUpstream.end() && up->second != from) {
    out.toPeers.push_back({up->second, std::move(msg)});
    return;
  }
  // No chunk seen yet on this channel: ask every peer we know but the sender.
  for (PeerId peer : mConfig.peers) {
    if (peer != from) out.toPeers.push_back({peer, msg});
  }
  for (PeerId peer : mLearned) {
    if (peer != from) out.toPeers.push_back({peer, msg});
  }
}

}  // namespace partyhub::streamer
