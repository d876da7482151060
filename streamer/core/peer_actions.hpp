// What a streamer brain (the first-version Relay, or the overlay through its
// adapter) asks its event loop to do after an event.
#pragma once

#include <cstdint>
#include <vector>

#include "partyhub/v1/control.pb.h"
#include "partyhub/v1/peer.pb.h"

namespace partyhub::streamer {

/// An opaque peer address; the transport maps it to a socket address.
using PeerId = std::uint64_t;

struct RelayActions {
  /// One message for one or more peers: serialised and fragmented once.
  struct Send {
    std::vector<PeerId> peers;
    v1::PeerMessage message;
  };
  std::vector<Send> toPeers;
  std::vector<v1::Chunk> toPlayers;
  std::vector<v1::Control> toSource;
  void clear() {
    toPeers.clear();
    toPlayers.clear();
    toSource.clear();
  }
};

}  // namespace partyhub::streamer
