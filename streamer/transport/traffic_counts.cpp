#include "traffic_counts.hpp"

#include <cctype>

namespace partyhub::streamer {

std::string messageKind(const v1::PeerMessage& m) {
  switch (m.msg_case()) {
    case v1::PeerMessage::kChunk: return m.chunk().chunk().codec() == v1::CODEC_OPUS ? "audio" : "video";
    case v1::PeerMessage::kControl: return "control";
    case v1::PeerMessage::kHello: return "hello";
    case v1::PeerMessage::kNack: return "nack";
    case v1::PeerMessage::kBundle: return "bundle";
    case v1::PeerMessage::kOverlay: {
      std::string name = v1::OverlayMessage::Type_Name(m.overlay().type());
      for (char& c : name) c = static_cast<char>(c == '_' ? '-' : std::tolower(static_cast<unsigned char>(c)));
      return name;
    }
    default: return "other";
  }
}

void TrafficCounts::sent(const v1::PeerMessage& m, std::size_t framed, std::size_t peers) {
  if (m.has_bundle()) {
    std::size_t inner = 0;
    for (const v1::PeerMessage& one : m.bundle().messages()) {
      Count& c = mByKind[messageKind(one)];
      c.bytes += one.ByteSizeLong();
      ++c.messages;
      inner += one.ByteSizeLong();
    }
    Count& b = mByKind["bundle"];
    b.bytes += framed - inner;
    ++b.messages;
    return;
  }
  Count& c = mByKind[messageKind(m)];
  c.bytes += framed * peers;
  c.messages += peers;
  if (m.has_chunk()) c.payloadBytes += m.chunk().chunk().payload().size() * peers;
}

void TrafficCounts::sentDatagram(const char* kind, std::size_t bytes) {
  Count& c = mByKind[kind];
  c.bytes += bytes;
  ++c.messages;
}

void TrafficCounts::sentBody(std::size_t bytes, std::size_t framing) {
  Count& c = mByKind["body"];
  c.bytes += bytes;
  c.payloadBytes += bytes > framing ? bytes - framing : 0;
  ++c.messages;
}

void TrafficCounts::fill(v1::StreamerStats& s) const {
  std::uint64_t payload = 0;
  for (const auto& [kind, c] : mByKind) {
    (*s.mutable_bytes_out_by_message())[kind] = c.bytes;
    (*s.mutable_messages_out_by_message())[kind] = c.messages;
    if (c.payloadBytes > 0) (*s.mutable_payload_bytes_out_by_message())[kind] = c.payloadBytes;
    payload += c.payloadBytes;
  }
  s.set_payload_bytes_out(payload);
}

}  // namespace partyhub::streamer
