#include "relay.hpp"

#include <algorithm>

namespace partyhub::streamer {

Relay::Relay(RelayConfig config) : mConfig(std::move(config)), mControl(mConfig.keyframeRequestGapUs) {}

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
  if (!mConfig.peers.empty()) {
    RelayActions::Send send{mConfig.peers, {}};
    auto* pc = send.message.mutable_chunk();
    *pc->mutable_chunk() = chunk;
    pc->set_injected_us(nowUs);
    pc->set_hops(1);
    mStats.chunksToPeers += mConfig.peers.size();
    out.toPeers.push_back(std::move(send));
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
    RelayActions::Send fwd;
    for (PeerId peer : mConfig.peers) {
      if (peer != from) fwd.peers.push_back(peer);
    }
    if (!fwd.peers.empty()) {
      fwd.message = msg;
      fwd.message.mutable_chunk()->set_hops(pc.hops() + 1);
      mStats.chunksToPeers += fwd.peers.size();
      out.toPeers.push_back(std::move(fwd));
    }
    out.toPlayers.push_back(chunk);
  } else if (msg.has_control()) {
    forwardControl(msg.control(), from, nowUs, out);
  }
}

void Relay::onPlayerControl(const v1::Control& control, std::int64_t nowUs, RelayActions& out) {
  forwardControl(control, /*from=*/0, nowUs, out);
}

std::vector<PeerId> Relay::knownPeerList() const {
  std::vector<PeerId> known(mConfig.peers);
  known.insert(known.end(), mLearned.begin(), mLearned.end());
  return known;
}

void Relay::forwardControl(const v1::Control& control, PeerId from, std::int64_t nowUs, RelayActions& out) {
  std::uint32_t channel = mConfig.channelId;
  if (control.has_keyframe() && control.keyframe().channel_id() != 0) channel = control.keyframe().channel_id();
  auto up = mUpstream.find(channel);
  mControl.route(control, mConfig.channelId, from, nowUs, mConfig.isSource, up == mUpstream.end() ? 0 : up->second,
                 knownPeerList(), out);
  mStats.keyframeRequestsForwarded = mControl.forwarded();
  mStats.keyframeRequestsSuppressed = mControl.suppressed();
}

}  // namespace partyhub::streamer
