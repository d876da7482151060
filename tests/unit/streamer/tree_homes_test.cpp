// The "tree" scheduler's home stripes in a small overlay, through the fake
// host: a stripe no one serves becomes someone's home, and the room a
// measured rate leaves is told at once.
#include <doctest/doctest.h>

#include <string>

#include "tree_fake_host.hpp"

using namespace tree_test;

namespace {

/// A tree state with each stripe's own place.
Message stateOf(std::vector<StripeInfo> stripes) {
  Message m;
  m.type = MsgType::kTreeState;
  m.uploadKbps = 2000;
  m.stripes = std::move(stripes);
  return m;
}

/// The stripe our last tree state offered room in: our home.
std::size_t homeOf(const FakeHost& host) {
  for (auto it = host.sent.rbegin(); it != host.sent.rend(); ++it) {
    if (it->second.type != MsgType::kTreeState) continue;
    for (std::size_t s = 0; s < it->second.stripes.size(); ++s) {
      if (it->second.stripes[s].freeSlots > 0) return s;
    }
  }
  return 99;
}

}  // namespace

TEST_CASE("in a small overlay a stripe no one but the source serves becomes the home of a peer that can leave its own") {
  // Ten streamers drew their home stripes at random, and none drew one:
  // the source's k copies of it went to three, and the other seven pulled
  // it, ~120 ms late, for the whole call.
  constexpr PeerId kSource = kA, kServer = kB, kWaiting = kC, kChild = kD;
  struct Row {
    const char* what;
    bool small;
    bool otherServed;     // a peer serves the stripe we lack
    bool withChild;       // we have a child in our home
    bool homeServed;      // another peer serves our home
    bool moves;
    bool serverSilent = false;  // the server says nothing after its first state (killed)
    bool waitingHome = false;   // a peer has no path in our home either
  };
  const Row rows[] = {
      {"no children at home, another server for it: it moves", true, false, false, true, true},
      {"no children at home, no other server, no one needing it: it moves", true, false, false, false, true},
      {"no children at home, but its only server, and a peer needs it: it stays", true, false, false, false, false, false, true},
      {"a child at home, another server for it: it moves, the child sent there", true, false, true, true, true},
      {"a child at home and no other server: it stays", true, false, true, false, false},
      {"the stripe is served: it stays", true, true, false, true, false},
      {"a large overlay: it stays", false, false, false, true, false},
      {"the stripe's only server went silent, its state still fresh: it moves", true, true, false, true, true, true},
  };
  constexpr auto kNo = StripeInfo::kNoPath;
  for (const Row& r : rows) {
    const std::string what = r.what;
    CAPTURE(what);
    FakeHost host;
    host.small = r.small;
    host.nbrs = {kSource, kServer, kWaiting};
    auto sch = makeScheduler("tree", TreeConfig{.stripes = 2});
    sch->onTick(host, 1000);
    const std::size_t home = homeOf(host);
    REQUIRE(home < 2);
    const std::size_t other = 1 - home;
    auto states = [&](std::int64_t now) {
      std::vector<StripeInfo> source(2, StripeInfo{0, 0, 3, 0, 0});
      std::vector<StripeInfo> server(2), waiting(2);
      server[home] = r.homeServed ? StripeInfo{1, 10, 1, 3, 0} : StripeInfo{2, 20, 0, 0, 0};
      server[other] = r.otherServed ? StripeInfo{1, 10, 1, 3, 0} : StripeInfo{2, 20, 0, 0, 0};
      waiting[home] = r.waitingHome ? StripeInfo{kNo, 0, 0, 0, 0} : StripeInfo{2, 20, 0, 0, 0};
      waiting[other] = {kNo, 0, 0, 0, 0};
      sch->onMessage(host, kSource, stateOf(source), now);
      if (!r.serverSilent || now == 10'000) sch->onMessage(host, kServer, stateOf(server), now);
      sch->onMessage(host, kWaiting, stateOf(waiting), now);
    };
    std::int64_t now = 10'000;
    states(now);
    // A parent in our home (the source: we serve more than its leaves),
    // then a child there if the row has one.
    for (; now < 500'000 && host.to(kSource, MsgType::kSubscribe).empty(); now += 10'000) sch->onTick(host, now);
    Message admit = simple(MsgType::kAdmit, home);
    sch->onMessage(host, kSource, admit, now);
    if (r.withChild) {
      sch->onMessage(host, kChild, subscribe(home, 0, 1000), now);
      REQUIRE(host.to(kChild, MsgType::kAdmit).size() == 1);
    }
    host.sent.clear();
    for (const std::int64_t until = now + 2'500'000; now < until; now += 10'000) {
      if (now % 400'000 == 0) states(now);
      sch->onTick(host, now);
    }
    CHECK(sch->stats().homeMoves == (r.moves ? 1 : 0));
    CHECK(homeOf(host) == (r.moves ? other : home));
    if (r.moves) {
      // It asks the source again, now serving the stripe (it may take a leaf's place).
      bool asked = false;
      for (const Message& m : host.to(kSource, MsgType::kSubscribe)) asked = asked || (m.seqs[0] == other && m.slots > 0);
      CHECK(asked);
    }
    const auto dropped = host.to(kChild, MsgType::kUnsubscribe);
    if (r.withChild && r.moves) {
      REQUIRE(dropped.size() == 1);
      REQUIRE(dropped[0].peers.size() == 1);
      CHECK(dropped[0].peers[0].id == kServer);
    } else {
      CHECK(dropped.empty());
    }
  }
}

TEST_CASE("a small overlay hears at once of the room the stream's rate leaves where the guess before it was full") {
  // Before the stream, a peer guesses one slot per stripe; the streamers
  // it turned away waited for its next state (half a second) to hear of
  // the room the measured rate left.
  for (const bool small : {true, false}) {
    CAPTURE(small);
    FakeHost host;
    host.small = small;
    host.upload = 3000;
    host.nbrs = {kA, kB};
    auto sch = makeScheduler("tree", TreeConfig{.stripes = 1, .statePeriodUs = 5'000'000});
    sch->onMessage(host, kA, state(1, 1, 10, 0, 3, 2000), 0);
    sch->onTick(host, 10'000);
    sch->onMessage(host, kA, simple(MsgType::kAdmit, 0), 20'000);
    sch->onMessage(host, kB, subscribe(0, 0, 1000), 20'000);
    REQUIRE(host.to(kB, MsgType::kAdmit).size() == 1);
    host.sent.clear();
    std::int64_t now = 30'000;
    for (std::uint64_t seq = 0; seq < 12; ++seq, now += 33'000) {  // 4000-byte chunks, 30 a second: ~1 Mbit/s
      chunk(*sch, host, seq, kA, now, now - 10'000, 2);
      sch->onTick(host, now);
    }
    // (A state goes out when the first chunk gives us a path, slots still full.)
    std::uint32_t room = 0;
    for (const Message& m : host.to(kA, MsgType::kTreeState)) room = std::max(room, m.stripes[0].freeSlots);
    CHECK(room == (small ? 1 : 0));  // 3000 kbit/s at 0.8 carries two copies: one free
  }
}
