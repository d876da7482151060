// Cut-through forwarding's transport (transport/cut_through.hpp) between
// three streamers in memory: a source, a relay that passes the body on as it
// lands, a receiver. Lossy links where a test says so; a manual clock.
#include <doctest/doctest.h>

#include <deque>
#include <map>
#include <set>

#include "transport/cut_through.hpp"

using namespace partyhub;
using namespace partyhub::streamer;

namespace {

constexpr PeerId kSource = 1, kRelay = 2, kReceiver = 3;

struct Node;

/// The streamers and what is on the wire between them, in order.
struct Wire {
  struct Datagram {
    PeerId from, to;
    std::string bytes;      // a body datagram ...
    v1::PeerMessage message;  // ... or a message
    bool isMessage;
  };
  std::deque<Datagram> inFlight;
  std::function<bool(const Datagram&)> drop;
  std::map<PeerId, Node*> nodes;
  std::int64_t now = 0;
  void deliver();
};

struct Node {
  PeerId id;
  Wire& wire;
  CutThrough cut;
  std::vector<v1::PeerMessage> toldComing, whole;  // what its overlay heard
  std::vector<std::uint64_t> failed;
  std::vector<PeerId> copyTo;  // the overlay's copies of a chunk it hears of
  CutThrough::Sink sink;
  Node(PeerId self, Wire& w) : id(self), wire(w) {
    sink.send = [this](PeerId to, std::string_view d, bool) {
      wire.inFlight.push_back({id, to, std::string(d), {}, false});
    };
    sink.message = [this](PeerId to, const v1::PeerMessage& m) { wire.inFlight.push_back({id, to, {}, m, true}); };
    sink.complete = [this](PeerId, v1::PeerMessage&& m) { whole.push_back(std::move(m)); };
    sink.failed = [this](PeerId, std::uint32_t, std::uint64_t seq) { failed.push_back(seq); };
    wire.nodes[id] = this;
  }
  void onMessage(PeerId from, v1::PeerMessage m) {
    if (m.has_nack()) {
      cut.onNack(from, m.nack(), sink);
      return;
    }
    if (!m.chunk().body_follows()) return;
    if (cut.onHeader(from, m, wire.now) == CutThrough::Header::kWhole) {
      whole.push_back(m);
      return;
    }
    toldComing.push_back(m);
    // The overlay decides its copies at once: the chunk as the core holds it
    // (no payload yet).
    if (!copyTo.empty()) {
      v1::PeerMessage copy = m;
      copy.mutable_chunk()->set_body_follows(false);
      copy.mutable_chunk()->set_hops(m.chunk().hops() + 1);
      CHECK(cut.send(copy, copyTo, true, wire.now, sink));
    }
  }
};

void Wire::deliver() {
  while (!inFlight.empty()) {
    Datagram d = std::move(inFlight.front());
    inFlight.pop_front();
    if (drop && drop(d)) continue;
    auto it = nodes.find(d.to);
    if (it == nodes.end()) continue;  // nobody there
    Node& to = *it->second;
    if (d.isMessage) {
      to.onMessage(d.from, std::move(d.message));
    } else {
      to.cut.onBodyDatagram(d.from, d.bytes, now, to.sink);
    }
  }
}

v1::PeerMessage chunkMessage(std::uint64_t seq, std::size_t bytes) {
  v1::PeerMessage m;
  auto* c = m.mutable_chunk()->mutable_chunk();
  c->set_seq(seq);
  c->set_capture_us(1000 + static_cast<std::int64_t>(seq));
  std::string payload(bytes, '\0');
  for (std::size_t i = 0; i < bytes; ++i) payload[i] = static_cast<char>((i * 31 + seq) & 0xFF);
  c->set_payload(payload);
  return m;
}

void tick(Wire& w, std::initializer_list<Node*> nodes, std::int64_t untilUs) {
  while (w.now < untilUs) {
    w.now += 10'000;
    for (Node* n : nodes) n->cut.onTick(w.now, n->sink);
    w.deliver();
  }
}

}  // namespace

TEST_CASE("a relay passes a chunk's body on as it lands: its receiver gets it whole, the same bytes") {
  Wire w;
  Node source(kSource, w), relay(kRelay, w), receiver(kReceiver, w);
  relay.copyTo = {kReceiver};
  const v1::PeerMessage m = chunkMessage(7, 5000);
  v1::PeerMessage copy = m;
  REQUIRE(source.cut.send(copy, {kRelay}, true, w.now, source.sink));
  // On the wire: the header first, then the body's datagrams.
  REQUIRE(w.inFlight.size() == 1 + 5);
  CHECK(w.inFlight.front().isMessage);
  CHECK(w.inFlight.front().message.chunk().chunk().payload().empty());
  // The relay hears of it at the header and sends its copy's header before
  // any of the body is in: the body follows as it lands.
  w.deliver();
  REQUIRE(relay.toldComing.size() == 1);
  REQUIRE(relay.whole.size() == 1);
  REQUIRE(receiver.whole.size() == 1);
  CHECK(relay.whole.front().chunk().chunk().payload() == m.chunk().chunk().payload());
  CHECK(receiver.whole.front().chunk().chunk().payload() == m.chunk().chunk().payload());
  CHECK(receiver.whole.front().chunk().hops() == 1);
  CHECK(relay.cut.stats().relayed == 5);
  CHECK(relay.cut.stats().completed == 1);
  // A small chunk is sent whole: nothing to pass on early; nor one not
  // wanted cut through. Either is left as it was.
  v1::PeerMessage small = chunkMessage(8, 500), unwanted = chunkMessage(9, 5000);
  CHECK_FALSE(source.cut.send(small, {kRelay}, true, w.now, source.sink));
  CHECK_FALSE(source.cut.send(unwanted, {kRelay}, false, w.now, source.sink));
  CHECK(small.chunk().chunk().payload().size() == 500);
  CHECK(unwanted.chunk().chunk().payload().size() == 5000);
}

