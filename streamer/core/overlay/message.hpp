// The overlay's own messages: plain C++ values that the pure core exchanges.
// The streamer's transport encodes them as protobuf PeerMessages; the
// simulator passes them as they are (a chunk is shared, never copied).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "partyhub/v1/chunk.pb.h"

namespace partyhub::streamer::overlay {

using PeerId = std::uint64_t;
using ChunkPtr = std::shared_ptr<const v1::Chunk>;

enum class MsgType : std::uint8_t {
  kChunk,        // a chunk, pushed or requested
  kHave,         // "I now hold these seqs" (incremental buffer map)
  kGossip,       // peer-sampling shuffle request (Cyclon)
  kGossipReply,  // its answer
  kLeave,        // graceful leave
  kOffer,        // offer/accept baseline: my recent buffer map
  kAccept,       // offer/accept baseline: send me these
  kRequest,      // pull: send me these (I miss them, you have them)
  kPing,         // active monitoring: RTT probe
  kPong,         // its echo
};
const char* toString(MsgType t);

/// A peer as gossip describes it: its age in the view and its upload capacity,
/// which topology management uses to put well-provisioned peers near the source.
struct Descriptor {
  PeerId id = 0;
  std::uint32_t age = 0;
  std::uint32_t uploadKbps = 0;
};

struct Message {
  MsgType type = MsgType::kHave;
  ChunkPtr chunk;                   // kChunk
  std::int64_t injectedUs = 0;      // kChunk: when the source streamer injected it
  std::uint32_t hops = 0;           // kChunk
  std::vector<PeerId> alsoSentTo;   // kChunk: the sender's other targets for it (they need no copy)
  std::uint32_t budget = 0;         // kChunk: peers this copy's subtree should reach, the receiver included
  std::vector<PeerId> delegates;    // kChunk: which of them (structured push, small overlays; see Node)
  std::vector<std::uint64_t> seqs;  // kHave, kOffer, kAccept, kRequest
  std::vector<Descriptor> peers;    // kGossip, kGossipReply
  std::uint32_t uploadKbps = 0;     // the sender's, on every message but chunks
  std::int64_t echoUs = 0;          // kPing: the sender's clock; kPong: echoed back
};

/// Bytes on the wire (protobuf encoding, as the transport sends it), and the
/// media bytes among them. Their difference is signalling overhead.
std::size_t wireBytes(const Message& m);
std::size_t payloadBytes(const Message& m);

}  // namespace partyhub::streamer::overlay
