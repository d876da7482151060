#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "core/fragmenter.hpp"

using namespace partyhub::streamer;

namespace {

std::string message(std::size_t size, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::string s(size, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

std::vector<std::string> cut(const std::string& msg, std::uint32_t id) {
  std::vector<std::string> out;
  REQUIRE(fragment(msg, id, out));
  return out;
}

}  // namespace

TEST_CASE("fragment sizes: every datagram fits in 1200 bytes") {
  struct Case {
    std::size_t size;
    std::size_t fragments;
  };
  const Case cases[] = {{1, 1}, {kMaxFragmentPayload, 1}, {kMaxFragmentPayload + 1, 2}, {50'000, 43}};
  for (const Case& c : cases) {
    CAPTURE(c.size);
    const auto d = cut(message(c.size), 1);
    CHECK(d.size() == c.fragments);
    for (const auto& x : d) CHECK(x.size() <= kMaxDatagram);
  }
  std::vector<std::string> out;
  CHECK_FALSE(fragment("", 1, out));
  CHECK_FALSE(fragment(std::string(kMaxMessage + 1, 'x'), 1, out));
  CHECK(out.empty());
}

TEST_CASE("reassembles in order, reordered and with duplicates") {
  const std::string msg = message(10'000);
  auto d = cut(msg, 42);
  SUBCASE("in order") {
    Reassembler r;
    std::optional<std::string> got;
    for (const auto& x : d) got = r.onDatagram(7, x, 0);
    REQUIRE(got);
    CHECK(*got == msg);
  }
  SUBCASE("reversed, every fragment twice") {
    Reassembler r;
    std::reverse(d.begin(), d.end());
    int completed = 0;
    for (const auto& x : d) {
      for (int i = 0; i < 2; ++i) {
        if (auto got = r.onDatagram(7, x, 0)) {
          CHECK(*got == msg);
          ++completed;
        }
      }
    }
    CHECK(completed == 1);
    CHECK(r.stats().duplicates == d.size());
    CHECK(r.partialMessages() == 0);
  }
  SUBCASE("shuffled, interleaved with another sender's message of the same id") {
    Reassembler r;
    const std::string other = message(5'000, 2);
    auto d2 = cut(other, 42);
    std::vector<std::pair<std::uint64_t, std::string>> all;
    for (auto& x : d) all.emplace_back(1, x);
    for (auto& x : d2) all.emplace_back(2, x);
    std::shuffle(all.begin(), all.end(), std::mt19937(3));
    int done = 0;
    for (auto& [sender, x] : all) {
      if (auto got = r.onDatagram(sender, x, 0)) {
        CHECK(*got == (sender == 1 ? msg : other));
        ++done;
      }
    }
    CHECK(done == 2);
  }
}

TEST_CASE("a lost fragment leaves the message incomplete until it expires") {
  ReassemblerConfig cfg;
  cfg.timeoutUs = 1'000'000;
  Reassembler r(cfg);
  auto d = cut(message(5'000), 1);
  d.erase(d.begin() + 2);
  for (const auto& x : d) CHECK_FALSE(r.onDatagram(1, x, 0));
  CHECK(r.partialMessages() == 1);
  r.expire(500'000);
  CHECK(r.partialMessages() == 1);
  r.expire(1'000'001);
  CHECK(r.partialMessages() == 0);
  CHECK(r.partialBytes() == 0);
  CHECK(r.stats().expired == 1);
}

TEST_CASE("garbage is counted and dropped, never a crash") {
  Reassembler r;
  const std::string good = cut(message(3'000), 9)[0];
  std::vector<std::string> bad = {
      "",
      "PH",
      std::string(11, 'P'),
      "XX" + good.substr(2),                                      // bad magic
      good.substr(0, 2) + "\x07" + good.substr(3),                // bad version
      good.substr(0, 10) + std::string("\x00\x00", 2) + "xyz",   // count 0
      good.substr(0, 8) + std::string("\x00\x05\x00\x03", 4) + "x",  // index >= count
      good.substr(0, 8) + std::string("\x00\x00\x00\x03", 4) + "short",  // non-last fragment too short
      std::string(1500, 'P'),                                     // oversize
  };
  for (const auto& b : bad) CHECK_FALSE(r.onDatagram(1, b, 0));
  CHECK(r.stats().garbage == bad.size());
  // Random bytes: whatever happens, memory stays bounded and nothing completes
  // (a random datagram passing every check is astronomically unlikely).
  std::mt19937 rng(5);
  for (int i = 0; i < 20'000; ++i) {
    std::string junk(rng() % 1300, '\0');
    for (char& c : junk) c = static_cast<char>(rng() & 0xFF);
    CHECK_FALSE(r.onDatagram(rng() % 4, junk, i));
  }
  CHECK(r.partialBytes() <= ReassemblerConfig{}.maxPartialBytes);
}

TEST_CASE("memory stays within bounds under a flood of partial messages") {
  ReassemblerConfig cfg;
  cfg.maxPartialMessages = 8;
  cfg.maxPartialBytes = 64 * 1024;
  Reassembler r(cfg);
  for (std::uint32_t id = 0; id < 1000; ++id) {
    const auto d = cut(message(20'000, id), id);
    (void)r.onDatagram(1, d[0], id);  // first fragment only, never completed
    CHECK(r.partialMessages() <= cfg.maxPartialMessages);
    CHECK(r.partialBytes() <= cfg.maxPartialBytes);
  }
  CHECK(r.stats().evicted > 900);
  // A complete message still gets through after the flood.
  const std::string msg = message(20'000, 77);
  std::optional<std::string> got;
  for (const auto& x : cut(msg, 5000)) got = r.onDatagram(1, x, 2000);
  REQUIRE(got);
  CHECK(*got == msg);
}

TEST_CASE("a late duplicate of a completed message is recognised") {
  Reassembler r;
  const auto d = cut(message(100), 3);
  CHECK(r.onDatagram(1, d[0], 0));
  CHECK_FALSE(r.onDatagram(1, d[0], 1));
  CHECK(r.stats().duplicates == 1);
}

TEST_CASE("fragment repair: a skipped fragment is asked for at once, a stalled tail after a while") {
  const std::string msg = message(6 * kMaxFragmentPayload + 100);  // 7 fragments
  const auto parts = cut(msg, 42);
  Reassembler r;
  std::vector<FragmentNack> nacks;
  SentCache sent;
  sent.remember(42, parts, 0);
  // Fragments 0, 1, 3, 4 arrive: 2 was skipped.
  for (int i : {0, 1, 3, 4}) CHECK_FALSE(r.onDatagram(7, parts[static_cast<std::size_t>(i)], 1'000).has_value());
  CHECK(r.gaps() == 1);
  r.takeNacks(1'000, nacks);
  REQUIRE(nacks.size() == 1);
  CHECK(nacks[0].sender == 7);
  CHECK(nacks[0].msgId == 42);
  CHECK(nacks[0].indices == std::vector<std::uint16_t>{2});  // not 5 and 6: they may be on their way
  CHECK(r.gaps() == 0);
  nacks.clear();
  r.takeNacks(5'000, nacks);
  CHECK(nacks.empty());  // neither a new gap nor stalled yet
  // The tail never comes: once the message stalls, everything missing is
  // asked for (2 again too, its first request being overdue by then).
  r.takeNacks(1'000 + ReassemblerConfig{}.nackRepeatUs, nacks);
  REQUIRE(nacks.size() == 1);
  CHECK(nacks[0].indices == std::vector<std::uint16_t>{2, 5, 6});
  // The sender answers from its cache: the message completes.
  std::optional<std::string> done;
  for (std::uint16_t i : nacks[0].indices) {
    const std::string* d = sent.find(42, i);
    REQUIRE(d != nullptr);
    done = r.onDatagram(7, *d, 90'000);
  }
  REQUIRE(done.has_value());
  CHECK(*done == msg);
  CHECK(r.stats().nacked == 4);
}

TEST_CASE("fragment repair: requests stop after a few tries, the sent cache is bounded") {
  const auto parts = cut(message(3 * kMaxFragmentPayload), 9);
  Reassembler r;
  CHECK_FALSE(r.onDatagram(1, parts[0], 0).has_value());
  std::vector<FragmentNack> nacks;
  for (std::int64_t t = 0; t < 2'000'000; t += 10'000) r.takeNacks(t, nacks);
  CHECK(static_cast<int>(nacks.size()) == ReassemblerConfig{}.maxNacks);

  SentCache cache(3 * kMaxDatagram, 100'000);
  cache.remember(1, parts, 0);
  CHECK(cache.find(1, 2) != nullptr);
  CHECK(cache.find(1, 3) == nullptr);           // no such fragment
  cache.remember(2, cut(message(10), 2), 0);    // one datagram: never asked for, not kept
  CHECK(cache.find(2, 0) == nullptr);
  cache.remember(3, parts, 200'000);            // the first has aged out
  CHECK(cache.find(1, 0) == nullptr);
  CHECK(cache.find(3, 0) != nullptr);
  CHECK(cache.bytes() <= 2 * 3 * kMaxDatagram);
}
