#include <doctest/doctest.h>

#include "core/relay.hpp"

using namespace partyhub;
using namespace partyhub::streamer;

namespace {

v1::Chunk chunk(std::uint64_t mediaSeq) {
  v1::Chunk c;
  c.set_kind(v1::MEDIA_KIND_VIDEO);
  c.set_media_seq(mediaSeq);
  c.set_payload("frame");
  return c;
}

v1::PeerMessage keyframeRequest() {
  v1::PeerMessage m;
  m.mutable_control()->mutable_keyframe()->set_channel_id(1);
  return m;
}

}  // namespace

TEST_CASE("the source streamer stamps sequence numbers and pushes to every peer") {
  RelayConfig cfg;
  cfg.isSource = true;
  cfg.channelId = 3;
  cfg.peers = {10, 11};
  Relay relay(cfg);
  RelayActions out;
  relay.onLocalChunk(chunk(0), 1000, out);
  relay.onLocalChunk(chunk(1), 2000, out);
  // One message per chunk, addressed to every peer: serialised once.
  REQUIRE(out.toPeers.size() == 2);
  CHECK(out.toPeers[0].peers == std::vector<PeerId>{10, 11});
  CHECK(out.toPeers[1].message.chunk().chunk().seq() == 1);
  CHECK(out.toPeers[1].message.chunk().injected_us() == 2000);
  CHECK(out.toPeers[1].message.chunk().chunk().channel_id() == 3);
  CHECK(relay.stats().chunksToPeers == 4);
  REQUIRE(out.toPlayers.size() == 2);
  CHECK(out.toPlayers[1].seq() == 1);
}

TEST_CASE("a peer delivers new chunks, forwards them on, and drops duplicates") {
  RelayConfig cfg;
  cfg.peers = {20, 21};
  Relay relay(cfg);
  v1::PeerMessage m;
  *m.mutable_chunk()->mutable_chunk() = chunk(0);
  m.mutable_chunk()->mutable_chunk()->set_channel_id(1);
  m.mutable_chunk()->set_injected_us(1000);
  m.mutable_chunk()->set_hops(1);
  RelayActions out;
  relay.onPeerMessage(20, m, 1500, out);
  CHECK(out.toPlayers.size() == 1);
  REQUIRE(out.toPeers.size() == 1);
  CHECK(out.toPeers[0].peers == std::vector<PeerId>{21});  // not back to the sender
  CHECK(out.toPeers[0].message.chunk().hops() == 2);
  out.clear();
  relay.onPeerMessage(21, m, 1600, out);
  CHECK(out.toPlayers.empty());
  CHECK(out.toPeers.empty());
  CHECK(relay.stats().duplicates == 1);
  CHECK(relay.stats().overlayDelay.count() == 1);
}

TEST_CASE("keyframe requests travel upstream, once per gap, and reach the source") {
  SUBCASE("a peer sends it to where the channel's chunks came from") {
    RelayConfig cfg;
    cfg.peers = {30, 31};
    Relay relay(cfg);
    v1::PeerMessage m;
    *m.mutable_chunk()->mutable_chunk() = chunk(0);
    m.mutable_chunk()->mutable_chunk()->set_channel_id(1);
    RelayActions out;
    relay.onPeerMessage(31, m, 0, out);
    out.clear();
    v1::Control c = keyframeRequest().control();
    relay.onPlayerControl(c, 1'000'000, out);
    REQUIRE(out.toPeers.size() == 1);
    CHECK(out.toPeers[0].peers == std::vector<PeerId>{31});
    CHECK(out.toPeers[0].message.has_control());
    out.clear();
    relay.onPlayerControl(c, 1'050'000, out);  // a second player, same loss
    CHECK(out.toPeers.empty());
    CHECK(relay.stats().keyframeRequestsSuppressed == 1);
  }
  SUBCASE("the source streamer hands it to its source") {
    RelayConfig cfg;
    cfg.isSource = true;
    Relay relay(cfg);
    RelayActions out;
    relay.onPeerMessage(40, keyframeRequest(), 1'000'000, out);
    REQUIRE(out.toSource.size() == 1);
    CHECK(out.toSource[0].has_keyframe());
    CHECK(out.toPeers.empty());
  }
}

TEST_CASE("a mute request reaches the source only from a local player of its own streamer") {
  v1::PeerMessage m;
  m.mutable_control()->mutable_mute()->set_video(true);
  SUBCASE("from the participant's own controller: passed to the source") {
    RelayConfig cfg;
    cfg.isSource = true;
    Relay relay(cfg);
    RelayActions out;
    relay.onPlayerControl(m.control(), 0, out);
    REQUIRE(out.toSource.size() == 1);
    CHECK(out.toSource[0].mute().video());
  }
  SUBCASE("from a peer: refused, never relayed") {
    RelayConfig cfg;
    cfg.isSource = true;
    cfg.peers = {30};
    Relay relay(cfg);
    RelayActions out;
    relay.onPeerMessage(30, m, 0, out);
    CHECK(out.toSource.empty());
    CHECK(out.toPeers.empty());
  }
  SUBCASE("at a relaying peer's streamer: not sent upstream") {
    RelayConfig cfg;
    cfg.peers = {30, 31};
    Relay relay(cfg);
    RelayActions out;
    relay.onPlayerControl(m.control(), 0, out);
    CHECK(out.toPeers.empty());
  }
}
