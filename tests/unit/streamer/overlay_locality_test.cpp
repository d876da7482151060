// Locality: a tree's neighbours are mostly the closest peers a node has
// measured (kept across gossip shuffles, found through the closest peers its
// close peers name in their pongs). One node, a manual clock, messages handed
// in by the test.
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "core/overlay/node.hpp"

using namespace partyhub;
using namespace partyhub::streamer::overlay;

namespace {
// A node that has measured `rtts` (peer -> RTT, µs) by pinging: each peer's
// PONG echoes the ping's clock and names `named` of the peer's own closest.
void measure(Node& node, NodeActions& out, std::int64_t now, PeerId peer, std::int64_t rttUs,
             std::vector<Descriptor> named = {}) {
  Message pong;
  pong.type = MsgType::kPong;
  pong.echoUs = now;
  pong.uploadKbps = 2000;
  pong.peers = std::move(named);
  node.onMessage(peer, pong, now + rttUs, out);
}

// Gossip fills the node's view: the overlay is larger than it (not known
// whole), where a tree's neighbours are mostly close ones.
void fillView(Node& node, NodeActions& out, std::int64_t now) {
  for (PeerId first = 1000; first < 1030; first += 8) {  // a gossip message brings 8 at most
    Message gossip;
    gossip.type = MsgType::kGossip;
    for (PeerId p = first; p < first + 8; ++p) gossip.peers.push_back({p, 0, 2000});
    node.onMessage(1, gossip, now, out);
  }
  REQUIRE(node.membership().view().size() == NodeConfig{}.membership.viewSize);
}

// `from` pings us at `now`: the pong we answer with (the test stops if none).
Message pongTo(Node& node, NodeActions& out, PeerId from, std::int64_t now, std::int64_t echoUs = 0) {
  out.clear();
  Message ping;
  ping.type = MsgType::kPing;
  ping.echoUs = echoUs;
  node.onMessage(from, ping, now, out);
  const auto pong = std::find_if(out.sends.begin(), out.sends.end(),
                                 [](const auto& s) { return s.second.type == MsgType::kPong; });
  REQUIRE(pong != out.sends.end());
  CHECK(pong->first == from);
  return pong->second;
}

bool pinged(const NodeActions& out, PeerId p) {
  return std::any_of(out.sends.begin(), out.sends.end(),
                     [&](const auto& s) { return s.first == p && s.second.type == MsgType::kPing; });
}
}  // namespace

