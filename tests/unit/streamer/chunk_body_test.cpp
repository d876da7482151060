// Chunk bodies keyed by the chunk (cut-through forwarding's framing): cut and
// filled from any sender, relayed as they land, bounded, garbage counted.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "core/chunk_body.hpp"

using namespace partyhub::streamer;

namespace {

std::string bytes(std::size_t size, unsigned seed = 1) {
  std::mt19937 rng(seed);
  std::string s(size, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

std::vector<std::string> cut(BodyKey key, const std::string& body) {
  std::vector<std::string> out;
  REQUIRE(cutBody(key, body, out));
  return out;
}

using What = BodyStore::Fed::What;

}  // namespace

TEST_CASE("a body's datagrams: at most 1200 bytes, the same from every sender, told from the other framing") {
  struct Case {
    std::size_t size, datagrams;
  };
  for (const Case c : {Case{1, 1}, Case{kMaxBodyPayload, 1}, Case{kMaxBodyPayload + 1, 2}, Case{4200, 4}}) {
    CAPTURE(c.size);
    const std::string body = bytes(c.size);
    const auto a = cut({7, 42}, body), b = cut({7, 42}, body);
    CHECK(a.size() == c.datagrams);
    CHECK(a == b);  // byte for byte: a relay passes them on unchanged
    for (const std::string& d : a) {
      CHECK(d.size() <= kMaxDatagram);
      CHECK(isBodyDatagram(d));
    }
  }
  std::vector<std::string> none;
  CHECK_FALSE(cutBody({1, 1}, "", none));
  CHECK_FALSE(cutBody({1, 1}, std::string(kMaxBodyDatagrams * kMaxBodyPayload + 1, 'x'), none));
  CHECK(none.empty());
  std::vector<std::string> message;
  REQUIRE(fragment(bytes(3000), 9, message));
  for (const std::string& d : message) CHECK_FALSE(isBodyDatagram(d));
}

TEST_CASE("a body fills from any sender's datagrams, in any order: duplicates are counted, not stored twice") {
  const std::string body = bytes(5000, 3);
  const BodyKey key{2, 1000};
  auto d = cut(key, body);
  REQUIRE(d.size() == 5);
  BodyStore store;
  // Two senders' copies, interleaved and out of order: 3 and 1 from one, 0 4 1 2 from the other.
  CHECK(store.onDatagram(d[3], 0).what == What::kNew);
  CHECK(store.onDatagram(d[1], 1).what == What::kNew);
  CHECK_FALSE(store.isWhole(key));
  std::vector<std::uint16_t> gaps;
  store.missing(key, false, gaps);
  CHECK(gaps == std::vector<std::uint16_t>{0, 2});  // below the highest seen
  gaps.clear();
  store.missing(key, true, gaps);
  CHECK(gaps == std::vector<std::uint16_t>{0, 2, 4});
  CHECK(store.onDatagram(d[0], 2).what == What::kNew);
  CHECK(store.onDatagram(d[4], 3).what == What::kNew);
  CHECK(store.onDatagram(d[1], 4).what == What::kDuplicate);
  const auto last = store.onDatagram(d[2], 5);
  CHECK(last.what == What::kWhole);
  CHECK(last.key == key);
  CHECK(last.index == 2);
  CHECK(store.whole(key) == body);
  CHECK(store.stats().duplicates == 1);
  CHECK(store.stats().whole == 1);
  REQUIRE(store.datagram(key, 2) != nullptr);
  CHECK(*store.datagram(key, 2) == d[2]);
  CHECK(store.datagram(key, 5) == nullptr);
  CHECK(store.datagram({2, 1001}, 0) == nullptr);
}

TEST_CASE("a follower gets what is held at once and each later datagram as it lands") {
  const BodyKey key{1, 5};
  auto d = cut(key, bytes(4000));
  REQUIRE(d.size() == 4);
  BodyStore store;
  std::vector<const std::string*> now;
  CHECK_FALSE(store.follow(key, 77, now));  // nothing of it yet
  store.onDatagram(d[0], 0);
  store.onDatagram(d[2], 0);
  REQUIRE(store.follow(key, 77, now));
  REQUIRE(store.follow(key, 78, now));
  CHECK(now.size() == 4);  // two datagrams, for each of two followers
  CHECK(*now[0] == d[0]);
  CHECK(*now[1] == d[2]);
  const auto fed = store.onDatagram(d[1], 1);
  REQUIRE(fed.followers != nullptr);
  CHECK(*fed.followers == std::vector<std::uint64_t>{77, 78});
  CHECK(store.onDatagram(d[1], 1).what == What::kDuplicate);  // not passed on twice
  CHECK(store.onDatagram(d[3], 2).what == What::kWhole);
  // Whole: a late follower gets it all at once and is not kept.
  now.clear();
  REQUIRE(store.follow(key, 79, now));
  CHECK(now.size() == 4);
}

TEST_CASE("bodies not whole in time fail, whole ones are forgotten after a while") {
  BodyStoreConfig c;
  c.timeoutUs = 1'000;
  c.keepUs = 5'000;
  BodyStore store(c);
  const auto a = cut({1, 1}, bytes(3000, 1)), b = cut({1, 2}, bytes(3000, 2));
  store.onDatagram(a[0], 0);  // never whole
  for (const std::string& d : b) store.onDatagram(d, 0);
  std::vector<BodyKey> failed;
  store.expire(500, failed);
  CHECK(failed.empty());
  store.expire(2'000, failed);
  CHECK(failed == std::vector<BodyKey>{{1, 1}});
  CHECK(store.isWhole({1, 2}));
  failed.clear();
  store.expire(6'000, failed);
  CHECK(failed.empty());
  CHECK(store.bodies() == 0);
  CHECK(store.bytes() == 0);
  CHECK(store.stats().failed == 1);
}

TEST_CASE("garbage and lies are counted and dropped, memory stays bounded under a flood") {
  BodyStoreConfig c;
  c.maxBodies = 8;
  c.maxBytes = 20'000;
  BodyStore store(c);
  const auto d = cut({1, 1}, bytes(3000));
  const auto lie = [&](std::string x, std::size_t at, char v) {
    x[at] = v;
    return x;
  };
  const std::vector<std::string> garbage = {
      "",
      "P",
      d[0].substr(0, kBodyHeader),                  // no payload
      lie(d[0], 0, 'Q'),                            // not our magic
      lie(d[0], 1, 0x21),                           // the message framing's flag
      lie(d[0], 15, 9),                             // index 9 of 3
      lie(d[0], 17, 0),                             // count 0
      d[0].substr(0, d[0].size() - 1),              // a datagram short of full that is not the last
      d[0] + std::string(kMaxDatagram, 'x'),        // too long
  };
  for (const std::string& g : garbage) {
    CAPTURE(g.size());
    CHECK(store.onDatagram(g, 0).what == What::kGarbage);
  }
  CHECK(store.stats().garbage == garbage.size());
  CHECK(store.bodies() == 0);
  // A datagram that says another count for a body begun: one of them lies.
  store.onDatagram(d[0], 0);
  CHECK(store.onDatagram(lie(d[1], 17, 4), 0).what == What::kGarbage);
  // A flood of bodies: the oldest go, the bounds hold.
  std::mt19937_64 rng(5);
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::string> one;
    REQUIRE(cutBody({static_cast<std::uint32_t>(rng() % 3), rng()}, bytes(1 + rng() % 9000, i), one));
    store.onDatagram(one[rng() % one.size()], i);
    CHECK(store.bodies() <= c.maxBodies);
    CHECK(store.bytes() <= c.maxBytes);
  }
  CHECK(store.stats().evicted > 0);
}
