#include "shared_overlay.hpp"

#include <algorithm>
#include <limits>

#include "overlay_codec.hpp"

namespace partyhub::streamer {

namespace {

bool isSignalling(const v1::PeerMessage& m) {
  if (!m.has_overlay()) return false;
  const auto t = m.overlay().type();
  return t == v1::OverlayMessage::GOSSIP || t == v1::OverlayMessage::GOSSIP_REPLY || t == v1::OverlayMessage::LEAVE;
}

void add(RelayStats& into, const RelayStats& s) {
  into.chunksFromSource += s.chunksFromSource;
  into.chunksFromPeers += s.chunksFromPeers;
  into.duplicates += s.duplicates;
  into.chunksToPeers += s.chunksToPeers;
  into.keyframeRequestsForwarded += s.keyframeRequestsForwarded;
  into.keyframeRequestsSuppressed += s.keyframeRequestsSuppressed;
  into.restarts += s.restarts;
  into.repushes += s.repushes;
  into.lateAcks += s.lateAcks;
  into.answersShed += s.answersShed;
  into.implausibleSeqs += s.implausibleSeqs;
  into.requestsRefused += s.requestsRefused;
  into.uploadBudgetKbps += s.uploadBudgetKbps;
  into.treeParentChanges += s.treeParentChanges;
  into.treeOrphaned += s.treeOrphaned;
  into.treeRefused += s.treeRefused;
  into.treeDisplaced += s.treeDisplaced;
  into.treeBackfilled += s.treeBackfilled;
  into.treeReasked += s.treeReasked;
  into.treeStaleParents += s.treeStaleParents;
  into.treeHomeMoves += s.treeHomeMoves;
  into.overlayDelay.merge(s.overlayDelay);
}

}  // namespace

SharedOverlay::SharedOverlay(PeerId self, SharedOverlayConfig config, std::uint64_t seed)
    : mSelf(self), mConfig(std::move(config)), mRng(seed),
      mMembership(std::make_shared<overlay::Membership>(self, mConfig.uploadKbps, mConfig.membership)) {
  mConfig.own.sharedMembership = mMembership;
  mConfig.own.membership = mConfig.membership;
  mConfig.own.isSource = true;
  mConfig.relay.sharedMembership = mMembership;
  mConfig.relay.membership = mConfig.membership;
  mConfig.relay.isSource = false;
}

template <typename Event>
void SharedOverlay::onChannel(Channel& ch, std::uint32_t id, RelayActions& out, Event&& event) {
  const std::size_t first = out.toPeers.size();
  event(*ch.adapter);
  for (std::size_t i = first; i < out.toPeers.size(); ++i) out.toPeers[i].message.set_channel(id);
}

SharedOverlay::Channel* SharedOverlay::channel(std::uint32_t id, std::int64_t nowUs, RelayActions& out, bool join) {
  auto it = mChannels.find(id);
  if (it != mChannels.end()) return &it->second;
  if (!join) {
    ++mShared.ignored;
    return nullptr;
  }
  if (id == 0 || mChannels.size() >= mConfig.maxChannels) {
    ++mShared.refused;
    return nullptr;
  }
  OverlayAdapterConfig ac;
  ac.channelId = id;
  ac.node = id == mConfig.ownChannel ? mConfig.own : mConfig.relay;
  ac.keyframeRequestGapUs = mConfig.keyframeRequestGapUs;
  Channel ch;
  ch.adapter = std::make_unique<OverlayAdapter>(mSelf, std::move(ac), mRng());
  ch.lastChunkUs = nowUs;
  Channel& added = mChannels.emplace(id, std::move(ch)).first->second;
  if (id != mConfig.ownChannel) ++mShared.channelsJoined;
  onChannel(added, id, out, [&](OverlayAdapter& a) { a.start(nowUs, out); });
  return &added;
}

void SharedOverlay::signal(std::vector<std::pair<PeerId, overlay::Message>>&& messages, RelayActions& out) {
  for (auto& [to, m] : messages) {
    m.uploadKbps = mConfig.uploadKbps;
    out.toPeers.push_back({{to}, encodeOverlay(m)});  // channel 0: the signalling overlay
  }
}

void SharedOverlay::answer(std::vector<std::pair<PeerId, overlay::Message>>&& replies, std::int64_t nowUs,
                           RelayActions& out) {
  // As a node's answers: within their share of the upload, the rest counted
  // and dropped (every joiner of a group gossips with the members it knows).
  std::vector<std::pair<PeerId, overlay::Message>> fit;
  for (auto& reply : replies) {
    reply.second.uploadKbps = mConfig.uploadKbps;  // as signal() sends it: counted in its size
    if (mAnswers.take(overlay::wireBytes(reply.second), mConfig.answerShare, mConfig.uploadKbps, nowUs)) {
      fit.push_back(std::move(reply));
    } else {
      ++mShared.answersShed;
    }
  }
  signal(std::move(fit), out);
}

void SharedOverlay::start(std::int64_t nowUs, RelayActions& out) {
  mNowUs = std::max(mNowUs, nowUs);
  signal(mMembership->join(mConfig.bootstrap, nowUs), out);
  if (mConfig.ownChannel != 0) (void)channel(mConfig.ownChannel, nowUs, out, true);
}

void SharedOverlay::stop(std::int64_t /*nowUs*/, RelayActions& out) {
  // One leave per peer for every channel at once.
  for (const overlay::Descriptor& d : mMembership->view()) {
    overlay::Message m;
    m.type = overlay::MsgType::kLeave;
    signal({{d.id, std::move(m)}}, out);
  }
}

void SharedOverlay::onLocalChunk(v1::Chunk chunk, std::int64_t nowUs, RelayActions& out) {
  mNowUs = std::max(mNowUs, nowUs);
  Channel* ch = mConfig.ownChannel == 0 ? nullptr : channel(mConfig.ownChannel, nowUs, out, true);
  if (ch == nullptr) return;
  ch->lastChunkUs = nowUs;
  onChannel(*ch, mConfig.ownChannel, out, [&](OverlayAdapter& a) { a.onLocalChunk(std::move(chunk), nowUs, out); });
}

void SharedOverlay::onPeerMessage(PeerId from, v1::PeerMessage&& msg, std::int64_t nowUs, RelayActions& out,
                                  std::int64_t firstArrivalUs) {
  mNowUs = std::max(mNowUs, nowUs);
  const std::uint32_t id = msg.channel();
  if (id == 0) {
    if (!isSignalling(msg)) {
      ++mShared.refused;
      return;
    }
    auto m = decodeOverlay(std::move(msg));
    if (!m) return;
    answer(mMembership->onMessage(from, *m, nowUs, mRng), nowUs, out);
    if (m->type == overlay::MsgType::kLeave) {
      // Every channel forgets the peer as a neighbour.
      for (auto& [cid, ch] : mChannels) {
        onChannel(ch, cid, out, [&](OverlayAdapter& a) {
          v1::PeerMessage leave;
          leave.mutable_overlay()->set_type(v1::OverlayMessage::LEAVE);
          a.onPeerMessage(from, std::move(leave), nowUs, out);
        });
      }
    }
    return;
  }
  mMembership->heard(from, nowUs);  // any channel's traffic proves the peer alive
  // Only data opens a channel: a chunk, or a buffer map or offer of chunks.
  // (A probe of a channel we dropped must not bring it back: its node would
  // probe everyone in turn, and so on.)
  const bool data = msg.has_chunk() || (msg.has_overlay() && (msg.overlay().type() == v1::OverlayMessage::HAVE ||
                                                              msg.overlay().type() == v1::OverlayMessage::OFFER));
  Channel* ch = channel(id, nowUs, out, data);
  if (ch == nullptr) return;
  if (msg.has_chunk()) ch->lastChunkUs = nowUs;
  onChannel(*ch, id, out,
            [&](OverlayAdapter& a) { a.onPeerMessage(from, std::move(msg), nowUs, out, firstArrivalUs); });
}

void SharedOverlay::onPlayerControl(std::uint32_t id, const v1::Control& control, std::int64_t nowUs,
                                    RelayActions& out) {
  mNowUs = std::max(mNowUs, nowUs);
  if (id == 0) id = mConfig.ownChannel;
  auto it = mChannels.find(id);
  if (it == mChannels.end()) return;
  onChannel(it->second, id, out, [&](OverlayAdapter& a) { a.onPlayerControl(id, control, nowUs, out); });
}

void SharedOverlay::onTick(std::int64_t nowUs, RelayActions& out) {
  mNowUs = std::max(mNowUs, nowUs);
  signal(mMembership->onTick(nowUs, mRng), out);
  for (auto it = mChannels.begin(); it != mChannels.end();) {
    if (it->first != mConfig.ownChannel && nowUs - it->second.lastChunkUs > mConfig.channelIdleUs) {
      add(mGone, it->second.adapter->stats());
      ++mShared.channelsDropped;
      it = mChannels.erase(it);
      continue;
    }
    onChannel(it->second, it->first, out, [&](OverlayAdapter& a) { a.onTick(nowUs, out); });
    ++it;
  }
}

std::int64_t SharedOverlay::nextTickUs() const {
  // The signalling overlay's shuffle and every channel's own work; idle
  // channels are dropped at the channels' idle ticks at the latest.
  std::int64_t due = mMembership->nextTickUs();
  for (const auto& [id, ch] : mChannels) due = std::min(due, ch.adapter->nextTickUs());
  return due;
}

void SharedOverlay::onUplinkFree(std::int64_t nowUs, RelayActions& out) {
  mNowUs = std::max(mNowUs, nowUs);
  for (auto& [id, ch] : mChannels) {
    if (ch.adapter->uplinkFreeAtUs() <= nowUs) {
      onChannel(ch, id, out, [&](OverlayAdapter& a) { a.onUplinkFree(nowUs, out); });
    }
  }
}

void SharedOverlay::onChunkComplete(PeerId from, v1::PeerMessage&& msg, std::int64_t nowUs, RelayActions& out) {
  mNowUs = std::max(mNowUs, nowUs);
  const std::uint32_t id = msg.channel();
  auto it = mChannels.find(id);
  if (it == mChannels.end()) return;  // dropped meanwhile
  it->second.lastChunkUs = nowUs;
  onChannel(it->second, id, out, [&](OverlayAdapter& a) { a.onChunkComplete(from, std::move(msg), nowUs, out); });
}

void SharedOverlay::onChunkFailed(PeerId from, std::uint32_t id, std::uint64_t seq, std::int64_t nowUs,
                                  RelayActions& out) {
  mNowUs = std::max(mNowUs, nowUs);
  auto it = mChannels.find(id);
  if (it == mChannels.end()) return;
  onChannel(it->second, id, out, [&](OverlayAdapter& a) { a.onChunkFailed(from, id, seq, nowUs, out); });
}

void SharedOverlay::chargeUplink(std::size_t bytes, std::int64_t nowUs) {
  auto own = mChannels.find(mConfig.ownChannel);
  if (own != mChannels.end()) own->second.adapter->chargeUplink(bytes, nowUs);
}

std::int64_t SharedOverlay::uplinkFreeAtUs() const {
  // The earliest of the channels still waiting for their uplink (as of the
  // latest event); none waiting: now.
  std::int64_t soonest = std::numeric_limits<std::int64_t>::max();
  for (const auto& [id, ch] : mChannels) {
    const std::int64_t t = ch.adapter->uplinkFreeAtUs();
    if (t > mNowUs) soonest = std::min(soonest, t);
  }
  return soonest == std::numeric_limits<std::int64_t>::max() ? mNowUs : soonest;
}

const RelayStats& SharedOverlay::stats() const {
  mStats = RelayStats{};
  add(mStats, mGone);
  mStats.uploadBudgetKbps = 0;  // the live channels' budgets only
  for (const auto& [id, ch] : mChannels) add(mStats, ch.adapter->stats());
  mStats.answersShed += mShared.answersShed;
  mStats.channels = static_cast<std::uint32_t>(mChannels.size());
  return mStats;
}

std::vector<std::uint32_t> SharedOverlay::channels() const {
  std::vector<std::uint32_t> ids;
  for (const auto& [id, ch] : mChannels) ids.push_back(id);
  return ids;
}

}  // namespace partyhub::streamer
