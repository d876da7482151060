#include "overlay_codec.hpp"

namespace partyhub::streamer {

using overlay::Message;
using overlay::MsgType;

namespace {

constexpr std::pair<MsgType, v1::OverlayMessage::Type> kTypes[] = {
    {MsgType::kHave, v1::OverlayMessage::HAVE},       {MsgType::kGossip, v1::OverlayMessage::GOSSIP},
    {MsgType::kGossipReply, v1::OverlayMessage::GOSSIP_REPLY}, {MsgType::kLeave, v1::OverlayMessage::LEAVE},
    {MsgType::kOffer, v1::OverlayMessage::OFFER},     {MsgType::kAccept, v1::OverlayMessage::ACCEPT},
    {MsgType::kRequest, v1::OverlayMessage::REQUEST}, {MsgType::kPing, v1::OverlayMessage::PING},
    {MsgType::kPong, v1::OverlayMessage::PONG},
};

}  // namespace

v1::PeerMessage encodeOverlay(const Message& m) {
  v1::PeerMessage out;
  if (m.type == MsgType::kChunk) {
    auto* pc = out.mutable_chunk();
    *pc->mutable_chunk() = *m.chunk;
    pc->set_injected_after_capture_us(m.injectedUs - m.chunk->capture_us());
    pc->set_hops(m.hops);
    pc->set_budget(m.budget);
    for (auto p : m.alsoSentTo) pc->add_also_sent_to(p);
    for (auto p : m.delegates) pc->add_delegates(p);
    return out;
  }
  auto* o = out.mutable_overlay();
  for (const auto& [mine, wire] : kTypes) {
    if (mine == m.type) o->set_type(wire);
  }
  for (auto s : m.seqs) o->add_seqs(s);
  for (const auto& d : m.peers) {
    auto* pd = o->add_peers();
    pd->set_id(d.id);
    pd->set_age(d.age);
    pd->set_upload_kbps(d.uploadKbps);
  }
  o->set_upload_kbps(m.uploadKbps);
  o->set_echo_us(m.echoUs);
  return out;
}

std::optional<Message> decodeOverlay(v1::PeerMessage&& msg) {
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
  m.seqs.assign(o.seqs().begin(), o.seqs().end());
  for (const auto& d : o.peers()) m.peers.push_back({d.id(), d.age(), d.upload_kbps()});
  m.uploadKbps = o.upload_kbps();
  m.echoUs = o.echo_us();
  return m;
}

}  // namespace partyhub::streamer
