// The overlay's messages on the wire: what a chunk leaves out between
// streamers comes back exactly on the other side, and buffer maps travel
// delta-coded.
#include <doctest/doctest.h>

#include "core/fragmenter.hpp"
#include "transport/overlay_codec.hpp"

using namespace partyhub;
using namespace partyhub::streamer;
using overlay::Message;
using overlay::MsgType;

namespace {

v1::Chunk opus(bool stereo) {
  v1::Chunk c;
  c.set_channel_id(77);
  c.set_seq(5000);
  c.set_kind(v1::MEDIA_KIND_AUDIO);
  c.set_codec(v1::CODEC_OPUS);
  c.set_media_seq(3300);
  c.set_anchor(true);
  c.set_capture_us(1'795'000'000'123'456);
  c.set_duration_us(20'000);
  // TOC byte: config 31 (CELT FB 20 ms), s bit for stereo, code 0.
  std::string packet(80, 'o');
  packet[0] = static_cast<char>(31 << 3 | (stereo ? 0x04 : 0));
  c.set_payload(packet);
  c.add_frame_sizes(80);
  c.set_sample_rate(48'000);
  c.set_channels(stereo ? 2 : 1);
  return c;
}

// Two 10 ms packets of SILK, and one packet of three 20 ms frames (code 3).
v1::Chunk opusPackets() {
  v1::Chunk c = opus(false);
  std::string a(40, 'a'), b(50, 'b');
  a[0] = b[0] = static_cast<char>(0 << 3);  // config 0: SILK NB 10 ms, code 0
  c.set_payload(a + b);
  c.clear_frame_sizes();
  c.add_frame_sizes(40);
  c.add_frame_sizes(50);
  c.set_duration_us(20'000);
  return c;
}

v1::Chunk opusCode3() {
  v1::Chunk c = opus(false);
  std::string p(120, 'm');
  p[0] = static_cast<char>(1 << 3 | 3);  // config 1: SILK NB 20 ms, code 3
  p[1] = 3;                              // 3 frames
  c.set_payload(p);
  c.clear_frame_sizes();
  c.add_frame_sizes(120);
  c.set_duration_us(60'000);
  return c;
}

v1::Chunk h264(bool anchor, int frames) {
  v1::Chunk c;
  c.set_channel_id(77);
  c.set_seq(5001);
  c.set_kind(v1::MEDIA_KIND_VIDEO);
  c.set_codec(v1::CODEC_H264);
  c.set_media_seq(1200);
  c.set_anchor(anchor);
  c.set_gop_id(40);
  c.set_capture_us(1'795'000'000'200'000);
  c.set_duration_us(33'333 * frames);
  std::string payload;
  for (int i = 0; i < frames; ++i) {
    payload += std::string(1500 + 100 * i, static_cast<char>('a' + i));
    c.add_frame_sizes(1500 + 100 * i);
  }
  c.set_payload(payload);
  c.set_width(640);
  c.set_height(360);
  return c;
}

Message chunkMessage(const v1::Chunk& c) {
  Message m;
  m.type = MsgType::kChunk;
  m.chunk = std::make_shared<v1::Chunk>(c);
  m.injectedUs = c.capture_us() + 1500;
  m.hops = 2;
  m.budget = 3;
  m.delegates = {0x7F000001'2710ull};
  return m;
}

}  // namespace

TEST_CASE("a chunk crosses the wire compacted and comes back whole") {
  struct Case {
    const char* name;
    v1::Chunk chunk;
  };
  const Case cases[] = {{"opus mono", opus(false)},       {"opus stereo", opus(true)},
                        {"opus, two packets", opusPackets()}, {"opus, three frames in a packet", opusCode3()},
                        {"h264 keyframe", h264(true, 1)}, {"h264 delta frame", h264(false, 1)},
                        {"h264 two frames", h264(false, 2)}};
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const v1::PeerMessage wire = encodeOverlay(chunkMessage(c.chunk));
    const v1::Chunk& sent = wire.chunk().chunk();
    CHECK(sent.channel_id() == 0);
    CHECK(sent.kind() == v1::MEDIA_KIND_UNSPECIFIED);
    v1::PeerMessage received;
    REQUIRE(received.ParseFromString(wire.SerializeAsString()));
    auto m = decodeOverlay(std::move(received), 77);
    REQUIRE(m);
    REQUIRE((m->type == MsgType::kChunk));
    v1::Chunk expected = c.chunk;
    if (!expected.anchor()) {  // the picture size rides on keyframes only
      expected.clear_width();
      expected.clear_height();
    }
    CHECK(m->chunk->SerializeAsString() == expected.SerializeAsString());
    CHECK(m->injectedUs == c.chunk.capture_us() + 1500);
    CHECK(m->hops == 2);
    CHECK(m->budget == 3);
    CHECK(m->delegates == std::vector<overlay::PeerId>{0x7F000001'2710ull});
  }
}

TEST_CASE("an Opus chunk's framing and header cost under half its 80-byte payload") {
  const v1::Chunk c = opus(false);
  Message m = chunkMessage(c);
  m.delegates.clear();  // (in a small overlay a copy may carry a few, 7 bytes each)
  const std::string body = encodeOverlay(m).SerializeAsString();
  std::vector<std::string> datagrams;
  REQUIRE(fragment(body, 1, datagrams));
  REQUIRE(datagrams.size() == 1);
  const std::size_t overhead = datagrams[0].size() - c.payload().size();
  CHECK(overhead <= 34);  // 61 with the whole chunk and the 12-byte framing of before, 40 with the anchor flag and duration
}

TEST_CASE("buffer maps are delta-coded on the wire, in any order given") {
  Message have;
  have.type = MsgType::kHave;
  have.seqs = {1'000'003, 1'000'000, 1'000'001};
  const v1::PeerMessage wire = encodeOverlay(have);
  REQUIRE(wire.overlay().seqs_size() == 3);
  CHECK(wire.overlay().seqs(0) == 1'000'000);
  CHECK(wire.overlay().seqs(1) == 1);
  CHECK(wire.overlay().seqs(2) == 2);
  v1::PeerMessage copy = wire;
  auto m = decodeOverlay(std::move(copy));
  REQUIRE(m);
  CHECK(m->seqs == std::vector<std::uint64_t>{1'000'000, 1'000'001, 1'000'003});
  // Deltas that overflow are refused, not wrapped.
  v1::PeerMessage bad = wire;
  bad.mutable_overlay()->add_seqs(UINT64_MAX);
  CHECK_FALSE(decodeOverlay(std::move(bad)));
}

TEST_CASE("the tree scheduler's messages cross the wire whole, and their size is what the simulator charges") {
  Message state;
  state.type = MsgType::kTreeState;
  state.uploadKbps = 2375;
  state.stripes = {{1, 40, 7, 0, 3}, {overlay::StripeInfo::kNoPath, 0, 0, 0, 0}, {3, 250, 0, 0, 0}, {2, 120, 0, 0, 0}};
  state.minChildSlots = 0;
  state.streamKbps = 999;
  Message subscribe;
  subscribe.type = MsgType::kSubscribe;
  subscribe.seqs = {2};
  subscribe.slots = 7;
  subscribe.fromSeq = 123457;
  Message refuse;
  refuse.type = MsgType::kUnsubscribe;
  refuse.seqs = {2};
  refuse.peers.push_back({(std::uint64_t{0x7F000001} << 16) | 7002, 0, 0});  // where to ask instead
  Message admit;
  admit.type = MsgType::kAdmit;
  admit.seqs = {3};
  for (const Message& m : {state, subscribe, refuse, admit}) {
    CAPTURE(overlay::toString(m.type));
    const v1::PeerMessage wire = encodeOverlay(m);
    v1::PeerMessage copy = wire;
    auto back = decodeOverlay(std::move(copy));
    REQUIRE(back);
    CHECK((back->type == m.type));
    CHECK(back->seqs == m.seqs);
    CHECK(back->slots == m.slots);
    CHECK(back->fromSeq == m.fromSeq);
    CHECK(back->streamKbps == m.streamKbps);
    CHECK(back->uploadKbps == m.uploadKbps);
    REQUIRE(back->peers.size() == m.peers.size());
    if (!m.peers.empty()) CHECK(back->peers[0].id == m.peers[0].id);
    REQUIRE(back->stripes.size() == m.stripes.size());
    for (std::size_t i = 0; i < m.stripes.size(); ++i) {
      CHECK(back->stripes[i].depth == m.stripes[i].depth);
      CHECK(back->stripes[i].delayMs == m.stripes[i].delayMs);
      CHECK(back->stripes[i].children == m.stripes[i].children);
      CHECK(back->stripes[i].freeSlots == m.stripes[i].freeSlots);
      CHECK(back->stripes[i].interior == m.stripes[i].interior);
    }
    // The simulator charges each message its wire size: within a few bytes.
    const std::size_t onWire = wire.ByteSizeLong() + kSingleHeader;
    CHECK(overlay::wireBytes(m) + 8 >= onWire);
    CHECK(overlay::wireBytes(m) <= onWire + 16);
  }
}

TEST_CASE("one-way delay stamps cross the wire: a chunk asks for one, a HAVE carries it, and each costs what the simulator charges") {
  Message chunk = chunkMessage(h264(false, 1));
  chunk.delegates.clear();
  Message have;
  have.type = MsgType::kHave;
  have.seqs = {5001};
  for (const bool stamped : {false, true}) {
    CAPTURE(stamped);
    chunk.stamp = stamped;
    have.stampSeq = stamped ? 5001 : 0;
    have.stampRecvUs = stamped ? 1'795'000'000'201'234 : 0;
    for (const Message& m : {chunk, have}) {
      CAPTURE(overlay::toString(m.type));
      const v1::PeerMessage wire = encodeOverlay(m);
      v1::PeerMessage copy = wire;
      auto back = decodeOverlay(std::move(copy), 77);
      REQUIRE(back);
      CHECK(back->stamp == m.stamp);
      CHECK(back->stampSeq == m.stampSeq);
      CHECK(back->stampRecvUs == m.stampRecvUs);
      const std::size_t body = wire.ByteSizeLong();
      const std::size_t onWire = body + (body <= kMaxSinglePayload ? kSingleHeader : kFragmentHeader * 2);
      CHECK(overlay::wireBytes(m) + 8 >= onWire);
      CHECK(overlay::wireBytes(m) <= onWire + 16);
    }
  }
}

TEST_CASE("a pong crosses the wire with the closest peers it names, and costs what the simulator charges") {
  Message pong;
  pong.type = MsgType::kPong;
  pong.echoUs = 1'795'000'000'123'456;
  pong.uploadKbps = 2375;
  for (std::uint16_t port = 7001; port <= 7004; ++port) {
    pong.peers.push_back({(std::uint64_t{0x7F000001} << 16) | port, 0, 500u * port / 1000});
  }
  const v1::PeerMessage wire = encodeOverlay(pong);
  v1::PeerMessage copy = wire;
  auto back = decodeOverlay(std::move(copy));
  REQUIRE(back);
  CHECK((back->type == MsgType::kPong));
  CHECK(back->echoUs == pong.echoUs);
  REQUIRE(back->peers.size() == pong.peers.size());
  for (std::size_t i = 0; i < pong.peers.size(); ++i) {
    CHECK(back->peers[i].id == pong.peers[i].id);
    CHECK(back->peers[i].uploadKbps == pong.peers[i].uploadKbps);
  }
  const std::size_t onWire = wire.ByteSizeLong() + kSingleHeader;
  CHECK(overlay::wireBytes(pong) + 8 >= onWire);
  CHECK(overlay::wireBytes(pong) <= onWire + 16);
}