TEST_CASE("a body datagram lost on the way is asked for at the gap, without waiting for a tick, and passed on below") {
  Wire w;
  Node source(kSource, w), relay(kRelay, w), receiver(kReceiver, w);
  relay.copyTo = {kReceiver};
  bool dropped = false;
  w.drop = [&](const Wire::Datagram& d) {
    // The body's third datagram, once, between the source and the relay.
    if (d.from != kSource || d.isMessage || dropped || d.bytes[15] != 2) return false;
    return dropped = true;
  };
  v1::PeerMessage m = chunkMessage(3, 5000);
  REQUIRE(source.cut.send(m, {kRelay}, true, w.now, source.sink));
  // The fourth datagram shows the gap: the relay asks at once, and the
  // receiver (which saw the same gap, and asked the relay) gets the resent
  // datagram through it, all before any tick.
  w.deliver();
  CHECK(dropped);
  CHECK(relay.cut.stats().nacked == 1);
  CHECK(source.cut.stats().resent == 1);
  REQUIRE(receiver.whole.size() == 1);
  tick(w, {&source, &relay, &receiver}, 100'000);
  CHECK(relay.cut.stats().nacked == 1);
  CHECK(source.cut.stats().resent == 1);
  CHECK(receiver.whole.size() == 1);
  CHECK(receiver.whole.front().chunk().chunk().payload().size() == 5000);
  CHECK(receiver.failed.empty());
}

TEST_CASE("a body that never comes fails where it was told, and below: the overlay pulls it") {
  Wire w;
  Node source(kSource, w), relay(kRelay, w), receiver(kReceiver, w);
  relay.copyTo = {kReceiver};
  // The source's body datagrams never reach the relay, nor its repairs.
  w.drop = [](const Wire::Datagram& d) { return d.from == kSource && !d.isMessage; };
  v1::PeerMessage m = chunkMessage(4, 5000);
  REQUIRE(source.cut.send(m, {kRelay}, true, w.now, source.sink));
  w.deliver();
  CHECK(relay.toldComing.size() == 1);
  CHECK(receiver.toldComing.size() == 1);
  tick(w, {&source, &relay, &receiver}, 1'500'000);
  CHECK(relay.failed == std::vector<std::uint64_t>{4});
  CHECK(receiver.failed == std::vector<std::uint64_t>{4});
  CHECK(relay.whole.empty());
  CHECK(relay.cut.stats().nacked >= 1);  // everything asked for, nothing having come
  CHECK(relay.cut.coming() == 0);
}

TEST_CASE("a flood of headers whose bodies never come is bounded: the excess is refused, the rest fail in time") {
  Wire w;
  Node receiver(kReceiver, w);
  std::size_t refused = 0;
  for (std::uint64_t seq = 0; seq < CutThrough::kMaxComing + 100; ++seq) {
    v1::PeerMessage header = chunkMessage(seq, 10);
    header.mutable_chunk()->mutable_chunk()->clear_payload();
    header.mutable_chunk()->set_body_follows(true);
    refused += receiver.cut.onHeader(kSource, header, w.now) == CutThrough::Header::kRefused ? 1 : 0;
  }
  CHECK(refused == 100);
  CHECK(receiver.cut.coming() == CutThrough::kMaxComing);
  tick(w, {&receiver}, 1'200'000);
  CHECK(receiver.cut.coming() == 0);
  CHECK(receiver.failed.size() == CutThrough::kMaxComing);
}

TEST_CASE("a header that comes after its body finds the chunk whole") {
  Wire w;
  Node source(kSource, w), receiver(kReceiver, w);
  v1::PeerMessage m = chunkMessage(5, 3000);
  REQUIRE(source.cut.send(m, {kReceiver}, true, w.now, source.sink));
  // Reordered: the header last.
  std::rotate(w.inFlight.begin(), w.inFlight.begin() + 1, w.inFlight.end());
  w.deliver();
  CHECK(receiver.toldComing.empty());
  REQUIRE(receiver.whole.size() == 1);
  CHECK(receiver.whole.front().chunk().chunk().payload().size() == 3000);
}

TEST_CASE("a header lost while its body came is asked of the body's sender: the relay's overlay hears of the chunk") {
  Wire w;
  Node source(kSource, w), relay(kRelay, w), receiver(kReceiver, w);
  relay.copyTo = {kReceiver};
  // The source's header to the relay is lost (once); its body comes.
  int headersLost = 0;
  w.drop = [&](const Wire::Datagram& d) {
    if (d.from != kSource || !d.isMessage || !d.message.has_chunk() || headersLost > 0) return false;
    ++headersLost;
    return true;
  };
  v1::PeerMessage m = chunkMessage(6, 5000);
  REQUIRE(source.cut.send(m, {kRelay}, true, w.now, source.sink));
  w.deliver();
  CHECK(headersLost == 1);
  CHECK(relay.toldComing.empty());
  CHECK(relay.whole.empty());  // its overlay knows nothing of the chunk
  CHECK(relay.cut.coming() == 1);  // a body without a header: ticked for
  tick(w, {&source, &relay, &receiver}, 50'000);
  CHECK(relay.cut.stats().headersAsked == 1);
  CHECK(source.cut.stats().headersResent == 1);
  // The header again finds the body whole: the chunk, as if it came whole.
  REQUIRE(relay.whole.size() == 1);
  CHECK(relay.whole.front().chunk().chunk().payload() == chunkMessage(6, 5000).chunk().chunk().payload());
  CHECK(relay.cut.coming() == 0);
  tick(w, {&source, &relay, &receiver}, 500'000);
  CHECK(relay.cut.stats().headersAsked == 1);  // asked once: it came
  CHECK(relay.failed.empty());
}

TEST_CASE("a header is given again only to a peer it was sent to, and a body's header that comes late is not asked for") {
  Wire w;
  Node source(kSource, w), receiver(kReceiver, w);
  v1::PeerMessage m = chunkMessage(2, 4000);
  REQUIRE(source.cut.send(m, {kReceiver}, true, w.now, source.sink));
  // A stranger (the relay's id, never sent to) asks for the header: nothing.
  v1::FragmentNack ask;
  ask.set_body(true);
  ask.set_header(true);
  ask.set_seq(2);
  source.cut.onNack(kRelay, ask, source.sink);
  CHECK(source.cut.stats().headersResent == 0);
  CHECK(w.inFlight.size() == 1 + 4);  // only what was sent to the receiver
  // The receiver's header comes 10 ms after its body (within the stall):
  // never asked for.
  Wire::Datagram header = std::move(w.inFlight.front());
  w.inFlight.pop_front();
  w.deliver();
  CHECK(receiver.cut.coming() == 1);
  tick(w, {&source, &receiver}, 10'000);
  CHECK(receiver.cut.stats().headersAsked == 0);
  receiver.onMessage(kSource, std::move(header.message));
  REQUIRE(receiver.whole.size() == 1);
  tick(w, {&source, &receiver}, 300'000);
  CHECK(receiver.cut.stats().headersAsked == 0);
  CHECK(receiver.cut.coming() == 0);
  // A second's keeping later the sender has forgotten the header.
  tick(w, {&source, &receiver}, 1'500'000);
  ask.set_seq(2);
  source.cut.onNack(kReceiver, ask, source.sink);
  CHECK(source.cut.stats().headersResent == 0);
}

TEST_CASE("a sender forgets its headers oldest first: a later chunk's is given again after an earlier one's keeping ran out") {
  Wire w;
  Node source(kSource, w);
  v1::PeerMessage first = chunkMessage(5, 4000);
  REQUIRE(source.cut.send(first, {kReceiver}, true, w.now, source.sink));
  tick(w, {&source}, 600'000);
  v1::PeerMessage second = chunkMessage(6, 4000);
  REQUIRE(source.cut.send(second, {kReceiver, kRelay}, true, w.now, source.sink));
  v1::PeerMessage again = chunkMessage(6, 4000);  // the same chunk to one more peer, later
  tick(w, {&source}, 700'000);
  REQUIRE(source.cut.send(again, {kReceiver}, true, w.now, source.sink));
  // 1.2 s: the first header is over its second's keeping, the others not.
  tick(w, {&source}, 1'200'000);
  v1::FragmentNack ask;
  ask.set_body(true);
  ask.set_header(true);
  ask.set_seq(5);
  source.cut.onNack(kReceiver, ask, source.sink);
  CHECK(source.cut.stats().headersResent == 0);
  ask.set_seq(6);
  source.cut.onNack(kRelay, ask, source.sink);
  CHECK(source.cut.stats().headersResent == 1);
  // 1.65 s: the first copy of seq 6 is forgotten (the relay's), the later one (the receiver's) not.
  tick(w, {&source}, 1'650'000);
  source.cut.onNack(kRelay, ask, source.sink);
  CHECK(source.cut.stats().headersResent == 1);
  source.cut.onNack(kReceiver, ask, source.sink);
  CHECK(source.cut.stats().headersResent == 2);
  tick(w, {&source}, 1'750'000);
  source.cut.onNack(kReceiver, ask, source.sink);
  CHECK(source.cut.stats().headersResent == 2);
}
