// The "tree" scheduler's home stripes, through the fake host: in a small
// overlay a stripe no one serves becomes someone's home; in any, a stripe
// with no room for us becomes ours if we can spare our own; the room a
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

/// Our home (0 or 1): the first tick draws it, and our state tells it.
std::size_t drawHome(FakeHost& host, Scheduler& sch) {
  sch.onTick(host, 1000);
  const std::size_t home = homeOf(host);
  REQUIRE(home < 2);
  return home;
}

/// Ticks until we ask the source kA in our home, which admits us (we serve
/// more than its leaves); then kD becomes our child there if `withChild`.
/// What we sent so far is cleared.
void parentAtHome(FakeHost& host, Scheduler& sch, std::size_t home, bool withChild, std::int64_t& now) {
  for (; now < 500'000 && host.to(kA, MsgType::kSubscribe).empty(); now += 10'000) sch.onTick(host, now);
  sch.onMessage(host, kA, simple(MsgType::kAdmit, home), now);
  if (withChild) {
    sch.onMessage(host, kD, subscribe(home, 0, 1000), now);
    REQUIRE(host.to(kD, MsgType::kAdmit).size() == 1);
  }
  host.sent.clear();
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
      // (A peer in it without a path in our home: the stripe we lack is
      // not short of slots for us to take, which a large overlay does.)
      {"a large overlay: it stays", false, false, false, true, false, false, true},
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
    const std::size_t home = drawHome(host, *sch);
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
    parentAtHome(host, *sch, home, r.withChild, now);
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

TEST_CASE("a stripe with no room for us for a while becomes our home, if no one needs our slots in ours") {
  // Homes are drawn at random: at N = 150 one stripe drew 26 (its share
  // is 38), 124 slots for 150 peers, and 26 peers went without a parent
  // there for good, pulling each of its chunks late.
  constexpr PeerId kSource = kA, kServer = kB, kOther = kC;
  struct Row {
    const char* what;
    bool moves;
    bool withChild = false;    // we have a child in our home
    bool waitingHome = false;  // a neighbour has no path in our home
    bool roomThere = false;    // a neighbour has room in the stripe we lack (it never answers)
    std::uint32_t upload = 2400;
    bool small = false;
  };
  const Row rows[] = {
      {"no child at home, every neighbour with a path there: it moves", true},
      {"the same in a small overlay: it moves", true, false, false, false, 2400, true},
      {"a child at home: it stays", false, true},
      {"a neighbour without a path in our home: it stays", false, false, true},
      {"a neighbour tells of room in the stripe, now and then: it stays", false, false, false, true},
      {"too poor to serve two: it stays", false, false, false, false, 1000},
  };
  constexpr auto kNo = StripeInfo::kNoPath;
  for (const Row& r : rows) {
    const std::string what = r.what;
    CAPTURE(what);
    FakeHost host;
    host.small = r.small;
    host.upload = r.upload;
    host.nbrs = {kSource, kServer, kOther};
    auto sch = makeScheduler("tree", TreeConfig{.stripes = 2});
    const std::size_t home = drawHome(host, *sch);
    const std::size_t lacked = 1 - home;
    auto states = [&](std::int64_t now) {
      std::vector<StripeInfo> source(2, StripeInfo{0, 0, 3, 0, 0});  // full: its k copies
      std::vector<StripeInfo> server(2), other(2);
      server[home] = StripeInfo{1, 10, 1, 3, 1};
      server[lacked] = r.roomThere ? StripeInfo{1, 10, 5, 1, 5} : StripeInfo{1, 10, 6, 0, 6};
      other[home] = r.waitingHome ? StripeInfo{kNo, 0, 0, 0, 0} : StripeInfo{2, 20, 0, 0, 0};
      other[lacked] = StripeInfo{2, 20, 0, 0, 0};
      sch->onMessage(host, kSource, stateOf(source), now);
      sch->onMessage(host, kServer, stateOf(server), now);
      sch->onMessage(host, kOther, stateOf(other), now);
    };
    std::int64_t now = 10'000;
    states(now);
    parentAtHome(host, *sch, home, r.withChild, now);
    // The source's chunks of our home (~1 Mbit/s in all) tell us the stream's rate.
    std::uint64_t seq = home;
    for (const std::int64_t until = now + 4'000'000; now < until; now += 10'000) {
      if (now % 400'000 == 0) states(now);
      if (now % 70'000 == 0) {
        chunk(*sch, host, seq, kSource, now, now - 10'000, 1);
        seq += 2;
      }
      sch->onTick(host, now);
    }
    CHECK(sch->stats().homeMoves == (r.moves ? 1 : 0));
    CHECK(homeOf(host) == (r.moves ? lacked : home));
    // Serving the stripe, it asks a full parent there again (it may take a leaf's place).
    bool asked = false;
    for (const auto& [to, m] : host.sent) asked = asked || (m.type == MsgType::kSubscribe && m.seqs[0] == lacked && m.slots > 0);
    CHECK(asked == r.moves);
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
    CHECK(room == (small ? 1 : 0));  // 3000 kbit/s at 0.7 carries two copies: one free
  }
}
