// A hash map from 64-bit integer keys (peer ids, chunk seqs) to values, in
// one flat array: open addressing with linear probing. The overlay core keeps
// a few per-peer and per-chunk tables in every node, and partyhub-sim runs
// thousands of nodes: std::unordered_map's bucket-then-node pointer chase
// missed the cache on nearly every lookup and was the simulator's hot spot.
//
// Erasing leaves a tombstone, so erasing while iterating is safe (the
// iterator after the erased one is returned, as std::unordered_map does).
// Unlike std::unordered_map, an insertion may move every element: references
// and iterators into the map do not survive inserting into it.
//
// A slot's state is its key: the two largest keys mark empty and erased
// slots and may not be stored (peer ids are an IPv4 address and a port, 48
// bits; seqs count from 0). A separate state byte padded every slot by 8
// bytes, and the simulator's tables are most of its memory.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <type_traits>
#include <utility>
#include <vector>

namespace partyhub {

template <class V>
class FlatMap {
  using Slot = std::pair<std::uint64_t, V>;
  static constexpr std::uint64_t kEmpty = ~0ull;
  static constexpr std::uint64_t kErased = ~0ull - 1;
  static bool full(const Slot& s) { return s.first < kErased; }

 public:
  /// Keys from here up are reserved (they mark free slots).
  static constexpr std::uint64_t kMaxKey = kErased - 1;
  using key_type = std::uint64_t;
  using value_type = std::pair<std::uint64_t, V>;

  template <bool Const>
  class Iter {
    using Owner = std::conditional_t<Const, const FlatMap, FlatMap>;

   public:
    using iterator_category = std::forward_iterator_tag;
    using difference_type = std::ptrdiff_t;
    using value_type = FlatMap::value_type;
    using reference = std::conditional_t<Const, const value_type&, value_type&>;
    using pointer = std::conditional_t<Const, const value_type*, value_type*>;
    Iter(Owner* map, std::size_t i) : mMap(map), mIndex(i) { skip(); }
    template <bool C = Const, std::enable_if_t<!C, int> = 0>
    operator Iter<true>() const {  // NOLINT(google-explicit-constructor): as std iterators convert
      return Iter<true>(mMap, mIndex);
    }
    reference operator*() const { return mMap->mSlots[mIndex]; }
    pointer operator->() const { return &mMap->mSlots[mIndex]; }
    Iter& operator++() {
      ++mIndex;
      skip();
      return *this;
    }
    bool operator==(const Iter& o) const { return mIndex == o.mIndex; }
    bool operator!=(const Iter& o) const { return mIndex != o.mIndex; }

   private:
    friend class FlatMap;
    void skip() {
      while (mIndex < mMap->mSlots.size() && !full(mMap->mSlots[mIndex])) ++mIndex;
    }
    Owner* mMap;
    std::size_t mIndex;
  };
  using iterator = Iter<false>;
  using const_iterator = Iter<true>;

  iterator begin() { return iterator(this, 0); }
  iterator end() { return iterator(this, mSlots.size()); }
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, mSlots.size()); }
  [[nodiscard]] std::size_t size() const { return mSize; }
  [[nodiscard]] bool empty() const { return mSize == 0; }
  [[nodiscard]] std::size_t capacity() const { return mSlots.size(); }  // slots, live or not

  iterator find(std::uint64_t key) { return iterator(this, locate(key)); }
  const_iterator find(std::uint64_t key) const { return const_iterator(this, locate(key)); }
  [[nodiscard]] std::size_t count(std::uint64_t key) const { return locate(key) == mSlots.size() ? 0 : 1; }

  /// Inserts a value-initialised V under `key` unless it is there.
  std::pair<iterator, bool> try_emplace(std::uint64_t key) {
    assert(key <= kMaxKey);
    const std::size_t found = locate(key);
    if (found != mSlots.size()) return {iterator(this, found), false};
    // Keep a quarter of the slots empty, so probes stay short: then rebuild
    // at a size that leaves half of them empty, growing or shrinking (a
    // table that once held many and now holds few is swept and shrunk, so
    // lookups and iteration touch what is live, not what was).
    if ((mSize + mErased + 1) * 4 > mSlots.size() * 3) {
      std::size_t capacity = 8;
      while (capacity < (mSize + 1) * 2) capacity *= 2;
      rehash(capacity);
    }
    std::size_t i = home(key);
    while (full(mSlots[i])) i = (i + 1) & mMask;
    if (mSlots[i].first == kErased) --mErased;
    mSlots[i].first = key;
    mSlots[i].second = V{};
    ++mSize;
    return {iterator(this, i), true};
  }
  std::pair<iterator, bool> emplace(std::uint64_t key, V value) {
    auto r = try_emplace(key);
    if (r.second) r.first->second = std::move(value);
    return r;
  }
  V& operator[](std::uint64_t key) { return try_emplace(key).first->second; }

  std::size_t erase(std::uint64_t key) {
    const std::size_t i = locate(key);
    if (i == mSlots.size()) return 0;
    release(i);
    return 1;
  }
  iterator erase(const_iterator it) {
    release(it.mIndex);
    return iterator(this, it.mIndex + 1);
  }
  iterator erase(iterator it) { return erase(const_iterator(it)); }

  void clear() {
    for (Slot& s : mSlots) {
      if (full(s)) s.second = V{};
      s.first = kEmpty;
    }
    mSize = 0;
    mErased = 0;
  }

 private:
  [[nodiscard]] std::size_t home(std::uint64_t key) const {
    // Fibonacci hashing: consecutive ids and seqs spread over the table.
    return static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> 32) & mMask;
  }

  /// The slot holding `key`, or mSlots.size().
  [[nodiscard]] std::size_t locate(std::uint64_t key) const {
    if (mSize == 0) return mSlots.size();
    for (std::size_t i = home(key);; i = (i + 1) & mMask) {
      const std::uint64_t k = mSlots[i].first;
      if (k == key) return i;  // never a marker: no such key is stored
      if (k == kEmpty) return mSlots.size();
    }
  }

  void release(std::size_t i) {
    mSlots[i].second = V{};  // free what the value holds now, not at the next rehash
    mSlots[i].first = kErased;
    --mSize;
    ++mErased;
  }

  void rehash(std::size_t capacity) {
    if (capacity < 8) capacity = 8;
    std::vector<Slot> old(capacity, Slot{kEmpty, V{}});
    old.swap(mSlots);
    mMask = capacity - 1;
    mSize = 0;
    mErased = 0;
    for (Slot& s : old) {
      if (!full(s)) continue;
      std::size_t i = home(s.first);
      while (full(mSlots[i])) i = (i + 1) & mMask;
      mSlots[i] = std::move(s);
      ++mSize;
    }
  }

  std::vector<Slot> mSlots;  // a power of two in size (or empty)
  std::size_t mMask = 0;
  std::size_t mSize = 0;
  std::size_t mErased = 0;
};

}  // namespace partyhub
