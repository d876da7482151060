// The overlay core in a tiny in-memory network: instant, lossless delivery,
// a manual clock. Exercises membership, scheduling and the upload queue
// together, with no sockets and no sleeps.
#include <doctest/doctest.h>

#include <stdexcept>

#include "overlay_net.hpp"

using namespace partyhub;
using namespace partyhub::streamer::overlay;
using namespace partyhub::streamer::overlay::testing;

TEST_CASE("schedulers are chosen by name: unknown names are refused") {
  CHECK(std::string(makeScheduler("push")->name()) == "push");
  CHECK(std::string(makeScheduler("offer-accept")->name()) == "offer-accept");
  CHECK_THROWS_AS(makeScheduler("flood"), std::invalid_argument);
}

TEST_CASE("every peer gets every chunk: the source sends at most k copies of each") {
  for (const std::string scheduler : {"push", "offer-accept"}) {
    CAPTURE(scheduler);
    auto net = makeNet(scheduler, 8);
    // Let gossip settle the neighbourhoods first.
    for (int t = 0; t < 200; ++t) {
      net->now += 10'000;
      net->tickAll();
    }
    stream(*net, 90);
    for (PeerId id = 2; id <= 9; ++id) {
      CAPTURE(id);
      CHECK(net->delivered[id].size() == 90);
    }
    for (const auto& [seq, sends] : net->sourceSends) CHECK(sends <= 3);
  }
}

TEST_CASE("structured push in an overlay known whole: each copy carries its own peers, no duplicates") {
  auto net = makeNet("push", 8);
  for (int t = 0; t < 300; ++t) {  // gossip: every view holds all 8 others
    net->now += 10'000;
    net->tickAll();
  }
  // Record the source's copies of each chunk: their receivers and delegates.
  std::map<std::uint64_t, std::vector<std::pair<PeerId, std::vector<PeerId>>>> copies;
  net->drop = [&](PeerId from, PeerId to, const Message& m) {
    if (from == 1 && m.type == MsgType::kChunk) copies[m.chunk->seq()].emplace_back(to, m.delegates);
    return false;
  };
  stream(*net, 60);
  REQUIRE(copies.size() == 60);
  for (const auto& [seq, sent] : copies) {
    CAPTURE(seq);
    CHECK(sent.size() <= 3);
    // The copies' receivers and delegates never overlap, and together they
    // are every peer there is: each peer is exactly one relay's to reach.
    std::multiset<PeerId> covered;
    for (const auto& [to, delegates] : sent) {
      covered.insert(to);
      covered.insert(delegates.begin(), delegates.end());
    }
    CHECK(std::set<PeerId>(covered.begin(), covered.end()).size() == covered.size());
    CHECK(covered.size() == 8);
  }
  std::uint64_t duplicates = 0;
  for (PeerId id = 2; id <= 9; ++id) {
    CAPTURE(id);
    CHECK(net->delivered[id].size() == 60);
    duplicates += net->nodes.at(id)->stats().duplicates;
  }
  CHECK(duplicates == 0);
}

