// The shared layout's streamer core (several channels over one signalling
// overlay) in a tiny in-memory network: messages go through their protobuf
// encoding, instantly and losslessly, under a manual clock.
#include <doctest/doctest.h>

#include <deque>
#include <map>
#include <set>

#include "transport/shared_overlay.hpp"

using namespace partyhub;
using namespace partyhub::streamer;

namespace {

struct SharedNet {
  std::map<PeerId, std::unique_ptr<SharedOverlay>> peers;
  std::deque<std::tuple<PeerId, PeerId, std::string>> inFlight;  // from, to, encoded message
  std::map<PeerId, std::map<std::uint32_t, std::set<std::uint64_t>>> delivered;  // peer -> channel -> seqs
  std::map<PeerId, std::vector<v1::Control>> toSource;
  std::vector<std::tuple<PeerId, PeerId, v1::PeerMessage>> sent;  // everything, for inspection
  std::int64_t now = 1'000'000;

  void apply(PeerId from, RelayActions& out) {
    for (auto& s : out.toPeers) {
      for (PeerId to : s.peers) {
        sent.emplace_back(from, to, s.message);
        inFlight.emplace_back(from, to, s.message.SerializeAsString());
      }
    }
    for (const v1::Chunk& c : out.toPlayers) delivered[from][c.channel_id()].insert(c.seq());
    for (const v1::Control& c : out.toSource) toSource[from].push_back(c);
    out.clear();
  }
  void drain() {
    RelayActions out;
    while (!inFlight.empty()) {
      auto [from, to, bytes] = std::move(inFlight.front());
      inFlight.pop_front();
      auto it = peers.find(to);
      if (it == peers.end()) continue;
      v1::PeerMessage m;
      REQUIRE(m.ParseFromString(bytes));
      it->second->onPeerMessage(from, std::move(m), now, out);
      apply(to, out);
    }
  }
  void tick(int times = 1) {
    RelayActions out;
    for (int i = 0; i < times; ++i) {
      now += 10'000;
      for (auto& [id, p] : peers) {
        p->onTick(now, out);
        apply(id, out);
        p->onUplinkFree(now, out);
        apply(id, out);
      }
      drain();
    }
  }
  void inject(PeerId at, std::uint64_t n) {
    RelayActions out;
    v1::Chunk c;
    c.set_kind(v1::MEDIA_KIND_VIDEO);
    c.set_capture_us(now);
    c.set_anchor(n % 30 == 0);
    c.set_payload(std::string(1500, static_cast<char>('a' + n % 26)));
    peers.at(at)->onLocalChunk(std::move(c), now, out);
    apply(at, out);
    drain();
  }
};

// Overlay messages of `type` in `out`, one per peer they go to.
std::size_t sentOfType(const RelayActions& out, v1::OverlayMessage::Type type) {
  std::size_t n = 0;
  for (const auto& s : out.toPeers) {
    if (s.message.has_overlay() && s.message.overlay().type() == type) n += s.peers.size();
  }
  return n;
}

// Participant i (1..n) is peer 100+i, sources channel 1000+i, and joins
// through participant 1.
std::unique_ptr<SharedNet> makeConference(int n) {
  auto net = std::make_unique<SharedNet>();
  for (int i = 1; i <= n; ++i) {
    SharedOverlayConfig c;
    c.ownChannel = 1000 + static_cast<std::uint32_t>(i);
    c.own.uploadKbps = 8000;
    c.relay.uploadKbps = 4000;
    if (i > 1) c.bootstrap = {101};
    net->peers.emplace(100 + i, std::make_unique<SharedOverlay>(100 + i, c, 77 * static_cast<std::uint64_t>(i)));
  }
  RelayActions out;
  for (auto& [id, p] : net->peers) {
    p->start(net->now, out);
    net->apply(id, out);
  }
  net->drain();
  net->tick(300);  // 3 s of gossip: everyone knows everyone
  return net;
}

}  // namespace

