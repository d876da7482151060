// partyhub-sim's engine: reproducible by seed, and the overlay delivers.
#include <doctest/doctest.h>

#include <algorithm>

#include <random>

#include "sim/event_queue.hpp"
#include "sim/simulator.hpp"

using namespace partyhub::streamer::sim;

namespace {
Scenario scenario(std::size_t peers, double seconds, std::uint64_t seed, const std::string& scheduler = Scenario{}.scheduler) {
  Scenario s;
  s.peers = peers;
  s.seconds = seconds;
  s.seed = seed;
  s.scheduler = scheduler;
  return s;
}
}  // namespace

TEST_CASE("the same scenario and seed give the same numbers: another seed does not") {
  Scenario s = scenario(40, 8, 5);
  const Result a = run(s), b = run(s);
  CHECK(a.events == b.events);
  CHECK(a.delay.count() == b.delay.count());
  CHECK(a.delay.percentileMs(0.99) == b.delay.percentileMs(0.99));
  CHECK(a.minDeliveryRatio1s == b.minDeliveryRatio1s);
  s.seed = 6;
  const Result c = run(s);
  CHECK(c.events != a.events);
}

TEST_CASE("a small overlay with loss delivers nearly everything within a second, every scheduler") {
  for (const std::string scheduler : {"push", "offer-accept", "tree"}) {
    CAPTURE(scheduler);
    Scenario s = scenario(30, 10, 3, scheduler);
    const Result r = run(s);
    CHECK(r.survivors == 30);
    CHECK(r.meanDeliveryRatio1s >= 0.98);
    CHECK(r.minDeliveryRatio1s >= 0.95);
    CHECK(r.delay.percentileMs(0.5) > r.lowerBoundMs * 0.3);  // physics: no faster than the links allow
    CHECK(r.signallingOverhead < 0.2);
    // Each measured peer's own figures, worst first: the worst is the minimum.
    REQUIRE(r.perPeer.size() == r.survivors);
    CHECK(r.perPeer.front().deliveryRatio1s == r.minDeliveryRatio1s);
    CHECK(std::is_sorted(r.perPeer.begin(), r.perPeer.end(),
                         [](const PeerResult& a, const PeerResult& b) { return a.deliveryRatio1s < b.deliveryRatio1s; }));
    for (const PeerResult& p : r.perPeer) {
      CHECK(p.uploadKbps > 0);
      CHECK(p.latencyToSourceMs >= s.latencyMinMs);
      CHECK(p.latencyToSourceMs <= s.latencyMaxMs);
    }
  }
}

TEST_CASE("receptions by delay: all of them from 0 ms, fewer the later, the hops and pulls adding up") {
  const Result r = run(scenario(40, 8, 5, "tree"));
  const DelayBin all = r.tail.from(0);
  REQUIRE(all.count == r.delay.count());
  CHECK(all.meanHops() == doctest::Approx(r.meanHops));
  CHECK(all.pulledShare() == doctest::Approx(r.pulledShare));
  std::uint64_t before = all.count;
  for (double ms = 10; ms <= 2500; ms += 10) {
    const DelayBin later = r.tail.from(ms);
    CHECK(later.count <= before);
    CHECK(later.pulled <= later.count);
    before = later.count;
  }
  // From the p50 on: about half (the bin that holds the p50 counts whole).
  const double fromMedian = static_cast<double>(r.tail.from(r.delay.percentileMs(0.5)).count);
  CHECK(fromMedian >= 0.45 * static_cast<double>(all.count));
  CHECK(fromMedian <= 0.75 * static_cast<double>(all.count));
}

