// The "tree" scheduler alone, through a fake host with a manual clock: who
// it admits, displaces and sends elsewhere, which parent it picks and when
// it gives one up, what it pushes first, when it asks for a missed chunk.
// (Home stripes in small overlays: tree_homes_test.cpp.)
#include <doctest/doctest.h>

#include "tree_fake_host.hpp"

using namespace tree_test;

TEST_CASE("the source takes k subscribers per stripe, and one that serves more displaces the least-serving, sent under it") {
  FakeHost host;
  host.source = true;
  host.copies = 2;
  auto sch = makeScheduler("tree", TreeConfig{.stripes = 2});
  sch->onMessage(host, kA, subscribe(0, 0, 1000), 0);
  sch->onMessage(host, kB, subscribe(0, 0, 2000), 0);
  CHECK(host.to(kA, MsgType::kAdmit).size() == 1);
  CHECK(host.to(kB, MsgType::kAdmit).size() == 1);

  // C serves 5 in stripe 0: it takes the place of A (a leaf, and the poorer
  // of the two), and A is told to go under C.
  sch->onMessage(host, kC, subscribe(0, 5, 2000), 0);
  CHECK(host.to(kC, MsgType::kAdmit).size() == 1);
  const auto dropped = host.to(kA, MsgType::kUnsubscribe);
  REQUIRE(dropped.size() == 1);
  CHECK(dropped[0].seqs == std::vector<std::uint64_t>{0});
  REQUIRE(dropped[0].peers.size() == 1);
  CHECK(dropped[0].peers[0].id == kC);

  // Full: a leaf is refused, and pointed at C, whose state says it has room.
  sch->onMessage(host, kC, state(2, 1, 30, 0, 3, 2000), 0);
  sch->onMessage(host, kD, subscribe(0, 0, 2000), 0);  // no richer than B by enough to displace it
  const auto refused = host.to(kD, MsgType::kUnsubscribe);
  REQUIRE(refused.size() == 1);
  REQUIRE(refused[0].peers.size() == 1);
  CHECK(refused[0].peers[0].id == kC);

  // Stripe 1 is another tree: room there. A chunk of stripe 0 goes to its
  // children, the one that passes it on first.
  sch->onMessage(host, kD, subscribe(1, 0, 5000), 0);
  CHECK(host.to(kD, MsgType::kAdmit).size() == 1);
  CHECK(sch->stats().displaced == 1);
  CHECK(sch->stats().refused == 1);
  chunk(*sch, host, 4, 0, 1000, 1000, 0);
  REQUIRE(host.queued.size() == 2);
  CHECK(host.queued[0] == std::make_tuple(kC, std::uint64_t{4}, SendClass::kSubscribed));
  CHECK(host.queued[1] == std::make_tuple(kB, std::uint64_t{4}, SendClass::kSubscribed));
  host.queued.clear();
  chunk(*sch, host, 5, 0, 1000, 1000, 0);
  REQUIRE(host.queued.size() == 1);
  CHECK(std::get<0>(host.queued[0]) == kD);
}

