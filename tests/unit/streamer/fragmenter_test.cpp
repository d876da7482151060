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
  const Case cases[] = {{1, 1}, {kMaxSinglePayload, 1}, {kMaxSinglePayload + 1, 2}, {50'000, 42}};
  for (const Case& c : cases) {
    CAPTURE(c.size);
    const auto d = cut(message(c.size), 1);
    CHECK(d.size() == c.fragments);
    for (const auto& x : d) CHECK(x.size() <= kMaxDatagram);
    // Framing: two bytes on a message that fits one datagram, eight per fragment.
    std::size_t bytes = 0;
    for (const auto& x : d) bytes += x.size();
    CHECK(bytes == c.size + (d.size() == 1 ? kSingleHeader : d.size() * kFragmentHeader));
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
  const std::string whole = cut(message(30), 9)[0];
  std::vector<std::string> bad = {
      "",
      "P",
      whole.substr(0, 2),                                         // a whole message of nothing
      std::string(7, 'P'),
      "X" + good.substr(1),                                       // bad magic
      "X" + whole.substr(1),
      good.substr(0, 1) + "\x10" + good.substr(2),                // version 1
      whole.substr(0, 1) + "\x31" + whole.substr(2),              // version 3
      whole.substr(0, 1) + "\x25" + whole.substr(2),              // unknown flag
      good.substr(0, 8),                                          // a fragment of nothing
      good.substr(0, 6) + std::string("\x00\x00", 2) + "xyz",     // count 0
      good.substr(0, 6) + std::string("\x00\x01", 2) + "xyz",     // count 1: that is a whole message
      good.substr(0, 4) + std::string("\x00\x05\x00\x03", 4) + "x",  // index >= count
      good.substr(0, 4) + std::string("\x00\x00\x00\x03", 4) + "short",  // non-last fragment too short
      std::string(1500, 'P'),                                     // oversize
  };
  for (const auto& b : bad) {
    CAPTURE(b.size());
    CHECK_FALSE(r.onDatagram(1, b, 0));
  }
  CHECK(r.stats().garbage == bad.size());
  // Random bytes: whatever happens, memory stays bounded, and only what
  // reads as a whole message comes out (for the protobuf parser to refuse).
  std::mt19937 rng(5);
  for (int i = 0; i < 20'000; ++i) {
    std::string junk(rng() % 1300, '\0');
    for (char& c : junk) c = static_cast<char>(rng() & 0xFF);
    if (i % 100 == 0 && junk.size() > 8) junk[0] = 'P', junk[1] = '\x20';  // some pass for fragments
    if (auto got = r.onDatagram(rng() % 4, junk, i)) {
      CHECK(junk[0] == 'P');
      CHECK(junk[1] == '\x21');
      CHECK(*got == junk.substr(2));
    }
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
  const auto d = cut(message(3'000), 3);
  REQUIRE(d.size() == 3);
  for (std::size_t i = 0; i + 1 < d.size(); ++i) CHECK_FALSE(r.onDatagram(1, d[i], 0));
  CHECK(r.onDatagram(1, d.back(), 0));
  CHECK_FALSE(r.onDatagram(1, d[0], 1));
  CHECK(r.stats().duplicates == 1);
}

TEST_CASE("a whole-message datagram carries no id: a duplicate of it comes out again") {
  // The overlay counts duplicate chunks and its other messages are
  // idempotent; two bytes a message are worth more than this check.
  Reassembler r;
  const std::string msg = message(100);
  const auto d = cut(msg, 3);
  REQUIRE(d.size() == 1);
  CHECK(d[0].size() == msg.size() + kSingleHeader);
  CHECK(r.onDatagram(1, d[0], 0) == msg);
  CHECK(r.onDatagram(1, d[0], 1) == msg);
}

TEST_CASE("a completed message tells when its first datagram came (a one-way delay's reference)") {
  Reassembler r;
  // One datagram: its own arrival.
  std::vector<std::string> one;
  REQUIRE(fragment(std::string(300, 'a'), 1, one));
  REQUIRE(one.size() == 1);
  REQUIRE(r.onDatagram(7, one[0], 1'000));
  CHECK(r.firstArrivalUs() == 1'000);
  // Three fragments over 40 ms, the first sent again later (a repair of a
  // lost one): the first to come counts, not the last nor the repaired one.
  std::vector<std::string> three;
  REQUIRE(fragment(std::string(3000, 'b'), 2, three));
  REQUIRE(three.size() == 3);
  CHECK_FALSE(r.onDatagram(7, three[1], 5'000));
  CHECK_FALSE(r.onDatagram(7, three[2], 25'000));
  REQUIRE(r.onDatagram(7, three[0], 45'000));
  CHECK(r.firstArrivalUs() == 5'000);
}
