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
  kTreeState,    // tree scheduler: my place in each stripe's tree, my free slots
  kSubscribe,    // tree scheduler: be my parent in these stripes (seqs)
  kAdmit,        // tree scheduler: I am your parent in these stripes (seqs) from now
  kUnsubscribe,  // tree scheduler: these stripes (seqs) are over between us (from either end)
};
const char* toString(MsgType t);

/// A peer as gossip describes it: its age in the view and its upload capacity,
/// which topology management uses to put well-provisioned peers near the source.
struct Descriptor {
  PeerId id = 0;
  std::uint32_t age = 0;
  std::uint32_t uploadKbps = 0;
};

/// One stripe's tree as a node describes its place in it (kTreeState).
struct StripeInfo {
  std::uint32_t depth = 0;     // hops from the source; kNoPath when it has no parent
  std::uint32_t delayMs = 0;   // how long after injection its chunks come, smoothed
  std::uint32_t children = 0;  // peers it pushes the stripe to
  std::uint32_t freeSlots = 0; // children it could still take in the stripe
  std::uint32_t interior = 0;  // of its children, those that pass the stripe on (they go first)
  static constexpr std::uint32_t kNoPath = 0xFFFF;
};

struct Message {
  MsgType type = MsgType::kHave;
  ChunkPtr chunk;                   // kChunk
  std::int64_t injectedUs = 0;      // kChunk: when the source streamer injected it
  std::uint32_t hops = 0;           // kChunk
  std::vector<PeerId> alsoSentTo;   // kChunk: the sender's other targets for it (they need no copy)
  std::uint32_t budget = 0;         // kChunk: peers this copy's subtree should reach, the receiver included
  std::vector<PeerId> delegates;    // kChunk: which of them (structured push, small overlays; see Node)
  bool stamp = false;               // kChunk: the sender estimates its upload; acknowledge with the time it came
  std::uint64_t stampSeq = 0;       // kHave: the newest stamped chunk of the receiver's we got ...
  std::int64_t stampRecvUs = 0;     // ... and when, on our clock (0: no stamp)
  std::int64_t arrivedUs = 0;       // not on the wire: when its first datagram came, if the transport knows (0: now)
  // Not on the wire: kChunk told at its first datagram, its body still coming
  // (cut-through forwarding); Node::onChunkComplete or onChunkFailed follows.
  bool coming = false;
  // kChunk: the payload's size, when `chunk` travels without it (a cut-through
  // header; 0 otherwise: the payload says).
  std::uint32_t payloadBytes = 0;
  std::vector<std::uint64_t> seqs;  // kHave, kOffer, kAccept, kRequest
  std::vector<Descriptor> peers;    // kGossip, kGossipReply
  std::uint32_t uploadKbps = 0;     // the sender's, on every message but chunks
  std::int64_t echoUs = 0;          // kPing: the sender's clock; kPong: echoed back
  std::vector<StripeInfo> stripes;  // kTreeState: one per stripe, in stripe order
  std::uint32_t slots = 0;          // kSubscribe: children the sender serves in the stripe (its subtree's reach)
  std::uint64_t fromSeq = 0;        // kSubscribe: send the stripe's chunks from this seq on (0: new ones only)
  std::uint32_t minChildSlots = 0;  // kTreeState: its least-serving child's slots (one serving more displaces it)
  std::uint32_t streamKbps = 0;     // kTreeState: the stream's rate, as the source measures it
};

/// Bytes on the wire (protobuf encoding, as the transport sends it), and the
/// media bytes among them. Their difference is signalling overhead.
std::size_t wireBytes(const Message& m);
std::size_t payloadBytes(const Message& m);

}  // namespace partyhub::streamer::overlay
