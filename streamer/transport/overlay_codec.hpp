// The overlay core's messages on the wire: overlay::Message <-> protobuf
// PeerMessage (then fragmented into UDP datagrams like every peer message).
#pragma once

#include <optional>

#include "core/overlay/message.hpp"
#include "partyhub/v1/peer.pb.h"

namespace partyhub::streamer {

v1::PeerMessage encodeOverlay(const overlay::Message& m);
/// Nullopt when `msg` is not an overlay message or is inconsistent.
std::optional<overlay::Message> decodeOverlay(v1::PeerMessage&& msg);

}  // namespace partyhub::streamer
