// partyhub-sim's link model: uplink times, loss and fragment repair, and
// when a cut-through relay's copy leaves.
#include <doctest/doctest.h>

#include "core/fragmenter.hpp"
#include "sim/link_model.hpp"

using namespace partyhub::streamer;
using namespace partyhub::streamer::sim;

TEST_CASE("an uplink sends a message in its size over its rate") {
  CHECK(transmitUs(1000, 1250) == 10'000);  // 10 kbit at 1 Mbit/s
  CHECK(transmitUs(2000, 1250) == 5'000);
  CHECK(transmitUs(1000, 0) == 0);
}

TEST_CASE("a lossless link delivers whole, with no repair, and a link that loses everything delivers nothing") {
  std::mt19937_64 rng(1);
  struct Row {
    const char* what;
    double loss;
    std::size_t bytes;
    bool whole;
    std::size_t lostFirst;
  };
  constexpr std::size_t kThree = 3 * kMaxFragmentPayload;  // three datagrams
  const Row rows[] = {
      {"no loss, one datagram", 0.0, 500, true, 0},
      {"no loss, three datagrams", 0.0, kThree, true, 0},
      {"all lost, one datagram", 1.0, 500, false, 0},  // (one datagram: nothing counted, it is lost whole)
      {"all lost, three datagrams: nothing to ask about", 1.0, kThree, false, 3},
  };
  for (const Row& r : rows) {
    CAPTURE(std::string(r.what));
    LossyLinks links(r.loss, true, rng);
    Uplink up{1000, 50'000};
    std::int64_t arrives = 70'000;
    const Crossing c = links.cross(up, r.bytes, 10'000, arrives);
    CHECK(c.whole == r.whole);
    CHECK(c.lostFirst == r.lostFirst);
    CHECK(c.repairs == 0);
    CHECK(arrives == 70'000);   // not later than its last datagram
    CHECK(up.freeUs == 50'000);  // nothing resent
  }
}

TEST_CASE("lost fragments are asked for again: the resends take the sender's uplink and the message comes later") {
  std::mt19937_64 rng(7);
  LossyLinks links(0.3, true, rng);
  LossyLinks noRepair(0.3, false, rng);
  const std::size_t bytes = 5 * kMaxFragmentPayload;
  std::size_t repaired = 0, given = 0;
  for (int i = 0; i < 500; ++i) {
    Uplink up{1000, 100'000};
    std::int64_t arrives = 120'000;
    const Crossing c = links.cross(up, bytes, 20'000, arrives);
    if (c.lostFirst == 0) {
      CHECK(c.whole);
      CHECK(c.repairs == 0);
      continue;
    }
    std::int64_t busy = 0;
    for (std::uint32_t k = 0; k < c.repairs; ++k) {
      CHECK(c.resentBytes[k] % kMaxDatagram == 0);
      CHECK(c.resentBytes[k] <= c.lostFirst * kMaxDatagram);
      busy += transmitUs(up.kbps, c.resentBytes[k]);
    }
    CHECK(up.freeUs == 100'000 + busy);
    CHECK(c.repairs <= 3);  // ReassemblerConfig's maxNacks
    if (c.whole) {
      ++repaired;
      // Its first datagram landed at 120 ms less four of its five datagrams'
      // time; a request's way and a resend's come after that, at least.
      const std::int64_t firstArrives = 120'000 - transmitUs(1000, bytes) * 4 / 5;
      CHECK(arrives >= firstArrives + 2 * 20'000);
      CHECK(arrives > 120'000);
    } else {
      ++given;
    }
    // Without repair the same loss is the overlay's to mend.
    Uplink up2{1000, 100'000};
    std::int64_t arrives2 = 120'000;
    const Crossing n = noRepair.cross(up2, bytes, 20'000, arrives2);
    CHECK((n.lostFirst == 0) == n.whole);
    CHECK(n.repairs == 0);
  }
  CHECK(repaired > 100);  // most losses are repaired...
  CHECK(given > 0);       // ... and at 30 % loss some are not, in three tries
}

TEST_CASE("a relayed copy's datagrams leave no sooner than they came in to the relay") {
  // The copy's turn on the uplink: [100 ms, 110 ms), 5 datagrams of 2 ms.
  struct Row {
    const char* what;
    Incoming in;
    std::int64_t first, last;
    bool whole;
    std::int64_t givenUp;
  };
  const Row rows[] = {
      {"held whole before its turn", {9, 50'000, 90'000, true}, 102'000, 110'000, true, 0},
      {"not heard of (another seq in the slot)", {9 + 64, 105'000, 130'000, true}, 102'000, 110'000, true, 0},
      {"still coming in", {9, 104'000, 120'000, true}, 106'000, 122'000, true, 0},
      {"never came whole to the relay", {9, 104'000, 150'000, false}, 106'000, 110'000, false, 150'000},
  };
  for (const Row& r : rows) {
    CAPTURE(std::string(r.what));
    IncomingRing ring{};
    ring[r.in.seq % ring.size()] = r.in;
    const RelayTimes t = relayTimes(ring, 9, 100'000, 110'000, 5);
    CHECK(t.firstLeavesUs == r.first);
    CHECK(t.lastLeavesUs == r.last);
    CHECK(t.whole == r.whole);
    CHECK(t.givenUpUs == r.givenUp);
  }
}

TEST_CASE("the receiver's record of a chunk coming in: the earliest copy's datagrams set it") {
  IncomingRing ring{};
  noteIncoming(ring, 5, 100, 300, false);  // a copy that never comes whole
  CHECK(ring[5].seq == 5);
  CHECK_FALSE(ring[5].whole);
  noteIncoming(ring, 5, 150, 400, true);  // another, whole: the chunk is whole at 400
  CHECK(ring[5].firstUs == 100);
  CHECK(ring[5].whole);
  CHECK(ring[5].wholeUs == 400);
  noteIncoming(ring, 5, 120, 350, true);  // an earlier whole one
  CHECK(ring[5].wholeUs == 350);
  noteIncoming(ring, 5, 90, 500, true);  // starts sooner, ends later
  CHECK(ring[5].firstUs == 90);
  CHECK(ring[5].wholeUs == 350);
  noteIncoming(ring, 5 + 64, 1000, 1200, true);  // a newer chunk in the same slot replaces it
  CHECK(ring[5].seq == 5 + 64);
  CHECK(ring[5].firstUs == 1000);
}