TEST_CASE("an overlay larger than the view is not taken for known whole when the view dips") {
  // A view below full is how a small overlay (a conference channel) looks:
  // everyone is known, and each copy of a chunk carries its share of them.
  // A large overlay's view dips below full whenever a member leaves or times
  // out; taken for the whole overlay, that pushed chunks to the view's 23
  // peers only (partyhub-sim, 100 peers, for seconds at a time).
  NodeConfig c;
  c.isSource = true;
  c.uploadKbps = 5000;
  c.membership.viewSize = 8;
  c.overlaySizeHint = 40;
  Node source(1, c, 7);
  NodeActions out;
  source.join({}, 0, out);
  std::int64_t now = 0;
  auto gossipFrom = [&](PeerId from, std::vector<PeerId> peers) {
    Message g;
    g.type = MsgType::kGossip;
    for (PeerId p : peers) g.peers.push_back(Descriptor{p, 0, 3000});
    source.onMessage(from, g, now, out);
  };
  auto copiesOf = [&](std::uint64_t seq) {
    out.clear();
    auto chunk = std::make_shared<v1::Chunk>();
    chunk->set_seq(seq);
    chunk->set_payload(std::string(1000, 'v'));
    source.onLocalChunk(chunk, now, out);
    std::vector<Message> copies;
    for (auto& [to, m] : out.sends) {
      if (m.type == MsgType::kChunk) copies.push_back(m);
    }
    return copies;
  };
  auto tick = [&](std::int64_t us) {
    for (std::int64_t t = 0; t < us; t += 10'000) {
      now += 10'000;
      source.onTick(now, out);
    }
  };
  {  // a small overlay, its view never full: copies carry delegates
    Node small(1, c, 7);
    small.join({}, 0, out);
    Message g;
    g.type = MsgType::kGossip;
    for (PeerId p = 3; p <= 8; ++p) g.peers.push_back(Descriptor{p, 0, 3000});
    small.onMessage(2, g, 10'000, out);
    small.onTick(20'000, out);
    out.clear();
    auto chunk = std::make_shared<v1::Chunk>();
    chunk->set_payload(std::string(1000, 'v'));
    small.onLocalChunk(chunk, 30'000, out);
    REQUIRE_FALSE(out.sends.empty());
    CHECK_FALSE(out.sends.front().second.delegates.empty());
  }
  gossipFrom(2, {3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
  tick(100'000);
  REQUIRE(source.membership().view().size() == 8);
  Message leave;
  leave.type = MsgType::kLeave;
  source.onMessage(source.membership().view().front().id, leave, now, out);
  REQUIRE(source.membership().view().size() == 7);
  SUBCASE("a large overlay whose view dips: copies carry the size hint, no delegates") {
    tick(1'000'000);
    const auto copies = copiesOf(0);
    REQUIRE_FALSE(copies.empty());
    for (const Message& m : copies) CHECK(m.delegates.empty());
  }
  SUBCASE("a view below full for long: the overlay shrank, it is known whole") {
    for (int s = 0; s < 11; ++s) {  // its members alive: a probe unanswered would drop them
      tick(1'000'000);
      for (const Descriptor& d : std::vector<Descriptor>(source.membership().view())) {
        Message ping;
        ping.type = MsgType::kPing;
        ping.echoUs = now;
        source.onMessage(d.id, ping, now, out);
      }
    }
    REQUIRE(source.membership().view().size() < 8);
    const auto copies = copiesOf(0);
    REQUIRE_FALSE(copies.empty());
    CHECK_FALSE(copies.front().delegates.empty());
  }
}

TEST_CASE("a missing chunk is pulled mostly from the owner likeliest to answer soon: close and well provisioned") {
  NodeConfig c;
  c.uploadKbps = 2000;
  Node node(10, c, 3);
  NodeActions out;
  node.join({1}, 0, out);
  std::int64_t now = 1'000;
  // Two neighbours: 21 is 5 ms away with 5 Mbit/s of upload, 22 is 300 ms
  // away with 0.5 Mbit/s. Their round trips are measured (a PONG echoes our
  // clock) and their uploads heard.
  for (const auto& [peer, rttUs, upload] : {std::tuple<PeerId, std::int64_t, std::uint32_t>{21, 5'000, 5000},
                                            {22, 300'000, 500}}) {
    Message pong;
    pong.type = MsgType::kPong;
    pong.echoUs = now;
    pong.uploadKbps = upload;
    node.onMessage(peer, pong, now + rttUs, out);
  }
  now += 300'000;
  // Both advertise 200 chunks we do not have; we pull them all.
  Message have;
  have.type = MsgType::kHave;
  for (std::uint64_t s = 0; s < 200; ++s) have.seqs.push_back(s);
  node.onMessage(21, have, now, out);
  node.onMessage(22, have, now, out);
  out.clear();
  std::map<PeerId, std::size_t> asked;
  for (int t = 0; t < 40; ++t) {
    now += 10'000;
    node.onTick(now, out);
    for (const auto& [to, m] : out.sends) {
      if (m.type == MsgType::kRequest) asked[to] += m.seqs.size();
    }
    out.clear();
  }
  CHECK(asked[21] + asked[22] >= 200);
  CHECK(asked[21] > 9 * asked[22]);  // weighted, not exclusive: the far one still gets a few
}

TEST_CASE("a lost push is sent again once its acknowledgement is overdue") {
  auto net = makeNet("push", 1);
  for (int t = 0; t < 50; ++t) {
    net->now += 10'000;
    net->tickAll();
  }
  std::set<std::uint64_t> droppedOnce;
  net->drop = [&](PeerId from, PeerId, const Message& m) {
    // Every third chunk's first copy is lost.
    return from == 1 && m.type == MsgType::kChunk && m.chunk->seq() % 3 == 0 && droppedOnce.insert(m.chunk->seq()).second;
  };
  stream(*net, 30);
  CHECK(droppedOnce.size() == 10);
  CHECK(net->delivered[2].size() == 30);  // every chunk, the lost ones on their second copy
  CHECK(net->nodes.at(1)->stats().repushes == 10);
  CHECK(net->nodes.at(2)->stats().duplicates == 0);
}

TEST_CASE("ticked only when it asks (nextTickUs), a node still repairs lost pushes and gossips, with fewer ticks") {
  // The same lossy overlay twice: every node ticked at every step (as in the
  // simulator), and each only when it asks (as in the streamer).
  std::map<bool, std::unique_ptr<Net>> runs;
  for (bool onDemand : {false, true}) {
    auto net = makeNet("push", 6);
    net->tickOnDemand = onDemand;
    for (int t = 0; t < 100; ++t) {
      net->now += 10'000;
      net->tickAll();
    }
    auto dropped = std::make_shared<std::set<std::pair<PeerId, std::uint64_t>>>();
    net->drop = [dropped](PeerId, PeerId to, const Message& m) {
      // The first copy of every fifth chunk to peers 2 and 3 is lost.
      return m.type == MsgType::kChunk && (to == 2 || to == 3) && m.chunk->seq() % 5 == 0 &&
             dropped->insert({to, m.chunk->seq()}).second;
    };
    net->ticks = 0;
    stream(*net, 60);
    CHECK(dropped->size() == 24);
    for (PeerId p = 2; p <= 7; ++p) {
      CAPTURE(onDemand);
      CAPTURE(p);
      CHECK(net->delivered[p].size() == 60);
    }
    std::uint64_t repushes = 0;
    for (auto& [id, n] : net->nodes) {
      repushes += n->stats().repushes;
      CHECK(n->membership().view().size() >= 4);  // gossip went on
    }
    CHECK(repushes >= 20);
    runs[onDemand] = std::move(net);
  }
  // Many regular ticks found nothing to do (here, where chunks come every
  // 33 ms and some work is due after each, about a third of them).
  CHECK(runs[true]->ticks * 4 < runs[false]->ticks * 3);
}

TEST_CASE("a peer that stops acknowledging is routed around: the others keep the stream") {
  auto net = makeNet("push", 3, 1);  // the source sends one copy: where it goes matters
  for (int t = 0; t < 200; ++t) {
    net->now += 10'000;
    net->tickAll();
  }
  stream(*net, 30);
  net->nodes.erase(3);  // crashes
  net->delivered.clear();
  stream(*net, 60, 30);
  CHECK(net->delivered[2].size() == 60);
  CHECK(net->delivered[4].size() == 60);
}

TEST_CASE("membership: gossip fills views beyond the bootstrap: silent peers are dropped") {
  auto net = makeNet("push", 8);
  for (int t = 0; t < 300; ++t) {
    net->now += 10'000;
    net->tickAll();
  }
  for (auto& [id, n] : net->nodes) {
    CAPTURE(id);
    CHECK(n->membership().view().size() >= 4);
  }
  // Peer 9 crashes: nobody hears from it again.
  net->nodes.erase(9);
  for (int t = 0; t < 600; ++t) {
    net->now += 10'000;
    net->tickAll();
  }
  for (auto& [id, n] : net->nodes) {
    for (const Descriptor& d : n->membership().view()) CHECK(d.id != 9);
    for (PeerId p : n->neighbours()) CHECK(p != 9);
  }
}

TEST_CASE("membership: what gossip told of peers out of the view, never heard from, is forgotten") {
  MembershipConfig c;
  c.viewSize = 2;
  Membership m(1, 1000, c);
  std::mt19937_64 rng(5);
  (void)m.join({2}, 0);
  // Peer 2 answers with three others: the view keeps two of the four.
  Message reply;
  reply.type = MsgType::kGossipReply;
  reply.uploadKbps = 2000;
  for (PeerId p : {3, 4, 5}) reply.peers.push_back(Descriptor{p, 0, 3000});
  (void)m.onMessage(2, reply, 1000, rng);
  REQUIRE(m.view().size() == 2);
  // A peer's upload is believed from the peer itself only (anyone may make
  // up peers with any upload): 2's, not what 2 says of the others.
  CHECK(m.uploadOf(2) == 2000);
  for (PeerId p : {3, 4, 5}) CHECK(m.uploadOf(p) == 0);
  CHECK(m.knownCount() == 4);
  // Peer 2 keeps talking; after a timeout, what is known of the others is
  // what is in the view (and of peer 2, heard from), nothing more.
  std::int64_t now = 1000;
  for (; now < c.peerTimeoutUs + 2 * c.periodUs; now += 10'000) {
    m.heard(2, now);
    (void)m.onTick(now, rng);
  }
  CHECK(m.uploadOf(2) == 2000);
  std::size_t inViewCount = 0;
  for (PeerId p : {3, 4, 5}) {
    const bool inView = std::any_of(m.view().begin(), m.view().end(), [p](const Descriptor& d) { return d.id == p; });
    CAPTURE(p);
    if (inView) ++inViewCount;
  }
  CHECK(m.knownCount() == 1 + inViewCount);
}

TEST_CASE("membership: one gossip message adds a shuffle's worth at most, and named peers that never answer leave") {
  // Anyone may send gossip naming peers that do not exist, as many as it
  // likes, young and claiming a large upload: they pushed real peers out of
  // views and were chosen as neighbours first (the hostile test's push
  // peers got 45-84 of 90 chunks on 5 seeds of 16).
  MembershipConfig c;
  Membership m(1, 1000, c);
  std::mt19937_64 rng(5);
  (void)m.join({2}, 0);
  Message g;
  g.type = MsgType::kGossip;
  g.uploadKbps = 2000;
  for (PeerId p = 100; p < 400; ++p) g.peers.push_back(Descriptor{p, 0, 4'000'000});
  (void)m.onMessage(2, g, 1000, rng);
  CHECK(m.view().size() == 1 + c.shuffleLength);  // 2 (from join), and 8 of the 300
  for (const Descriptor& d : m.view()) CHECK(m.uploadOf(d.id) == (d.id == 2 ? 2000u : 0u));
  // Probed (pinged) and silent for the timeout, they leave; 2 and 100, who
  // answer, stay.
  for (const Descriptor& d : std::vector<Descriptor>(m.view())) m.expect(d.id, 1000);
  for (std::int64_t now = 1000; now < c.peerTimeoutUs + 2 * c.periodUs; now += 10'000) {
    m.heard(2, now);
    m.heard(100, now, 2500);
    (void)m.onTick(now, rng);
  }
  std::vector<PeerId> left;
  for (const Descriptor& d : m.view()) left.push_back(d.id);
  std::sort(left.begin(), left.end());
  CHECK(left == std::vector<PeerId>{2, 100});
  CHECK(m.uploadOf(100) == 2500);
}

TEST_CASE("a graceful leave removes the peer at once") {
  auto net = makeNet("push", 4);
  for (int t = 0; t < 100; ++t) {
    net->now += 10'000;
    net->tickAll();
  }
  NodeActions out;
  net->nodes.at(5)->leave(net->now, out);
  net->apply(5, out);
  net->nodes.erase(5);
  net->drain();
  for (auto& [id, n] : net->nodes) {
    for (const Descriptor& d : n->membership().view()) CHECK(d.id != 5);
  }
}

TEST_CASE("peers that traded with us lately stay neighbours, before those heard from long ago") {
  // Neighbourhood target 2: up to 4 neighbours, 2 from the view, the rest
  // from inbound traders. Eight peers each send one buffer map, a second
  // apart; at the refresh the two heard from last must be neighbours,
  // whatever the view picked.
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    NodeConfig c;
    c.neighbours = 2;
    Node node(100, c, seed);
    NodeActions out;
    node.join({}, 0, out);
    std::int64_t now = 0;
    for (PeerId p = 1; p <= 8; ++p) {
      now += 100'000;
      Message have;
      have.type = MsgType::kHave;
      have.seqs = {p};
      node.onMessage(p, have, now, out);
    }
    node.onTick(now + c.membership.periodUs, out);
    const auto& n = node.neighbours();
    CHECK(n.size() <= 4);
    CHECK(std::find(n.begin(), n.end(), PeerId{8}) != n.end());
    CHECK(std::find(n.begin(), n.end(), PeerId{7}) != n.end());
  }
}

TEST_CASE("a newly chosen neighbour hears from us at once, even while we hold nothing: once, not at every refresh") {
  // A joiner holds no chunks and so sends no buffer maps: without a word
  // from it, the peers it picked would not take it as a neighbour.
  // (Six to choose from eight: more than the four RTT probes a refresh sends.)
  NodeConfig c;
  c.neighbours = 6;
  Node node(100, c, 7);
  NodeActions out;
  node.join({1, 2, 3, 4, 5, 6, 7, 8}, 1000, out);  // chooses its first neighbours at once
  const std::vector<PeerId> chosen = node.neighbours();
  REQUIRE(chosen.size() == 6);
  const auto pinged = [&](PeerId p) {
    return std::any_of(out.sends.begin(), out.sends.end(),
                       [&](const auto& s) { return s.first == p && s.second.type == MsgType::kPing; });
  };
  for (PeerId p : chosen) {
    CAPTURE(p);
    CHECK(pinged(p));
  }
  // They answer (so their RTT is known: no probes either).
  std::vector<std::pair<PeerId, Message>> pings;
  for (const auto& [to, m] : out.sends) {
    if (m.type == MsgType::kPing) pings.emplace_back(to, m);
  }
  out.clear();
  for (const auto& [from, ping] : pings) {
    Message pong;
    pong.type = MsgType::kPong;
    pong.echoUs = ping.echoUs;
    node.onMessage(from, pong, 20'000, out);
  }
  out.clear();
  node.onTick(c.membership.periodUs + 1, out);
  for (PeerId p : node.neighbours()) {
    if (std::find(chosen.begin(), chosen.end(), p) == chosen.end()) continue;
    CAPTURE(p);
    CHECK_FALSE(pinged(p));
  }
}

TEST_CASE("a source streamer that restarts and numbers from 0 again is followed, not taken for old chunks") {
  auto net = makeNet("push", 4);
  for (int t = 0; t < 200; ++t) {
    net->now += 10'000;
    net->tickAll();
  }
  stream(*net, 600);  // past the 512-chunk window
  for (PeerId id = 2; id <= 5; ++id) CHECK(net->delivered[id].size() == 600);
  // The source crashes and comes back on the same address, its numbering
  // from 0; its chunks are captured later than anything before.
  NodeConfig c;
  c.isSource = true;
  c.uploadKbps = 5000;
  c.neighbours = 4;
  net->nodes[1] = std::make_unique<Node>(1, c, 4242);
  for (int t = 0; t < 200; ++t) {  // the others' gossip finds it again
    net->now += 10'000;
    net->tickAll();
  }
  net->delivered.clear();
  NodeActions out;
  for (int i = 0; i < 30; ++i) {
    auto chunk = std::make_shared<v1::Chunk>();
    chunk->set_seq(static_cast<std::uint64_t>(i));
    chunk->set_capture_us(net->now);
    chunk->set_payload(std::string(4000, 'n'));
    net->nodes.at(1)->onLocalChunk(chunk, net->now, out);
    net->apply(1, out);
    net->drain();
    for (int t = 0; t < 3; ++t) {
      net->now += 11'111;
      net->tickAll();
    }
  }
  for (int t = 0; t < 100; ++t) {
    net->now += 10'000;
    net->tickAll();
  }
  for (PeerId id = 2; id <= 5; ++id) {
    CAPTURE(id);
    CHECK(net->delivered[id].size() == 30);
    CHECK(net->nodes.at(id)->stats().restarts == 1);
  }
}

TEST_CASE("membership: a view emptied by silence takes the bootstrap peers again") {
  MembershipConfig c;
  Membership m(1, 1000, c);
  std::mt19937_64 rng(3);
  (void)m.join({2}, 0);
  REQUIRE(m.view().size() == 1);
  // Peer 2 never answers: dropped after its timeout ...
  std::int64_t now = 0;
  bool emptied = false;
  for (; now < c.peerTimeoutUs + 2 * c.periodUs && !emptied; now += 10'000) {
    (void)m.onTick(now, rng);
    emptied = m.view().empty();
  }
  // ... and tried again at once (a busy bootstrap peer sheds its answers;
  // an empty view would be for good).
  for (int i = 0; i < 20 && m.view().empty(); ++i, now += 10'000) (void)m.onTick(now, rng);
  REQUIRE(m.view().size() == 1);
  CHECK(m.view()[0].id == 2);
}