TEST_CASE("the settled delay: the window's receptions of chunks injected from settledS on") {
  Scenario s = scenario(40, 12, 5, "tree");
  s.settledS = s.warmupS;  // from the window's start: the same receptions
  const Result whole = run(s);
  CHECK(whole.settledDelay.count() == whole.delay.count());
  CHECK(whole.settledDelay.percentileMs(0.99) == whole.delay.percentileMs(0.99));
  s.settledS = 7;  // the same run (same seed), a later start: a part of them
  const Result later = run(s);
  CHECK(later.delay.count() == whole.delay.count());
  CHECK(later.settledDelay.count() > 0);
  // Chunks injected in 7..11 s of the window's 3..11 s: about half of it.
  CHECK(later.settledDelay.count() < 0.6 * static_cast<double>(whole.delay.count()));
  CHECK(later.settledDelay.count() > 0.4 * static_cast<double>(whole.delay.count()));
  s.settledS = 20;  // past the run's end: none
  CHECK(run(s).settledDelay.count() == 0);
}

TEST_CASE("the lower bound follows the formula") {
  // N = 1000 -> ceil(log2) = 10: 11 chunk uploads + 10 minimum latencies.
  CHECK(lowerBoundMs(1000, 16.0, 10.0) == doctest::Approx(11 * 16.0 + 10 * 10.0));
  CHECK(lowerBoundMs(2, 16.0, 10.0) == doctest::Approx(2 * 16.0 + 10.0));
  // Cut-through: 11 first-datagram uploads and 10 latencies, then the last
  // copy's other datagrams (16 - 4 ms).
  CHECK(lowerBoundCutThroughMs(1000, 16.0, 4.0, 10.0) == doctest::Approx(11 * 4.0 + 10 * 10.0 + 12.0));
  // A chunk of one datagram: the bound above.
  CHECK(lowerBoundCutThroughMs(1000, 16.0, 16.0, 10.0) == doctest::Approx(lowerBoundMs(1000, 16.0, 10.0)));
  CHECK(lowerBoundCutThroughMs(1000, 16.0, 30.0, 10.0) == doctest::Approx(lowerBoundMs(1000, 16.0, 10.0)));
}

