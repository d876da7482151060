#include "overlay_codec.hpp"

#include <algorithm>
#include <cstdint>

namespace partyhub::streamer {

using overlay::Message;
using overlay::MsgType;

namespace {

constexpr std::uint32_t kOpusRate = 48'000;  // what Opus decodes to, whatever it was fed

// An Opus packet says itself whether it is stereo (RFC 6716 §3.1, the TOC
// byte's s bit).
std::uint32_t opusChannels(const std::string& packet) {
  return !packet.empty() && (static_cast<std::uint8_t>(packet[0]) & 0x04) != 0 ? 2 : 1;
}

// The duration of an Opus packet, µs, from its TOC byte (RFC 6716 §3.1: the
// configuration gives the frame size, the code the frame count); 0 when the
// packet is too short to say.
std::uint32_t opusDurationUs(const std::string& packet) {
  if (packet.empty()) return 0;
  const auto toc = static_cast<std::uint8_t>(packet[0]);
  const unsigned config = toc >> 3;
  static constexpr std::uint32_t kSilk[] = {10'000, 20'000, 40'000, 60'000};
  static constexpr std::uint32_t kCelt[] = {2'500, 5'000, 10'000, 20'000};
  const std::uint32_t frameUs = config < 12 ? kSilk[config & 3] : config < 16 ? (config & 1 ? 20'000 : 10'000) : kCelt[config & 3];
  const unsigned code = toc & 3;
  if (code == 3 && packet.size() < 2) return 0;
  const std::uint32_t frames = code == 0 ? 1 : code < 3 ? 2 : static_cast<std::uint8_t>(packet[1]) & 0x3F;
  return frames * frameUs;
}

constexpr std::pair<MsgType, v1::OverlayMessage::Type> kTypes[] = {
    {MsgType::kHave, v1::OverlayMessage::HAVE},       {MsgType::kGossip, v1::OverlayMessage::GOSSIP},
    {MsgType::kGossipReply, v1::OverlayMessage::GOSSIP_REPLY}, {MsgType::kLeave, v1::OverlayMessage::LEAVE},
    {MsgType::kOffer, v1::OverlayMessage::OFFER},     {MsgType::kAccept, v1::OverlayMessage::ACCEPT},
    {MsgType::kRequest, v1::OverlayMessage::REQUEST}, {MsgType::kPing, v1::OverlayMessage::PING},
    {MsgType::kPong, v1::OverlayMessage::PONG},       {MsgType::kTreeState, v1::OverlayMessage::TREE_STATE},
    {MsgType::kSubscribe, v1::OverlayMessage::SUBSCRIBE}, {MsgType::kUnsubscribe, v1::OverlayMessage::UNSUBSCRIBE},
    {MsgType::kAdmit, v1::OverlayMessage::ADMIT},
};

// Between streamers a chunk leaves out what the receiver knows or can tell
// from the rest; with the 2-byte framing, a 20 ms Opus chunk's overhead went
// from 61 to 38 bytes (overlay_codec_test). The local hops (source, players)
// carry it whole.
void compactChunk(v1::Chunk& c) {
  c.clear_channel_id();  // the streamer's channel, or the message's (shared layout)
  c.clear_kind();        // the codec's
  const bool onePacket = c.frame_sizes_size() == 1 && c.frame_sizes(0) == c.payload().size();
  if (onePacket) c.clear_frame_sizes();
  if (c.codec() == v1::CODEC_OPUS) {
    // Audio chunks are all anchors, and one packet says its own duration:
    // 6 bytes of a 20 ms chunk's header.
    if (c.anchor()) c.clear_anchor();
    if (onePacket && c.duration_us() == opusDurationUs(c.payload())) c.clear_duration_us();
  }
  if (c.codec() == v1::CODEC_OPUS && c.sample_rate() == kOpusRate && c.channels() == opusChannels(c.payload())) {
    c.clear_sample_rate();
    c.clear_channels();
  }
  if (!c.anchor()) {  // the picture size matters where decoding starts
    c.clear_width();
    c.clear_height();
  }
}

void restoreChunk(v1::Chunk& c) {
  if (c.kind() == v1::MEDIA_KIND_UNSPECIFIED) {
    c.set_kind(c.codec() == v1::CODEC_OPUS ? v1::MEDIA_KIND_AUDIO : v1::MEDIA_KIND_VIDEO);
  }
  if (c.frame_sizes_size() == 0 && !c.payload().empty()) c.add_frame_sizes(static_cast<std::uint32_t>(c.payload().size()));
  if (c.codec() == v1::CODEC_OPUS) {
    c.set_anchor(true);
    if (c.duration_us() == 0 && c.frame_sizes_size() == 1) c.set_duration_us(opusDurationUs(c.payload()));
  }
  if (c.codec() == v1::CODEC_OPUS && c.sample_rate() == 0) {
    c.set_sample_rate(kOpusRate);
    c.set_channels(opusChannels(c.payload()));
  }
}

}  // namespace

v1::PeerMessage encodeOverlay(const Message& m) {
  v1::PeerMessage out;
  if (m.type == MsgType::kChunk) {
    auto* pc = out.mutable_chunk();
    *pc->mutable_chunk() = *m.chunk;
    compactChunk(*pc->mutable_chunk());
    pc->set_injected_after_capture_us(m.injectedUs - m.chunk->capture_us());
    pc->set_hops(m.hops);
    pc->set_budget(m.budget);
    for (auto p : m.alsoSentTo) pc->add_also_sent_to(p);
    for (auto p : m.delegates) pc->add_delegates(p);
    pc->set_stamp(m.stamp);
    if (m.chunk->payload().empty()) pc->set_payload_bytes(m.payloadBytes);  // a chunk still coming to us
    return out;
  }
  auto* o = out.mutable_overlay();
  for (const auto& [mine, wire] : kTypes) {
    if (mine == m.type) o->set_type(wire);
  }
  // Seqs go delta-coded (a buffer map of recent chunks is a few bytes), in
  // ascending order; a receiver adds them up.
  std::vector<std::uint64_t> seqs = m.seqs;
  std::sort(seqs.begin(), seqs.end());
  std::uint64_t prev = 0;
  for (auto s : seqs) {
    o->add_seqs(s - prev);
    prev = s;
  }
  for (const auto& d : m.peers) {
    auto* pd = o->add_peers();
    pd->set_id(d.id);
    pd->set_age(d.age);
    pd->set_upload_kbps(d.uploadKbps);
  }
  o->set_upload_kbps(m.uploadKbps);
  o->set_echo_us(m.echoUs);
  for (const auto& st : m.stripes) {
    auto* ps = o->add_stripes();
    ps->set_depth(st.depth);
    ps->set_delay_ms(st.delayMs);
    ps->set_children(st.children);
    ps->set_free_slots(st.freeSlots);
    ps->set_interior(st.interior);
  }
  o->set_slots(m.slots);
  o->set_from_seq(m.fromSeq);
  o->set_min_child_slots(m.minChildSlots);
  o->set_stream_kbps(m.streamKbps);
  if (m.stampRecvUs != 0) {
    o->set_stamp_seq(m.stampSeq);
    o->set_stamp_recv_us(m.stampRecvUs);
  }
  return out;
}

std::optional<Message> decodeOverlay(v1::PeerMessage&& msg, std::uint32_t channelId) {
  Message m;
  if (msg.has_chunk()) {
    v1::PeerChunk* pc = msg.mutable_chunk();
    m.type = MsgType::kChunk;
    m.injectedUs = pc->injected_us() != 0 ? pc->injected_us()
                                          : pc->chunk().capture_us() + pc->injected_after_capture_us();
    m.hops = pc->hops();
    m.budget = pc->budget();
    m.alsoSentTo.assign(pc->also_sent_to().begin(), pc->also_sent_to().end());
    m.delegates.assign(pc->delegates().begin(), pc->delegates().end());
    m.stamp = pc->stamp();
    m.coming = pc->body_follows() && pc->chunk().payload().empty();  // a header: the body comes apart
    m.payloadBytes = pc->payload_bytes();
    restoreChunk(*pc->mutable_chunk());
    pc->mutable_chunk()->set_channel_id(channelId);
    m.chunk = std::make_shared<v1::Chunk>(std::move(*pc->mutable_chunk()));
    return m;
  }
  if (!msg.has_overlay()) return std::nullopt;
  const v1::OverlayMessage& o = msg.overlay();
  bool known = false;
  for (const auto& [mine, wire] : kTypes) {
    if (wire == o.type()) {
      m.type = mine;
      known = true;
    }
  }
  if (!known) return std::nullopt;
  std::uint64_t sum = 0;
  for (std::uint64_t delta : o.seqs()) {
    if (delta > UINT64_MAX - sum) return std::nullopt;
    sum += delta;
    m.seqs.push_back(sum);
  }
  for (const auto& d : o.peers()) m.peers.push_back({d.id(), d.age(), d.upload_kbps()});
  m.uploadKbps = o.upload_kbps();
  m.echoUs = o.echo_us();
  for (const auto& st : o.stripes()) m.stripes.push_back({st.depth(), st.delay_ms(), st.children(), st.free_slots(), st.interior()});
  m.slots = o.slots();
  m.fromSeq = o.from_seq();
  m.minChildSlots = o.min_child_slots();
  m.streamKbps = o.stream_kbps();
  m.stampSeq = o.stamp_seq();
  m.stampRecvUs = o.stamp_recv_us();
  return m;
}

}  // namespace partyhub::streamer
