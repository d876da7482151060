// The overlay core's messages on the wire: overlay::Message <-> protobuf
// PeerMessage (then fragmented into UDP datagrams like every peer message).
#pragma once

#include <optional>

#include "core/overlay/message.hpp"
#include "partyhub/v1/peer.pb.h"

namespace partyhub::streamer {

/// A chunk goes without what its receiver knows or can tell from the rest
/// (its channel, its kind, Opus's rate and channels, a single frame's size,
/// the picture size between keyframes); decoding puts it back.
v1::PeerMessage encodeOverlay(const overlay::Message& m);
/// Nullopt when `msg` is not an overlay message or is inconsistent. A chunk
/// is given `channelId`, the channel it came in on.
std::optional<overlay::Message> decodeOverlay(v1::PeerMessage&& msg, std::uint32_t channelId = 0);

}  // namespace partyhub::streamer
