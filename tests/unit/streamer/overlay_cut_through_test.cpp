// Cut-through forwarding in the core: a chunk told at its first datagram
// (Message::coming) is passed on at once; the players and the buffer maps
// wait until it is whole; one that never comes whole is missing again.
#include <doctest/doctest.h>

#include <algorithm>

#include "overlay_net.hpp"

using namespace partyhub;
using namespace partyhub::streamer::overlay;
using namespace partyhub::streamer::overlay::testing;

namespace {

Message comingChunk(std::uint64_t seq, std::int64_t nowUs, std::uint32_t budget) {
  auto c = std::make_shared<v1::Chunk>();
  c->set_seq(seq);
  c->set_capture_us(nowUs);
  c->set_payload(std::string(4000, 'c'));
  Message m;
  m.type = MsgType::kChunk;
  m.chunk = c;
  m.injectedUs = nowUs;
  m.budget = budget;
  m.coming = true;
  return m;
}

/// Whether `out` sends `seq` (a chunk, or named in a buffer map), to anyone but `except`.
bool sends(const NodeActions& out, MsgType type, std::uint64_t seq, PeerId except = 0) {
  return std::any_of(out.sends.begin(), out.sends.end(), [&](const auto& s) {
    const Message& m = s.second;
    if (m.type != type || s.first == except) return false;
    if (type == MsgType::kChunk) return m.chunk->seq() == seq;
    return std::find(m.seqs.begin(), m.seqs.end(), seq) != m.seqs.end();
  });
}

void settle(Net& net) {
  for (int t = 0; t < 200; ++t) {
    net.now += 10'000;
    net.tickAll();
  }
}

}  // namespace

TEST_CASE("a chunk told at its first datagram is passed on at once, played and announced only once whole") {
  auto net = makeNet("push", 4);
  settle(*net);
  Node& relay = *net->nodes.at(2);
  NodeActions out;
  relay.onMessage(1, comingChunk(0, net->now, 2), net->now, out);  // one copy of ours, to one of the three others
  // Its copies go before the body is in: the transport relays the datagrams as they land.
  CHECK(sends(out, MsgType::kChunk, 0));
  CHECK(out.delivered.empty());
  out.clear();
  // Nothing to announce meanwhile: a neighbour must not take it for held.
  // (Its sender has it acknowledged: the copy is coming in.)
  bool acknowledged = false;
  for (int t = 0; t < 20; ++t) {
    net->now += 10'000;
    relay.onTick(net->now, out);
    acknowledged = acknowledged || sends(out, MsgType::kHave, 0);
    CHECK_FALSE(sends(out, MsgType::kHave, 0, 1));
    out.clear();
  }
  CHECK(acknowledged);
  relay.onChunkComplete(0, nullptr, net->now, out);
  REQUIRE(out.delivered.size() == 1);
  CHECK(out.delivered.front().chunk->seq() == 0);
  out.clear();
  bool announced = false;
  for (int t = 0; t < 20 && !announced; ++t) {  // buffer maps at most every 100 ms here (an overlay known whole)
    net->now += 10'000;
    relay.onTick(net->now, out);
    announced = sends(out, MsgType::kHave, 0, 1);
    out.clear();
  }
  CHECK(announced);
  // Whole once: another copy's end changes nothing.
  relay.onChunkComplete(0, nullptr, net->now, out);
  CHECK(out.delivered.empty());
}

TEST_CASE("a chunk whose body never comes whole is missing again: pulled from a neighbour that has it") {
  auto net = makeNet("push", 4);
  settle(*net);
  NodeActions out;
  Node& peer = *net->nodes.at(2);
  peer.onMessage(1, comingChunk(0, net->now, 1), net->now, out);
  out.clear();
  // Another copy's failure is not ours: still coming.
  peer.onChunkFailed(3, 0, net->now, out);
  CHECK(out.delivered.empty());
  peer.onChunkFailed(1, 0, net->now, out);
  CHECK(out.delivered.empty());
  out.clear();
  // The stream goes on without it; a neighbour that has it announces it,
  // and the peer asks for it.
  auto whole = comingChunk(0, net->now, 1);
  whole.coming = false;
  net->nodes.at(3)->onMessage(1, whole, net->now, out);
  net->apply(3, out);
  net->drain();
  bool asked = false;
  net->drop = [&](PeerId from, PeerId, const Message& m) {
    asked = asked || (from == 2 && m.type == MsgType::kRequest &&
                      std::find(m.seqs.begin(), m.seqs.end(), 0) != m.seqs.end());
    return false;
  };
  for (int t = 0; t < 100 && net->delivered[2].count(0) == 0; ++t) {
    net->now += 10'000;
    net->tickAll();
  }
  CHECK(asked);
  CHECK(net->delivered[2].count(0) == 1);
}

TEST_CASE("a chunk told by its header alone is played with the body handed over when whole") {
  auto net = makeNet("push", 2);
  settle(*net);
  NodeActions out;
  Node& peer = *net->nodes.at(2);
  Message header = comingChunk(5, net->now, 1);
  auto bare = std::make_shared<v1::Chunk>(*header.chunk);
  bare->clear_payload();
  header.chunk = bare;
  peer.onMessage(1, header, net->now, out);
  CHECK(out.delivered.empty());
  auto body = std::make_shared<v1::Chunk>(*bare);
  body->set_payload("the body");
  peer.onChunkComplete(5, body, net->now, out);
  REQUIRE(out.delivered.size() == 1);
  CHECK(out.delivered.front().chunk->payload() == "the body");
}