TEST_CASE("the calendar queue pops events in the order one heap would, near, far and simultaneous ones alike") {
  std::mt19937_64 rng(9);
  EventQueue calendar;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> heap;
  std::uint64_t order = 0;
  std::int64_t now = 0;
  auto add = [&](std::int64_t at) {
    const Event e{(static_cast<std::uint64_t>(at) << 32) | order++, static_cast<std::uint32_t>(order), 0, 0, 0};
    calendar.push(e);
    heap.push(e);
  };
  for (int i = 0; i < 50; ++i) add(static_cast<std::int64_t>(rng() % 60'000'000));  // up to a minute ahead
  for (int step = 0; step < 200'000; ++step) {
    // Mostly near events, some at this very time, a few beyond the horizon.
    const auto r = rng() % 100;
    const std::int64_t ahead = r < 10 ? 0 : r < 97 ? static_cast<std::int64_t>(rng() % 100'000)
                                                   : static_cast<std::int64_t>(rng() % 20'000'000);
    add(now + ahead);
    if (rng() % 2 == 0) {
      REQUIRE(calendar.top().key == heap.top().key);
      now = calendar.top().at();
      calendar.pop();
      heap.pop();
    }
  }
  while (!heap.empty()) {
    REQUIRE_FALSE(calendar.empty());
    REQUIRE(calendar.top().key == heap.top().key);
    calendar.pop();
    heap.pop();
  }
  CHECK(calendar.empty());
}

TEST_CASE("lost fragments are asked for again, as the streamer does: the overlay has fewer pushes to repair") {
  Scenario s = scenario(40, 8, 4);
  s.loss = 0.05;  // a 4-fragment chunk: one in five loses a fragment
  s.cutThrough = false;  // stored and forwarded: a copy is acknowledged once whole
  const Result repaired = run(s);
  s.fragmentRepair = false;
  const Result plain = run(s);
  CHECK(plain.fragmentRepairs == 0);
  CHECK(repaired.fragmentRepairs > 0);
  CHECK(repaired.repushes * 3 < plain.repushes * 2);
  MESSAGE("repushes with fragment repair " << repaired.repushes << ", without " << plain.repushes);
  // Cut through, a copy is acknowledged at its first datagram: one that
  // never comes whole is pulled instead.
  s.cutThrough = true;
  const Result cutPlain = run(s);
  s.fragmentRepair = true;
  const Result cutRepaired = run(s);
  CHECK(cutRepaired.fragmentRepairs > 0);
  CHECK(cutRepaired.pulledShare * 4 < cutPlain.pulledShare * 3);
  MESSAGE("cut through: pulled with fragment repair " << cutRepaired.pulledShare << ", without " << cutPlain.pulledShare);
}

TEST_CASE("cut-through forwarding: relays pass datagrams on as they land, chunks come sooner than stored and forwarded") {
  for (const std::string scheduler : {"push", "tree"}) {
    CAPTURE(scheduler);
    Scenario s = scenario(60, 10, 2, scheduler);
    s.cutThrough = false;
    const Result stored = run(s);
    s.cutThrough = true;
    const Result cut = run(s);
    CHECK(cut.minDeliveryRatio1s >= 0.97);
    CHECK(cut.meanDeliveryRatio1s >= 0.99);
    // A hop costs the first datagram's transmission, not the whole chunk's
    // (~12 ms of the 16 a hop's copy takes at 2 Mbit/s).
    CHECK(cut.delay.percentileMs(0.5) < stored.delay.percentileMs(0.5) - 10);
    CHECK(cut.delay.percentileMs(0.5) > cut.lowerBoundMs * 0.3);  // still no faster than the links allow
    MESSAGE(scheduler << ": p50 " << stored.delay.percentileMs(0.5) << " -> " << cut.delay.percentileMs(0.5)
                      << " ms, p99 " << stored.delay.percentileMs(0.99) << " -> " << cut.delay.percentileMs(0.99));
  }
}

TEST_CASE("the tree scheduler: few duplicates, the uplinks half idle, every second of a steady overlay delivered") {
  Scenario s = scenario(150, 12, 2, "tree");
  const Result r = run(s);
  CHECK(r.minDeliveryRatio1s >= 0.97);
  CHECK(r.meanDeliveryRatio1s >= 0.995);
  // One path per chunk per peer: duplicates only from repair racing a push
  // (push: above 1), and the upload they would have taken stays free.
  CHECK(r.duplicateRatio < 0.3);
  CHECK(r.meanUploadUse < 0.7);
  // The timeline: every second once the trees stand (from the fourth).
  REQUIRE(r.timeline.size() == 10);  // 1 s to 11 s of injections, the last without its second to arrive
  for (std::size_t i = 3; i < r.timeline.size(); ++i) {
    CAPTURE(i);
    CHECK(r.timeline[i].deliveryRatio1s >= 0.995);
    CHECK(r.timeline[i].p99Ms < 1000);
    // The trees' activity is counted: nearly every peer has its parents
    // (4 stripes each; an orphan finds one within ticks), and they change
    // now and then, not all the time.
    CHECK(r.timeline[i].parentless <= 4 * s.peers / 25);
    CHECK(r.timeline[i].parentChanges < 4 * s.peers);
  }
  CHECK(r.timeline.back().parentless < r.timeline[0].parentless);
  // By the end hardly any: homes drawn at random leave a stripe short of
  // slots (here 124 for 150 peers, 26 of them without a parent for good),
  // and peers that find no room there make it their home.
  CHECK(r.timeline.back().parentless <= 4 * s.peers / 100);
  std::uint64_t changes = 0;
  for (const Second& t : r.timeline) changes += t.parentChanges;
  CHECK(changes >= 4 * s.peers);  // each peer found a parent in each stripe at least once
  CHECK(r.timeline[0].parentless < 4 * s.peers);
}

TEST_CASE("the timeline's tree counts under churn: the leavers' counts are kept, no second goes negative") {
  Scenario s = scenario(100, 8, 4, "tree");
  s.churnPerMin = 30;  // half the peers a second leave, and as many join
  const Result r = run(s);
  REQUIRE(r.timeline.size() == 6);
  for (const Second& t : r.timeline) {
    CHECK(t.parentChanges < 4 * 200);  // at most a few per peer and stripe: an unsigned wrap would be ~1e19
    CHECK(t.orphaned < 4 * 200);
    CHECK(t.displaced < 4 * 200);
  }
}