TEST_CASE("shared layout: every participant's channel reaches every other, over one streamer each") {
  auto net = makeConference(4);
  for (auto& [id, p] : net->peers) CHECK(p->knownPeers() == 3);
  constexpr int kChunks = 60;
  for (int n = 0; n < kChunks; ++n) {
    for (PeerId src = 101; src <= 104; ++src) net->inject(src, static_cast<std::uint64_t>(n));
    net->tick(3);
  }
  net->tick(100);
  for (PeerId at = 101; at <= 104; ++at) {
    CAPTURE(at);
    CHECK(net->peers.at(at)->channels().size() == 4);  // its own and the three it joined on their first data
    for (std::uint32_t ch = 1001; ch <= 1004; ++ch) {
      CAPTURE(ch);
      if (ch == at + 900) continue;  // its own: sourced here, not delivered back
      CHECK(net->delivered[at][ch].size() == kChunks);
    }
    CHECK(net->peers.at(at)->sharedStats().refused == 0);
    // A lossless network: every push acknowledged in time, none repeated.
    CHECK(net->peers.at(at)->stats().repushes == 0);
    CHECK(net->peers.at(at)->stats().duplicates == 0);
  }
}

TEST_CASE("shared layout: data messages carry their channel, gossip rides the signalling overlay (channel 0)") {
  auto net = makeConference(3);
  net->sent.clear();
  for (int n = 0; n < 10; ++n) {
    net->inject(102, static_cast<std::uint64_t>(n));
    net->tick(5);
  }
  net->tick(60);
  int chunks = 0, gossip = 0;
  for (const auto& [from, to, m] : net->sent) {
    if (m.has_chunk()) {
      ++chunks;
      CHECK(m.channel() == 1002);
      CHECK(m.chunk().chunk().channel_id() == 0);  // said once, by the message
    }
    if (m.has_overlay() && (m.overlay().type() == v1::OverlayMessage::GOSSIP ||
                            m.overlay().type() == v1::OverlayMessage::GOSSIP_REPLY)) {
      ++gossip;
      CHECK(m.channel() == 0);
    }
  }
  CHECK(chunks >= 20);  // ten chunks, two receivers
  // One membership per streamer: three participants shuffle about twice a
  // second each over 1.1 s, whatever the number of channels.
  CHECK(gossip > 0);
  CHECK(gossip <= 3 * 3 * 2);
}

TEST_CASE("shared layout: untagged data and a channel beyond the bound are refused, not joined") {
  SharedOverlayConfig c;
  c.ownChannel = 7;
  c.maxChannels = 2;
  SharedOverlay p(1, c, 1);
  RelayActions out;
  p.start(0, out);
  out.clear();
  auto chunkOn = [](std::uint32_t channel, std::uint64_t seq) {
    v1::PeerMessage m;
    m.set_channel(channel);
    auto* pc = m.mutable_chunk();
    pc->mutable_chunk()->set_channel_id(channel);
    pc->mutable_chunk()->set_seq(seq);
    pc->mutable_chunk()->set_payload("x");
    pc->set_hops(1);
    return m;
  };
  p.onPeerMessage(2, chunkOn(0, 0), 10, out);  // data without a channel
  CHECK(out.toPlayers.empty());
  CHECK(p.sharedStats().refused == 1);
  p.onPeerMessage(2, chunkOn(8, 0), 20, out);  // a second channel: within the bound of 2
  CHECK(out.toPlayers.size() == 1);
  p.onPeerMessage(2, chunkOn(9, 0), 30, out);  // a third: refused
  CHECK(out.toPlayers.size() == 1);
  CHECK(p.sharedStats().refused == 2);
  CHECK(p.channels() == std::vector<std::uint32_t>{7, 8});
}

TEST_CASE("shared layout: a joined channel that goes quiet is dropped, our own stays") {
  auto net = makeConference(2);
  for (int n = 0; n < 5; ++n) {
    net->inject(102, static_cast<std::uint64_t>(n));
    net->tick(3);
  }
  CHECK(net->peers.at(101)->channels().size() == 2);
  net->tick(1100);  // 11 s without a chunk of channel 1002 (gossip keeps the peers alive)
  CHECK(net->peers.at(101)->channels() == std::vector<std::uint32_t>{1001});
  CHECK(net->peers.at(101)->sharedStats().channelsDropped == 1);
  CHECK(net->peers.at(101)->knownPeers() == 1);
  CHECK(net->peers.at(101)->stats().chunksFromPeers == 5);  // what the dropped channel counted stays counted
}

