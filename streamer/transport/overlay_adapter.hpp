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

struct OverlayAdapterConfig {
  overlay::NodeConfig node;
  std::uint32_t channelId = 1;
  std::vector<PeerId> bootstrap;
  std::int64_t keyframeRequestGapUs = 200'000;
};

class OverlayAdapter {
 public:
  OverlayAdapter(PeerId self, OverlayAdapterConfig config, std::uint64_t seed);

  void start(std::int64_t nowUs, RelayActions& out);
  void stop(std::int64_t nowUs, RelayActions& out);
  void onLocalChunk(v1::Chunk chunk, std::int64_t nowUs, RelayActions& out);
  void onPeerMessage(PeerId from, v1::PeerMessage&& msg, std::int64_t nowUs, RelayActions& out);
  void onPlayerControl(const v1::Control& control, std::int64_t nowUs, RelayActions& out);
  void onTick(std::int64_t nowUs, RelayActions& out);
  void onUplinkFree(std::int64_t nowUs, RelayActions& out);
  /// When the paced uplink next takes a send; <= now when it takes one now.
  [[nodiscard]] std::int64_t uplinkFreeAtUs() const { return mNode.uplinkFreeAtUs(); }

  [[nodiscard]] const RelayStats& stats() const;
  [[nodiscard]] std::size_t knownPeers() const { return mNode.membership().view().size(); }

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
