// Runs the overlay core (overlay::Node) behind the same events and actions as
// the first-version Relay, so the streamer's event loop drives either. Converts
// between protobuf peer messages and the core's messages, assigns channel
// sequence numbers at the source, and routes keyframe requests upstream (to
// the peer the last new chunk came from).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/control_router.hpp"
#include "core/overlay/node.hpp"
#include "core/relay.hpp"

namespace partyhub::streamer {

/// What the streamer's event loop drives: one channel's overlay
/// (OverlayAdapter) or several channels over one signalling overlay
/// (SharedOverlay). Pure, like the core: events with `now`, actions out.
class StreamerOverlay {
 public:
  virtual ~StreamerOverlay() = default;
  virtual void start(std::int64_t nowUs, RelayActions& out) = 0;
  virtual void stop(std::int64_t nowUs, RelayActions& out) = 0;
  virtual void onLocalChunk(v1::Chunk chunk, std::int64_t nowUs, RelayActions& out) = 0;
  /// `firstArrivalUs`: when the message's first datagram came (0: now).
  virtual void onPeerMessage(PeerId from, v1::PeerMessage&& msg, std::int64_t nowUs, RelayActions& out,
                             std::int64_t firstArrivalUs = 0) = 0;
  /// A local player's control; `channel` is the one it subscribed to (0:
  /// none, or a client that never subscribes: our own channel).
  virtual void onPlayerControl(std::uint32_t channel, const v1::Control& control, std::int64_t nowUs,
                               RelayActions& out) = 0;
  virtual void onTick(std::int64_t nowUs, RelayActions& out) = 0;
  /// When onTick next has work (overlay::Node::nextTickUs); a tick sooner
  /// changes nothing.
  [[nodiscard]] virtual std::int64_t nextTickUs() const = 0;
  virtual void onUplinkFree(std::int64_t nowUs, RelayActions& out) = 0;
  /// When the paced uplink next takes a send; <= now when it takes one now.
  [[nodiscard]] virtual std::int64_t uplinkFreeAtUs() const = 0;
  /// The transport resent `bytes` of fragments on request: pace for them.
  virtual void chargeUplink(std::size_t bytes, std::int64_t nowUs) = 0;
  /// Cut-through forwarding: the chunk a header told of (PeerChunk.body_follows,
  /// given to onPeerMessage) is whole; `msg` is that header with the body in.
  virtual void onChunkComplete(PeerId from, v1::PeerMessage&& msg, std::int64_t nowUs, RelayActions& out) = 0;
  /// ... or its body never came whole from `from`.
  virtual void onChunkFailed(PeerId from, std::uint32_t channel, std::uint64_t seq, std::int64_t nowUs,
                             RelayActions& out) = 0;
  [[nodiscard]] virtual const RelayStats& stats() const = 0;
  [[nodiscard]] virtual std::size_t knownPeers() const = 0;
  /// True when players choose among several channels (Subscribe.channel_id).
  [[nodiscard]] virtual bool carriesSeveralChannels() const { return false; }
};

struct OverlayAdapterConfig {
  overlay::NodeConfig node;
  std::uint32_t channelId = 1;
  std::vector<PeerId> bootstrap;
  std::int64_t keyframeRequestGapUs = 200'000;
};

class OverlayAdapter final : public StreamerOverlay {
 public:
  OverlayAdapter(PeerId self, OverlayAdapterConfig config, std::uint64_t seed);

  void start(std::int64_t nowUs, RelayActions& out) override;
  void stop(std::int64_t nowUs, RelayActions& out) override;
  void onLocalChunk(v1::Chunk chunk, std::int64_t nowUs, RelayActions& out) override;
  void onPeerMessage(PeerId from, v1::PeerMessage&& msg, std::int64_t nowUs, RelayActions& out,
                     std::int64_t firstArrivalUs = 0) override;
  void onPlayerControl(std::uint32_t channel, const v1::Control& control, std::int64_t nowUs,
                       RelayActions& out) override;
  void onTick(std::int64_t nowUs, RelayActions& out) override;
  [[nodiscard]] std::int64_t nextTickUs() const override { return mNode.nextTickUs(); }
  void onUplinkFree(std::int64_t nowUs, RelayActions& out) override;
  [[nodiscard]] std::int64_t uplinkFreeAtUs() const override { return mNode.uplinkFreeAtUs(); }
  void chargeUplink(std::size_t bytes, std::int64_t nowUs) override { mNode.chargeUplink(bytes, nowUs); }
  void onChunkComplete(PeerId from, v1::PeerMessage&& msg, std::int64_t nowUs, RelayActions& out) override;
  void onChunkFailed(PeerId from, std::uint32_t channel, std::uint64_t seq, std::int64_t nowUs,
                     RelayActions& out) override;

  [[nodiscard]] const RelayStats& stats() const override;
  [[nodiscard]] std::size_t knownPeers() const override { return mNode.membership().view().size(); }

 private:
  void convert(PeerId from, std::int64_t nowUs, RelayActions& out);
  void forwardControl(const v1::Control& control, PeerId from, std::int64_t nowUs, RelayActions& out);

  OverlayAdapterConfig mConfig;
  overlay::Node mNode;
  overlay::NodeActions mScratch;
  mutable RelayStats mStats;
  std::uint64_t mNextSeq = 0;
  PeerId mUpstream = 0;
  ControlRouter mControl;
};

}  // namespace partyhub::streamer