TEST_CASE("shared layout: leaving says so once per peer, and every channel forgets the peer") {
  auto net = makeConference(3);
  for (int n = 0; n < 5; ++n) {
    for (PeerId src = 101; src <= 103; ++src) net->inject(src, static_cast<std::uint64_t>(n));
    net->tick(3);
  }
  net->sent.clear();
  RelayActions out;
  net->peers.at(103)->stop(net->now, out);
  net->apply(103, out);
  int leaves = 0;
  for (const auto& [from, to, m] : net->sent) {
    CHECK(m.has_overlay());
    CHECK(m.channel() == 0);
    if (m.overlay().type() == v1::OverlayMessage::LEAVE) ++leaves;
  }
  CHECK(leaves == 2);  // one to each peer, not one per channel
  net->drain();
  net->peers.erase(103);
  CHECK(net->peers.at(101)->knownPeers() == 1);
  CHECK(net->peers.at(102)->knownPeers() == 1);
}

TEST_CASE("shared layout: a local player's keyframe request reaches its channel's source") {
  auto net = makeConference(3);
  for (int n = 0; n < 5; ++n) {
    net->inject(102, static_cast<std::uint64_t>(n));
    net->tick(3);
  }
  v1::Control kf;
  kf.mutable_keyframe()->set_channel_id(1002);
  kf.mutable_keyframe()->set_reason("loss");
  RelayActions out;
  net->peers.at(101)->onPlayerControl(1002, kf, net->now, out);  // a player of 102's channel at 101
  net->apply(101, out);
  net->drain();
  REQUIRE(net->toSource[102].size() == 1);
  CHECK(net->toSource[102][0].has_keyframe());
  CHECK(net->toSource[103].empty());
  // A mute from a peer is refused: only 102's own controller may mute its source.
  v1::Control mute;
  mute.mutable_mute()->set_video(true);
  net->peers.at(101)->onPlayerControl(1002, mute, net->now + 1, out);
  net->apply(101, out);
  net->drain();
  CHECK(net->toSource[102].size() == 1);
}

TEST_CASE("a streamer counts the probes it left unanswered, their share of the upload spent") {
  OverlayAdapterConfig c;
  c.node.uploadKbps = 1000;
  c.node.answerShare = 0.1;  // a 500 ms bucket of 6250 bytes: a few hundred pongs
  OverlayAdapter streamer(1, c, 7);
  RelayActions out;
  streamer.start(0, out);
  out.clear();
  for (PeerId p = 2; p < 2002; ++p) {  // a flash crowd of probes
    v1::PeerMessage m;
    m.mutable_overlay()->set_type(v1::OverlayMessage::PING);
    m.mutable_overlay()->set_echo_us(1);
    streamer.onPeerMessage(p, std::move(m), 1000, out);
  }
  const std::size_t pongs = sentOfType(out, v1::OverlayMessage::PONG);
  CHECK(pongs > 100);
  CHECK(pongs < 2000);
  CHECK(streamer.stats().answersShed == 2000 - pongs);
}

TEST_CASE("shared layout: gossip replies take at most their share of the upload, the rest counted and dropped") {
  SharedOverlayConfig c;
  c.ownChannel = 1001;
  c.uploadKbps = 1000;
  c.answerShare = 0.1;  // a 500 ms bucket of 6250 bytes: a few dozen replies
  SharedOverlay member(101, c, 5);
  RelayActions out;
  member.start(0, out);
  out.clear();
  // A flash crowd of joiners, each gossiping with this member.
  for (PeerId p = 200; p < 1200; ++p) {
    v1::PeerMessage m;
    m.mutable_overlay()->set_type(v1::OverlayMessage::GOSSIP);
    member.onPeerMessage(p, std::move(m), 1000, out);
  }
  const std::size_t replies = sentOfType(out, v1::OverlayMessage::GOSSIP_REPLY);
  CHECK(replies > 10);
  CHECK(replies < 1000);
  CHECK(member.sharedStats().answersShed == 1000 - replies);
  CHECK(member.stats().answersShed == 1000 - replies);  // in the streamer's statistics too
  // The share refills: a second later a joiner is answered again.
  out.clear();
  v1::PeerMessage late;
  late.mutable_overlay()->set_type(v1::OverlayMessage::GOSSIP);
  member.onPeerMessage(5000, std::move(late), 1'001'000, out);
  REQUIRE(out.toPeers.size() == 1);
  CHECK(out.toPeers[0].message.overlay().type() == v1::OverlayMessage::GOSSIP_REPLY);
}
