#include "message.hpp"

#include "../fragmenter.hpp"

namespace partyhub::streamer::overlay {

const char* toString(MsgType t) {
  switch (t) {
    case MsgType::kChunk: return "chunk";
    case MsgType::kHave: return "have";
    case MsgType::kGossip: return "gossip";
    case MsgType::kGossipReply: return "gossip-reply";
    case MsgType::kLeave: return "leave";
    case MsgType::kOffer: return "offer";
    case MsgType::kAccept: return "accept";
    case MsgType::kRequest: return "request";
    case MsgType::kPing: return "ping";
    case MsgType::kPong: return "pong";
    case MsgType::kTreeState: return "tree-state";
    case MsgType::kSubscribe: return "subscribe";
    case MsgType::kAdmit: return "admit";
    case MsgType::kUnsubscribe: return "unsubscribe";
  }
  return "?";
}

namespace {
std::size_t varint(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Our UDP framing: 2 bytes on a message that fits one datagram, 8 on each
// fragment of a larger one.
std::size_t framed(std::size_t n) {
  if (n <= kMaxSinglePayload) return n + kSingleHeader;
  return n + kFragmentHeader * fragmentCount(n);
}
}  // namespace

std::size_t wireBytes(const Message& m) {
  std::size_t n = 4;  // message type and length tags
  if (m.type == MsgType::kChunk && m.chunk) {
    const std::int64_t after = m.injectedUs - m.chunk->capture_us();  // sent zigzag-coded
    const std::size_t payload = m.chunk->payload().empty() ? m.payloadBytes + 3 : 0;  // a header's chunk: as whole
    const std::size_t body = m.chunk->ByteSizeLong() + payload + 2 +
                             varint(static_cast<std::uint64_t>(after < 0 ? -2 * after - 1 : 2 * after)) + 2 +
                             (m.alsoSentTo.size() + m.delegates.size()) * 7 + varint(m.budget) + 1 + (m.stamp ? 2 : 0);
    return framed(n + body);
  }
  n += varint(m.uploadKbps) + 1;
  // Seqs are sent delta-coded from the first one.
  std::uint64_t prev = 0;
  for (std::uint64_t s : m.seqs) {
    n += varint(s - prev);
    prev = s;
  }
  n += m.peers.size() * 14;
  if (m.echoUs != 0) n += 9;
  // proto3 leaves zero fields out: a tag and the value for the others.
  const auto field = [](std::uint64_t v) { return v == 0 ? 0 : 1 + varint(v); };
  for (const StripeInfo& st : m.stripes) {
    n += 2 + field(st.depth) + field(st.delayMs) + field(st.children) + field(st.freeSlots) + field(st.interior);
  }
  n += field(m.slots) + field(m.fromSeq) + field(m.minChildSlots) + field(m.streamKbps);
  if (m.stampRecvUs != 0) n += field(m.stampSeq) + 10;  // the time: a tag and a varint of ~8 bytes
  return framed(n);
}

std::size_t payloadBytes(const Message& m) {
  return m.type == MsgType::kChunk && m.chunk ? m.chunk->payload().size() : 0;
}

}  // namespace partyhub::streamer::overlay