TEST_CASE("a peer subscribes where the stripe would come soonest, and keeps its parent until a better one admits it") {
  FakeHost host;
  host.nbrs = {kA, kB, kC};
  host.rtts = {{kA, 20'000}, {kB, 200'000}};
  auto sch = makeScheduler("tree", TreeConfig{.stripes = 1});
  // A: 100 ms late, no children, 20 ms away. B: 50 ms late, but 5 children
  // to serve before us and 200 ms away. C: no path.
  sch->onMessage(host, kA, state(1, 2, 100, 0, 3, 2000), 0);
  sch->onMessage(host, kB, state(1, 1, 50, 5, 1, 2000, 5), 0);
  sch->onMessage(host, kC, state(1, StripeInfo::kNoPath, 0, 0, 4, 2000), 0);
  sch->onTick(host, 10'000);
  CHECK(host.to(kA, MsgType::kSubscribe).size() == 1);
  CHECK(host.to(kB, MsgType::kSubscribe).empty());
  CHECK(host.to(kC, MsgType::kSubscribe).empty());
  sch->onMessage(host, kA, simple(MsgType::kAdmit, 0), 20'000);
  std::int64_t now = 20'000;
  for (std::uint64_t seq = 0; seq < 30; ++seq, now += 33'000) {  // 100 ms after injection, 3 hops
    chunk(*sch, host, seq, kA, now, now - 100'000, 3);
    sch->onTick(host, now);
  }
  // D: one hop from the source, 10 ms late, close: worth a switch. Until it
  // admits us, A stays our parent (no unsubscribe).
  host.sent.clear();
  host.rtts[kD] = 10'000;
  sch->onMessage(host, kD, state(1, 1, 10, 0, 4, 3000), now);
  for (int i = 0; i < 300 && host.to(kD, MsgType::kSubscribe).empty(); ++i) sch->onTick(host, now += 10'000);
  CHECK(host.to(kD, MsgType::kSubscribe).size() == 1);
  CHECK(host.to(kA, MsgType::kUnsubscribe).empty());
  sch->onMessage(host, kD, simple(MsgType::kAdmit, 0), now);
  CHECK(host.to(kA, MsgType::kUnsubscribe).size() == 1);
  CHECK(sch->stats().parentChanges == 2);  // A, then D
  CHECK(sch->stats().orphaned == 0);       // a switch loses no parent

  // A peer deeper than us is never taken for a better parent (it may be
  // below us), however good it says it is.
  host.sent.clear();
  for (std::uint64_t seq = 30; seq < 120; ++seq) {
    now += 33'000;
    sch->onMessage(host, kB, state(1, 9, 1, 0, 4, 9000), now);
    chunk(*sch, host, seq, kD, now, now - 30'000, 2);
    sch->onTick(host, now);
  }
  CHECK(host.to(kB, MsgType::kSubscribe).empty());
  CHECK(host.to(kD, MsgType::kUnsubscribe).empty());
}

TEST_CASE("a silent parent is given up, and the orphan takes no parent deeper than it was at first, unless it has no children") {
  constexpr PeerId kE = 15;
  FakeHost host;
  host.nbrs = {kA, kB, kC};
  auto sch = makeScheduler("tree", TreeConfig{.stripes = 1});
  sch->onMessage(host, kA, state(1, 2, 60, 0, 3, 2000), 0);
  sch->onTick(host, 10'000);
  sch->onMessage(host, kA, simple(MsgType::kAdmit, 0), 20'000);
  chunk(*sch, host, 0, kA, 30'000, 0, 3);  // we are 3 deep
  sch->onMessage(host, kE, subscribe(0, 2, 2000), 30'000);  // and E's parent
  REQUIRE(host.to(kE, MsgType::kAdmit).size() == 1);
  host.sent.clear();
  // B is deeper than we were (it may be below us, E's child, its state stale); C not.
  std::int64_t now = 30'000;
  for (; now < 5'000'000 && host.to(kA, MsgType::kUnsubscribe).empty(); now += 10'000) {
    sch->onMessage(host, kB, state(1, 5, 10, 0, 3, 9000), now);
    sch->onTick(host, now);
  }
  CHECK(host.to(kA, MsgType::kUnsubscribe).size() == 1);  // given up
  CHECK(sch->stats().orphaned == 1);
  CHECK(now - 30'000 >= 1'000'000);                       // not before a second of silence
  CHECK(now - 30'000 <= 1'200'000);
  for (int i = 0; i < 20; ++i) sch->onTick(host, now += 10'000);
  CHECK(host.to(kB, MsgType::kSubscribe).empty());
  sch->onMessage(host, kC, state(1, 3, 200, 0, 3, 1000), now);
  sch->onTick(host, now += 60'000);
  CHECK(host.to(kC, MsgType::kSubscribe).size() == 1);
  // Refused, C points us at D, which we ask at once.
  sch->onMessage(host, kC, [] {
    Message m = simple(MsgType::kUnsubscribe, 0);
    m.peers.push_back(Descriptor{kD, 0, 0});
    return m;
  }(), now);
  CHECK(host.to(kD, MsgType::kSubscribe).size() == 1);

  // A leaf has no one below it: B will do at once.
  FakeHost leafHost;
  leafHost.nbrs = {kA, kB};
  auto leaf = admittedByA(leafHost, state(1, 2, 60, 0, 3, 2000), 1);
  chunk(*leaf, leafHost, 0, kA, 30'000, 0, 3);
  leaf->onMessage(leafHost, kA, simple(MsgType::kUnsubscribe, 0), 40'000);  // dropped
  REQUIRE(leaf->stats().orphaned == 1);
  leaf->onMessage(leafHost, kB, state(1, 5, 10, 0, 3, 9000), 40'000);
  leaf->onTick(leafHost, 50'000);
  CHECK(leafHost.to(kB, MsgType::kSubscribe).size() == 1);
}

TEST_CASE("a hole in the stripe is asked of the parent at once, and a late chunk is pulled only after our usual delay") {
  FakeHost host;
  auto sch = admittedByA(host, state(2, 1, 20, 0, 3, 2000));
  sch->onMessage(host, kA, simple(MsgType::kAdmit, 1), 20'000);
  // Stripe 0 is the even seqs; a chunk every 33 ms, each here 80 ms after
  // its injection.
  const auto at = [](std::uint64_t seq) { return 100'000 + static_cast<std::int64_t>(seq) * 33'000; };
  for (std::uint64_t seq = 0; seq <= 20; seq += 2) chunk(*sch, host, seq, kA, at(seq), at(seq) - 80'000, 2);
  CHECK(host.requests.empty());
  chunk(*sch, host, 26, kA, at(26), at(26) - 80'000, 2);  // 22 and 24 missing
  REQUIRE(host.requests.size() == 1);
  CHECK(host.requests[0].first == kA);
  CHECK(host.requests[0].second == std::vector<std::uint64_t>{22, 24});
  // Seq 28 is due 80 ms after its injection, and pulled only 150 ms later
  // still (a neighbour had it 50 ms after its injection); but never later
  // than without a parent: 300 ms after a neighbour had it. In a stripe
  // without a parent, at that default.
  CHECK(sch->pullAtUs(28, at(28) + 50'000, 300'000) == doctest::Approx(at(28) + 150'000).epsilon(0.001));
  // Behind a slow parent (its chunks 900 ms late), a neighbour had it
  // 300 ms after its injection: pulled 300 ms later, not at 1050 ms.
  FakeHost slowHost;
  auto slow = admittedByA(slowHost, state(2, 9, 900, 0, 3, 2000));
  for (std::uint64_t seq = 0; seq <= 20; seq += 2) chunk(*slow, slowHost, seq, kA, at(seq) + 900'000, at(seq), 9);
  CHECK(slow->pullAtUs(28, at(28) + 300'000, 300'000) == doctest::Approx(at(28) + 600'000).epsilon(0.001));
  auto orphan = makeScheduler("tree", TreeConfig{.stripes = 2});
  CHECK(orphan->pullAtUs(28, 5'000, 300'000) == 305'000);
}

TEST_CASE("tree messages that do not fit are ignored") {
  FakeHost host;
  host.nbrs = {kA};
  auto sch = makeScheduler("tree", TreeConfig{.stripes = 2});
  sch->onMessage(host, kA, state(3, 1, 20, 0, 3, 2000), 0);  // three stripes: another tree
  sch->onMessage(host, kA, subscribe(7, 0, 2000), 0);        // no stripe 7
  sch->onMessage(host, kB, simple(MsgType::kUnsubscribe, 1), 0);  // from a stranger
  sch->onMessage(host, kB, simple(MsgType::kAdmit, 5), 0);
  sch->onTick(host, 10'000);
  CHECK(host.to(kA, MsgType::kSubscribe).empty());  // no state taken: no candidate
  CHECK(host.to(kA, MsgType::kAdmit).empty());
  // Without a path ourselves, we take no child.
  sch->onMessage(host, kB, subscribe(0, 0, 2000), 20'000);
  CHECK(host.to(kB, MsgType::kUnsubscribe).size() == 1);
  CHECK_THROWS_AS(makeScheduler("trees"), std::invalid_argument);
}

TEST_CASE("a new child gets what followed the seq it says it has, after the fresh pushes, a few stripe periods back at most") {
  FakeHost host;
  host.source = true;
  auto sch = makeScheduler("tree", TreeConfig{.stripes = 2});
  for (std::uint64_t seq = 0; seq <= 40; ++seq) chunk(*sch, host, seq, 0, 1000 + static_cast<std::int64_t>(seq) * 33'000, 1000, 0);
  // It had stripe 0 up to 33 (its old parent stops now): 34 .. 40 of stripe 0.
  Message m = subscribe(0, 0, 2000);
  m.fromSeq = 34;
  sch->onMessage(host, kA, m, 2'000'000);
  CHECK(host.to(kA, MsgType::kAdmit).size() == 1);
  std::vector<std::uint64_t> sent;
  for (const auto& [peer, seq, cls] : host.queued) {
    CHECK(peer == kA);
    CHECK((cls == SendClass::kRequested));  // repair: fresh pushes go first
    sent.push_back(seq);
  }
  CHECK(sent == std::vector<std::uint64_t>{34, 36, 38, 40});
  CHECK(sch->stats().backfilled == 4);
  // Far behind: the newest and the 6 stripe periods before it; nothing asked for: nothing.
  host.queued.clear();
  m.fromSeq = 2;
  sch->onMessage(host, kB, m, 2'000'000);
  CHECK(host.queued.size() == 7);
  host.queued.clear();
  m.fromSeq = 0;
  sch->onMessage(host, kC, m, 2'000'000);
  CHECK(host.queued.empty());
}

TEST_CASE("an admitted peer offers a path before its first chunk: one level below its parent, at the delay it expected") {
  FakeHost host;
  host.nbrs = {kA, kB};
  host.rtts = {{kA, 20'000}};
  auto sch = makeScheduler("tree", TreeConfig{.stripes = 1});
  sch->onMessage(host, kA, state(1, 2, 100, 0, 3, 2000), 0);
  sch->onTick(host, 10'000);
  REQUIRE(host.to(kA, MsgType::kSubscribe).size() == 1);
  // Before the admission: no path, so a subscriber is refused.
  sch->onMessage(host, kB, subscribe(0, 0, 2000), 15'000);
  CHECK(host.to(kB, MsgType::kUnsubscribe).size() == 1);
  host.sent.clear();
  sch->onMessage(host, kA, simple(MsgType::kAdmit, 0), 30'000);
  sch->onTick(host, 120'000);  // the changed state goes out soon (100 ms after the last)
  const auto told = host.to(kB, MsgType::kTreeState);
  REQUIRE(told.size() == 1);
  REQUIRE(told[0].stripes.size() == 1);
  CHECK(told[0].stripes[0].depth == 3);
  // A's 100 ms, one chunk's upload at 2 Mbit/s (16 ms), half the 20 ms round trip.
  CHECK(told[0].stripes[0].delayMs == 126);
  // And a subscriber is taken now, before any chunk came.
  sch->onMessage(host, kB, subscribe(0, 0, 2000), 130'000);
  CHECK(host.to(kB, MsgType::kAdmit).size() == 1);
  // The first chunk says how deep we really are.
  chunk(*sch, host, 0, kA, 160'000, 0, 5);
  sch->onTick(host, 700'000);
  const auto later = host.to(kB, MsgType::kTreeState);
  REQUIRE(later.size() >= 2);
  CHECK(later.back().stripes[0].depth == 5);
}

TEST_CASE("a quiet parent is asked again: it confirms and backfills, or says we are no longer its child") {
  FakeHost host;
  host.nbrs = {kA, kB};
  auto sch = makeScheduler("tree", TreeConfig{.stripes = 1});
  sch->onMessage(host, kA, state(1, 1, 50, 0, 3, 2000), 0);
  sch->onMessage(host, kB, state(1, 2, 90, 0, 3, 2000), 0);
  sch->onTick(host, 10'000);
  sch->onMessage(host, kA, simple(MsgType::kAdmit, 0), 20'000);
  std::int64_t now = 20'000;
  std::uint64_t seq = 0;
  for (; seq < 10; ++seq, now += 33'000) chunk(*sch, host, seq, kA, now, now - 50'000, 2);
  // A goes quiet (its UNSUBSCRIBE lost, say): asked again after 3 stripe
  // periods (100 ms here), once.
  host.sent.clear();
  const std::int64_t lastChunk = now - 33'000;
  for (; now < lastChunk + 300'000; now += 10'000) sch->onTick(host, now);
  auto again = host.to(kA, MsgType::kSubscribe);
  REQUIRE(again.size() == 1);
  CHECK(again[0].fromSeq == 10);  // what it should send from
  CHECK(sch->stats().reasked == 1);
  // It confirms: still our parent, nothing unsubscribed, no parent change.
  Message confirm = simple(MsgType::kAdmit, 0);
  confirm.fromSeq = 10;  // it holds the stripe up to 9: its silence is real
  sch->onMessage(host, kA, confirm, now);
  CHECK(host.to(kA, MsgType::kUnsubscribe).empty());
  CHECK(sch->stats().parentChanges == 1);
  CHECK(sch->stats().orphaned == 0);
  // Once per silence: not again until a chunk came.
  for (const std::int64_t until = now + 200'000; now < until; now += 10'000) sch->onTick(host, now);
  CHECK(host.to(kA, MsgType::kSubscribe).size() == 1);
  // A chunk, then quiet again: asked again; this time it says we are not
  // its child. We are orphaned at once (not after a second) and ask B, the
  // one it names.
  // (It comes late: the rate measured falls, and with it what counts as quiet.)
  chunk(*sch, host, seq, kA, now, now - 50'000, 2);
  for (const std::int64_t until = now + 400'000; now < until; now += 10'000) sch->onTick(host, now);
  REQUIRE(host.to(kA, MsgType::kSubscribe).size() == 2);
  sch->onMessage(host, kA, [] {
    Message m = simple(MsgType::kUnsubscribe, 0);
    m.peers.push_back(Descriptor{kB, 0, 0});
    return m;
  }(), now);
  CHECK(sch->stats().orphaned == 1);
  CHECK(host.to(kB, MsgType::kSubscribe).size() == 1);
}

TEST_CASE("a child that asks again is admitted again and sent what it missed") {
  FakeHost host;
  host.source = true;
  auto sch = makeScheduler("tree", TreeConfig{.stripes = 1});
  sch->onMessage(host, kA, subscribe(0, 0, 2000), 0);
  for (std::uint64_t seq = 0; seq <= 8; ++seq) chunk(*sch, host, seq, 0, 1000 + static_cast<std::int64_t>(seq) * 33'000, 1000, 0);
  host.queued.clear();
  host.sent.clear();
  Message m = subscribe(0, 0, 2000);
  m.fromSeq = 6;  // 6 .. 8 lost on the way
  sch->onMessage(host, kA, m, 400'000);
  CHECK(host.to(kA, MsgType::kAdmit).size() == 1);
  std::vector<std::uint64_t> sent;
  for (const auto& [peer, seq, cls] : host.queued) sent.push_back(seq);
  CHECK(sent == std::vector<std::uint64_t>{6, 7, 8});
  CHECK(sch->stats().displaced == 0);
}

TEST_CASE("a peer still pushing a stripe it is not our parent in is told to stop: not a parent just left, one asked, or an answer") {
  FakeHost host;
  host.nbrs = {kA, kB, kC, kD};
  host.rtts = {{kA, 20'000}, {kD, 10'000}};
  auto sch = admittedByA(host, state(1, 2, 100, 0, 3, 2000), 1);
  std::int64_t now = 20'000;
  std::uint64_t seq = 0;
  for (; seq < 30; ++seq, now += 33'000) {
    chunk(*sch, host, seq, kA, now, now - 100'000, 3);
    sch->onTick(host, now);
  }
  // D is far better: asked; its backfill may come before its ADMIT (asked: no stale push).
  sch->onMessage(host, kD, state(1, 1, 10, 0, 4, 3000), now);
  for (int i = 0; i < 300 && host.to(kD, MsgType::kSubscribe).empty(); ++i) sch->onTick(host, now += 10'000);
  REQUIRE(host.to(kD, MsgType::kSubscribe).size() == 1);
  chunk(*sch, host, seq++, kD, now, now - 20'000, 2);
  CHECK(host.to(kD, MsgType::kUnsubscribe).empty());
  sch->onMessage(host, kD, simple(MsgType::kAdmit, 0), now);
  REQUIRE(host.to(kA, MsgType::kUnsubscribe).size() == 1);  // we leave A
  // A's copies in flight when it heard: no second word.
  now += 30'000;
  chunk(*sch, host, seq++, kA, now, now - 100'000, 3);
  CHECK(host.to(kA, MsgType::kUnsubscribe).size() == 1);
  // A pull's answer from B is no push.
  now += 30'000;
  chunk(*sch, host, seq++, kB, now, now - 200'000, 4, true);
  CHECK(host.to(kB, MsgType::kUnsubscribe).empty());
  CHECK(sch->stats().staleParents == 0);
  // Half a second on, A still pushes: our word was lost. Told again, once
  // per 200 ms at most.
  now += 500'000;
  chunk(*sch, host, seq++, kA, now, now - 100'000, 3);
  CHECK(host.to(kA, MsgType::kUnsubscribe).size() == 2);
  now += 33'000;
  chunk(*sch, host, seq++, kA, now, now - 100'000, 3);
  CHECK(host.to(kA, MsgType::kUnsubscribe).size() == 2);
  now += 200'000;
  chunk(*sch, host, seq++, kA, now, now - 100'000, 3);
  CHECK(host.to(kA, MsgType::kUnsubscribe).size() == 3);
  // C, never our parent (its ADMIT came after we gave up on it), pushes: told too.
  now += 10'000;
  chunk(*sch, host, seq++, kC, now, now - 100'000, 3);
  CHECK(host.to(kC, MsgType::kUnsubscribe).size() == 1);
  CHECK(sch->stats().staleParents == 3);
  // D, our parent, is never told.
  now += 10'000;
  chunk(*sch, host, seq++, kD, now, now - 20'000, 2);
  CHECK(host.to(kD, MsgType::kUnsubscribe).empty());
  CHECK(sch->stats().parentChanges == 2);
}

TEST_CASE("the delay a peer tells is its path's, the least of the last few: one chunk held up by a repair does not raise it") {
  FakeHost host;
  host.nbrs = {kA, kB};
  auto sch = admittedByA(host, state(1, 1, 50, 0, 3, 2000), 1);
  std::int64_t now = 20'000;
  std::uint64_t seq = 0;
  for (; seq < 10; ++seq, now += 33'000) chunk(*sch, host, seq, kA, now, now - 100'000, 2);
  chunk(*sch, host, seq++, kA, now, now - 300'000, 2);  // a fragment lost, asked again
  const auto told = [&] {
    host.sent.clear();
    for (const std::int64_t until = now + 1'100'000; now < until && host.to(kB, MsgType::kTreeState).empty(); now += 10'000) {
      sch->onTick(host, now);
    }
    const auto states = host.to(kB, MsgType::kTreeState);
    REQUIRE(!states.empty());
    return states.back().stripes.at(0).delayMs;
  };
  CHECK(told() == 100);
  // The path itself slows (our parent moved deeper): told within a few chunks.
  for (int i = 0; i < 8; ++i, now += 33'000) chunk(*sch, host, seq++, kA, now, now - 180'000, 3);
  CHECK(told() == 180);
}

TEST_CASE("before the stream reaches its parent a child keeps it: a parent holding nothing says so, and its silence does not count") {
  FakeHost host;
  host.nbrs = {kA, kB};
  auto sch = admittedByA(host, state(1, 1, 50, 0, 3, 2000), 1);
  sch->onMessage(host, kB, state(1, 1, 40, 0, 3, 2000), 20'000);
  // No chunk anywhere for 3 s (the source has not started): A is asked
  // again when quiet, says it holds nothing (from_seq 0), and stays.
  std::int64_t now = 20'000;
  for (; now < 3'000'000; now += 10'000) {
    sch->onTick(host, now);
    const auto asks = host.to(kA, MsgType::kSubscribe);
    if (!asks.empty()) {
      host.sent.clear();
      sch->onMessage(host, kA, simple(MsgType::kAdmit, 0), now);
    }
  }
  CHECK(sch->stats().reasked >= 2);
  CHECK(sch->stats().orphaned == 0);
  CHECK(host.to(kA, MsgType::kUnsubscribe).empty());
  // A parent holding chunks that stays silent is given up after a second,
  // confirmations or not.
  Message holds = simple(MsgType::kAdmit, 0);
  holds.fromSeq = 40;
  for (const std::int64_t until = now + 1'500'000; now < until && sch->stats().orphaned == 0; now += 10'000) {
    sch->onTick(host, now);
    if (!host.to(kA, MsgType::kSubscribe).empty()) {
      host.sent.clear();
      sch->onMessage(host, kA, holds, now);
    }
  }
  CHECK(sch->stats().orphaned == 1);

  // What a parent says in its ADMIT: from which seq it holds the stripe.
  FakeHost parentHost;
  parentHost.source = true;
  auto parent = makeScheduler("tree", TreeConfig{.stripes = 1});
  parent->onMessage(parentHost, kA, subscribe(0, 0, 2000), 0);
  REQUIRE(parentHost.to(kA, MsgType::kAdmit).size() == 1);
  CHECK(parentHost.to(kA, MsgType::kAdmit)[0].fromSeq == 0);
  for (std::uint64_t seq = 0; seq <= 4; ++seq) chunk(*parent, parentHost, seq, 0, 1000 + static_cast<std::int64_t>(seq) * 33'000, 1000, 0);
  parent->onMessage(parentHost, kA, subscribe(0, 0, 2000), 200'000);
  REQUIRE(parentHost.to(kA, MsgType::kAdmit).size() == 2);
  CHECK(parentHost.to(kA, MsgType::kAdmit)[1].fromSeq == 5);
}

TEST_CASE("a parent a little closer is taken when it is better by more than the margin, not for less") {
  constexpr PeerId kE = 15;
  FakeHost host;
  host.nbrs = {kA, kD, kE};
  host.rtts = {{kA, 20'000}, {kD, 20'000}, {kE, 20'000}};
  auto sch = admittedByA(host, state(1, 2, 100, 0, 3, 2000), 1);
  std::int64_t now = 20'000;
  std::uint64_t seq = 0;
  const auto run = [&](std::int64_t forUs, PeerId other, std::uint32_t otherDelayMs) {
    for (const std::int64_t end = now + forUs; now < end; now += 33'000, ++seq) {
      sch->onMessage(host, kA, state(1, 2, 100, 0, 3, 2000), now);
      // So well provisioned that its uplink adds nothing: its cost is its delay and half the round trip.
      sch->onMessage(host, other, state(1, 2, otherDelayMs, 0, 4, 1'000'000), now);
      chunk(*sch, host, seq, kA, now, now - 100'000, 3);  // ours: 100 ms
      sch->onTick(host, now);
    }
  };
  // E would bring the stripe 3 ms sooner (87 + 10 against 100): within the
  // margin, not worth a switch, however long we look.
  run(3'000'000, kE, 87);
  CHECK(host.to(kE, MsgType::kSubscribe).empty());
  // D, 8 ms sooner: asked at its first state, not at our next periodic
  // look (up to a second later).
  run(100'000, kD, 82);
  CHECK(host.to(kD, MsgType::kSubscribe).size() == 1);
  CHECK(host.to(kA, MsgType::kUnsubscribe).empty());  // until D admits us
  // D admits us. Until its first chunk comes, the delay we tell is the one
  // we expected through it (82 + 10 ms), not none (a delay of 0 drew every
  // neighbour to us).
  sch->onMessage(host, kD, simple(MsgType::kAdmit, 0), now);
  CHECK(host.to(kA, MsgType::kUnsubscribe).size() == 1);
  host.sent.clear();
  for (const std::int64_t end = now + 600'000; now < end; now += 10'000) sch->onTick(host, now);
  const auto states = host.to(kE, MsgType::kTreeState);
  REQUIRE(!states.empty());
  CHECK(states.back().stripes.at(0).delayMs >= 90);
  CHECK(states.back().stripes.at(0).delayMs <= 94);
}
