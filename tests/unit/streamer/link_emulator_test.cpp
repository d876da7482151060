#include <doctest/doctest.h>

#include "transport/link_emulator.hpp"

using namespace partyhub::streamer;

namespace {
std::vector<std::pair<PeerId, std::string>> dueAt(LinkEmulator& l, std::int64_t now) {
  std::vector<std::pair<PeerId, std::string>> out;
  l.due(now, out);
  return out;
}
}  // namespace

TEST_CASE("link emulation: a fixed one-way delay, in order") {
  LinkEmulator l({.delayMs = 20}, 1);
  CHECK(l.submit(7, "a", 1'000));
  CHECK(l.submit(8, "b", 2'000));
  CHECK(dueAt(l, 20'999).empty());
  auto first = dueAt(l, 21'000);
  REQUIRE(first.size() == 1);
  CHECK(first[0] == std::pair<PeerId, std::string>{7, "a"});
  CHECK(dueAt(l, 30'000).size() == 1);
  CHECK(l.idle());
}

TEST_CASE("link emulation: the uplink serialises at its rate and drops what would queue too long") {
  // 1000 kbit/s: a 97-byte datagram (+28 header bytes = 1000 bits) takes 1 ms.
  LinkEmulator l({.uploadKbps = 1000, .maxQueueUs = 5'000}, 1);
  const std::string d(97, 'x');
  int accepted = 0;
  for (int i = 0; i < 10; ++i) accepted += l.submit(1, d, 0) ? 1 : 0;
  CHECK(accepted == 6);  // queued up to 5 ms ahead, then tail drop
  CHECK(l.stats().overflow == 4);
  CHECK(dueAt(l, 2'999).size() == 2);
  CHECK(dueAt(l, 6'000).size() == 4);
}

TEST_CASE("link emulation: random loss at the configured rate, reproducibly") {
  LinkEmulator l({.loss = 0.1}, 42);
  int kept = 0;
  for (int i = 0; i < 10'000; ++i) kept += l.submit(1, "x", i) ? 1 : 0;
  CHECK(kept == doctest::Approx(9'000).epsilon(0.03));
  CHECK(l.stats().lost == static_cast<std::uint64_t>(10'000 - kept));
  LinkEmulator again({.loss = 0.1}, 42);
  int keptAgain = 0;
  for (int i = 0; i < 10'000; ++i) keptAgain += again.submit(1, "x", i) ? 1 : 0;
  CHECK(keptAgain == kept);
}
