// The shared layout (paper §V-A): one streamer carries every channel of a
// conference over one signalling overlay. One membership (gossip, liveness,
// leave) serves every channel; each channel is a data sub-overlay, a node of
// its own (its chunk buffer, pushes, acknowledgements, repair) whose peers
// are the signalling overlay's. Our own channel is sourced here; any other
// channel is joined when a peer first sends us something of it (everyone in
// a conference watches everyone) and dropped when no chunk of it came for a
// while. Peer messages carry their channel (PeerMessage.channel; 0 for the
// signalling overlay). Pure, like the core: events with `now`, actions out.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <vector>

#include "transport/overlay_adapter.hpp"

namespace partyhub::streamer {

struct SharedOverlayConfig {
  std::uint32_t ownChannel = 0;        // the channel we source; 0: none (we only watch)
  overlay::NodeConfig own;             // its node (isSource is set for it)
  overlay::NodeConfig relay;           // each channel we join
  std::vector<PeerId> bootstrap;       // any members' streamers
  overlay::MembershipConfig membership;
  std::uint32_t uploadKbps = 2000;     // what gossip tells of us
  double answerShare = 0.5;            // of uploadKbps, at most, for gossip replies (overlay::AnswerBudget)
  std::int64_t channelIdleUs = 10'000'000;  // a joined channel without a chunk this long is dropped
  std::size_t maxChannels = 64;        // joined on a peer's word: bounded
  std::int64_t keyframeRequestGapUs = 200'000;
};

struct SharedOverlayStats {
  std::uint64_t channelsJoined = 0;
  std::uint64_t channelsDropped = 0;
  std::uint64_t refused = 0;  // untagged data, or a channel beyond maxChannels
  std::uint64_t ignored = 0;  // control or probes for a channel we do not carry
  std::uint64_t answersShed = 0;  // gossip replies over their share of the upload, not sent
};

class SharedOverlay final : public StreamerOverlay {
 public:
  SharedOverlay(PeerId self, SharedOverlayConfig config, std::uint64_t seed);

  void start(std::int64_t nowUs, RelayActions& out) override;
  void stop(std::int64_t nowUs, RelayActions& out) override;
  void onLocalChunk(v1::Chunk chunk, std::int64_t nowUs, RelayActions& out) override;
  void onPeerMessage(PeerId from, v1::PeerMessage&& msg, std::int64_t nowUs, RelayActions& out,
                     std::int64_t firstArrivalUs = 0) override;
  void onPlayerControl(std::uint32_t channel, const v1::Control& control, std::int64_t nowUs,
                       RelayActions& out) override;
  void onTick(std::int64_t nowUs, RelayActions& out) override;
  [[nodiscard]] std::int64_t nextTickUs() const override;
  void onUplinkFree(std::int64_t nowUs, RelayActions& out) override;
  [[nodiscard]] std::int64_t uplinkFreeAtUs() const override;
  /// Charged to our own channel's node: which channel a resent fragment
  /// belonged to is not kept, and our own channel's copies are most of what
  /// we send in fragments.
  void chargeUplink(std::size_t bytes, std::int64_t nowUs) override;
  void onChunkComplete(PeerId from, v1::PeerMessage&& msg, std::int64_t nowUs, RelayActions& out) override;
  void onChunkFailed(PeerId from, std::uint32_t channel, std::uint64_t seq, std::int64_t nowUs,
                     RelayActions& out) override;
  [[nodiscard]] const RelayStats& stats() const override;
  [[nodiscard]] std::size_t knownPeers() const override { return mMembership->view().size(); }
  [[nodiscard]] bool carriesSeveralChannels() const override { return true; }

  /// The channels carried now, ours included.
  [[nodiscard]] std::vector<std::uint32_t> channels() const;
  [[nodiscard]] const SharedOverlayStats& sharedStats() const { return mShared; }

 private:
  struct Channel {
    std::unique_ptr<OverlayAdapter> adapter;
    std::int64_t lastChunkUs = 0;
  };
  Channel* channel(std::uint32_t id, std::int64_t nowUs, RelayActions& out, bool join);
  /// Runs `event` on one channel's adapter and tags what it sends with the channel.
  template <typename Event>
  void onChannel(Channel& ch, std::uint32_t id, RelayActions& out, Event&& event);
  void signal(std::vector<std::pair<PeerId, overlay::Message>>&& messages, RelayActions& out);
  /// Gossip replies: as signal(), within their share of the upload (mAnswers).
  void answer(std::vector<std::pair<PeerId, overlay::Message>>&& replies, std::int64_t nowUs, RelayActions& out);

  PeerId mSelf;
  SharedOverlayConfig mConfig;
  std::mt19937_64 mRng;
  std::shared_ptr<overlay::Membership> mMembership;
  std::map<std::uint32_t, Channel> mChannels;
  SharedOverlayStats mShared;
  overlay::AnswerBudget mAnswers;  // the signalling overlay's gossip replies
  mutable RelayStats mStats;
  RelayStats mGone;  // what dropped channels had counted
  std::int64_t mNowUs = 0;  // the latest event's time
};

}  // namespace partyhub::streamer
