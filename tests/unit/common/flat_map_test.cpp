#include "partyhub/common/flat_map.hpp"

#include <doctest/doctest.h>

#include <map>
#include <random>

using partyhub::FlatMap;

TEST_CASE("FlatMap: insert, find, overwrite, erase") {
  FlatMap<int> m;
  CHECK(m.empty());
  CHECK(m.find(7) == m.end());
  m[7] = 70;
  m[0] = 1;  // key 0 is an ordinary key
  CHECK(m.size() == 2);
  CHECK(m.find(7)->second == 70);
  CHECK(m.find(0)->second == 1);
  CHECK_FALSE(m.emplace(7, 71).second);
  CHECK(m[7] == 70);
  CHECK(m.erase(7) == 1);
  CHECK(m.erase(7) == 0);
  CHECK(m.count(7) == 0);
  CHECK(m.size() == 1);
  m.clear();
  CHECK(m.empty());
  CHECK(m.find(0) == m.end());
}

TEST_CASE("FlatMap: the largest keys it stores are kept apart from its free-slot markers") {
  // The two keys above kMaxKey mark empty and erased slots: keys up to it
  // (an IPv4 address and port make 48 bits; seqs count from 0) are ordinary.
  FlatMap<int> m;
  const std::uint64_t top = FlatMap<int>::kMaxKey;
  CHECK(top == ~0ull - 2);
  for (std::uint64_t k = 0; k < 40; ++k) m[top - k] = static_cast<int>(k);
  CHECK(m.size() == 40);
  CHECK(m.find(top)->second == 0);
  CHECK(m.erase(top) == 1);
  CHECK(m.find(top) == m.end());
  CHECK(m.find(top - 1)->second == 1);
  std::size_t seen = 0;
  for (const auto& [k, v] : m) {
    CHECK(k == top - static_cast<std::uint64_t>(v));
    ++seen;
  }
  CHECK(seen == 39);
  m.clear();
  CHECK(m.empty());
  CHECK(m.begin() == m.end());
  m[top] = 5;
  CHECK(m.find(top)->second == 5);
}

TEST_CASE("FlatMap: erasing while iterating visits every other element once") {
  FlatMap<int> m;
  for (int i = 0; i < 100; ++i) m[static_cast<std::uint64_t>(i) * 1000] = i;
  int visited = 0, kept = 0;
  for (auto it = m.begin(); it != m.end();) {
    ++visited;
    if (it->second % 3 == 0) {
      it = m.erase(it);
    } else {
      ++kept;
      ++it;
    }
  }
  CHECK(visited == 100);
  CHECK(m.size() == static_cast<std::size_t>(kept));
  for (const auto& [k, v] : m) CHECK(v % 3 != 0);
}

TEST_CASE("FlatMap: agrees with std::map over a long random mix of operations") {
  // Tombstone reuse, sweeping rehashes and growth all happen along the way.
  std::mt19937_64 rng(42);
  FlatMap<std::uint64_t> flat;
  std::map<std::uint64_t, std::uint64_t> ref;
  for (int step = 0; step < 200'000; ++step) {
    const std::uint64_t key = rng() % (step < 100'000 ? 64 : 4096);  // small then large key space
    switch (rng() % 4) {
      case 0:
      case 1: flat[key] = static_cast<std::uint64_t>(step); ref[key] = static_cast<std::uint64_t>(step); break;
      case 2: CHECK(flat.erase(key) == ref.erase(key)); break;
      default: {
        auto f = flat.find(key);
        auto r = ref.find(key);
        REQUIRE((f == flat.end()) == (r == ref.end()));
        if (r != ref.end()) CHECK(f->second == r->second);
      }
    }
  }
  CHECK(flat.size() == ref.size());
  std::map<std::uint64_t, std::uint64_t> copied(flat.begin(), flat.end());
  CHECK(copied == ref);
}

TEST_CASE("FlatMap: a table that held many and now holds few shrinks as it is used") {
  FlatMap<int> m;
  for (std::uint64_t k = 0; k < 1000; ++k) m[k] = 1;
  const std::size_t big = m.capacity();
  CHECK(big >= 2000);
  for (std::uint64_t k = 10; k < 1000; ++k) m.erase(k);
  // Keys come and go (a node's per-peer tables): the sweep that clears the
  // tombstones sizes the table for what is live.
  for (std::uint64_t k = 1000; k < 3000; ++k) {
    m[k] = 2;
    m.erase(k);
  }
  CHECK(m.size() == 10);
  CHECK(m.capacity() <= 64);
  for (std::uint64_t k = 0; k < 10; ++k) CHECK(m.count(k) == 1);
}