TEST_CASE("locality: the closest peers measured are neighbours, though the view has moved on") {
  NodeConfig c;
  c.scheduler = "tree";
  c.neighbours = 5;
  c.closeShare = 0.6;  // three close ones
  Node node(100, c, 1);
  NodeActions out;
  node.join({1}, 0, out);
  // 11, 12, 13 are near (2-6 ms), measured first.
  std::int64_t now = 1'000;
  for (PeerId p = 11; p <= 13; ++p) measure(node, out, now, p, 2'000 * static_cast<std::int64_t>(p - 10));
  // Shuffles age them in the view; then 30 far peers (150 ms) are heard
  // from, young, and push them out of it.
  for (int i = 0; i < 6; ++i) node.onTick(now += c.membership.periodUs, out);
  for (PeerId p = 30; p < 60; ++p) measure(node, out, now, p, 150'000);
  const auto& view = node.membership().view();
  for (PeerId p : {PeerId{11}, PeerId{12}, PeerId{13}}) {
    REQUIRE(std::none_of(view.begin(), view.end(), [p](const Descriptor& d) { return d.id == p; }));
  }
  // They still answer (our pings to the silent ones), and stay candidates.
  for (PeerId p = 11; p <= 13; ++p) measure(node, out, now + 160'000, p, 2'000 * static_cast<std::int64_t>(p - 10));
  REQUIRE(std::none_of(view.begin(), view.end(), [](const Descriptor& d) { return d.id >= 11 && d.id <= 13; }));
  // The far ones traded with us since: they, not 11-13, are the inbound
  // traders heard from last.
  for (PeerId p = 30; p < 60; ++p) {
    Message have;
    have.type = MsgType::kHave;
    have.seqs = {p};
    node.onMessage(p, have, now + 170'000, out);
  }
  out.clear();
  node.onTick(now + c.membership.periodUs + 200'000, out);
  const auto& n = node.neighbours();
  for (PeerId p : {PeerId{11}, PeerId{12}, PeerId{13}}) {
    CAPTURE(p);
    CHECK(std::find(n.begin(), n.end(), p) != n.end());
  }
}

TEST_CASE("locality: a pong names the answering peer's closest, nearest first, never the asker") {
  NodeConfig c;
  c.scheduler = "tree";
  Node node(100, c, 1);
  NodeActions out;
  node.join({1}, 0, out);
  for (PeerId p = 11; p <= 17; ++p) measure(node, out, 1'000, p, 1'000 * static_cast<std::int64_t>(20 - p));
  fillView(node, out, 50'000);
  const Message pong = pongTo(node, out, 16, 100'000, 5);
  CHECK(pong.echoUs == 5);
  std::vector<PeerId> named;
  for (const Descriptor& d : pong.peers) named.push_back(d.id);
  CHECK(named == std::vector<PeerId>{17, 15, 14, 13});  // 16, the asker, left out
}

TEST_CASE("locality: peers a close peer names are measured, those a far one names are not") {
  NodeConfig c;
  c.scheduler = "tree";
  Node node(100, c, 1);
  NodeActions out;
  node.join({1}, 0, out);
  // Twenty peers measured: the 16 nearest are kept as our closest.
  for (PeerId p = 11; p <= 30; ++p) measure(node, out, 1'000, p, 1'000 * static_cast<std::int64_t>(p));
  fillView(node, out, 50'000);
  out.clear();
  SUBCASE("a close one names peers: we ping them (except ourselves and those measured)") {
    measure(node, out, 200'000, 11, 11'000, {{200, 0, 0}, {201, 0, 0}, {100, 0, 0}, {12, 0, 0}});
    CHECK(pinged(out, 200));
    CHECK(pinged(out, 201));
    CHECK_FALSE(pinged(out, 100));
    CHECK_FALSE(pinged(out, 12));
  }
  SUBCASE("a far one (beyond our closest) names peers: nothing") {
    measure(node, out, 200'000, 30, 30'000, {{200, 0, 0}, {201, 0, 0}});
    CHECK_FALSE(pinged(out, 200));
    CHECK_FALSE(pinged(out, 201));
  }
  SUBCASE("a close peer that falls silent is asked again, and forgotten past the timeout") {
    // Heard at 200 ms (the pong above is before the refresh) — then nothing.
    const std::int64_t quiet = 1'000 + c.membership.peerTimeoutUs / 2 + c.membership.periodUs + 1;
    node.onTick(quiet, out);
    CHECK(pinged(out, 11));
    const Message pong = pongTo(node, out, 12, quiet + 1'000);  // someone asks us which are our closest
    REQUIRE_FALSE(pong.peers.empty());
    CHECK(pong.peers.front().id == 11);  // still kept: not yet past the timeout
    const std::int64_t gone = 1'000 + c.membership.peerTimeoutUs + c.membership.periodUs + 2;
    node.onTick(gone, out);
    for (const Descriptor& d : pongTo(node, out, 13, gone + 1'000).peers) CHECK(d.id != 11);
  }
}

TEST_CASE("locality: no close neighbourhood for an epidemic (push), nor in an overlay known whole") {
  NodeConfig c;
  bool full = true;
  std::int64_t now = 1'000;
  SUBCASE("push, in a large overlay") { c.scheduler = "push"; }
  SUBCASE("tree, in an overlay smaller than the view, past a joiner's first seconds") {
    c.scheduler = "tree";
    full = false;
    now = 10'500'000;
  }
  Node node(100, c, 1);
  NodeActions out;
  node.join({1}, 0, out);
  node.onTick(now, out);
  for (PeerId p = 11; p <= 17; ++p) measure(node, out, now, p, 1'000 * static_cast<std::int64_t>(p));
  if (full) fillView(node, out, now + 50'000);
  CHECK(pongTo(node, out, 16, now + 100'000).peers.empty());
  out.clear();
  measure(node, out, now + 200'000, 11, 11'000, {{200, 0, 0}, {201, 0, 0}});
  CHECK_FALSE(pinged(out, 200));
}

TEST_CASE("locality: a joiner's small view does not yet say the overlay is small: close peers are named") {
  NodeConfig c;
  c.scheduler = "tree";
  Node node(100, c, 1);
  NodeActions out;
  node.join({1}, 0, out);
  for (PeerId p = 11; p <= 17; ++p) measure(node, out, 1'000, p, 1'000 * static_cast<std::int64_t>(p));
  REQUIRE(node.membership().view().size() < c.membership.viewSize);
  CHECK_FALSE(pongTo(node, out, 16, 100'000).peers.empty());
}
