// partyhub-sim's pending events and the queue that orders them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

namespace partyhub::streamer::sim {

// One 64-bit key orders events: the time (µs, < 2^32: 71 minutes) above a
// running count (FIFO among equal times, for determinism). 24 bytes, one
// integer compare: the heap is a tenth of the simulator's time.
struct Event {
  std::uint64_t key;
  std::uint32_t peer;
  std::uint32_t from;
  std::uint32_t slot;   // message slot for kDeliver
  std::uint8_t kind;
  [[nodiscard]] std::int64_t at() const { return static_cast<std::int64_t>(key >> 32); }
  bool operator>(const Event& o) const { return key > o.key; }
};

// The pending events, as a calendar queue (Brown, 1988): 128 µs buckets over
// a 4 s horizon, the current bucket a small heap, anything later in a heap of
// its own. Pops in exactly the order of one big heap, in a fraction of its
// time (the big heap's pops were a sixth of a large run). At N = 2000 about
// a hundred events share a 128 µs bucket; 1 ms buckets (~750 each) made the
// bucket's heap a tenth of the run, 32 µs ones cost more in empty buckets.
class EventQueue {
 public:
  [[nodiscard]] bool empty() const { return mSize == 0; }

  void push(const Event& e) {
    ++mSize;
    const std::uint64_t b = bucketOf(e);
    if (b <= mCurrent) {
      mNow.push_back(e);
      std::push_heap(mNow.begin(), mNow.end(), std::greater<>());
    } else if (b < mCurrent + kBuckets) {
      mBuckets[b % kBuckets].push_back(e);
      ++mNear;
    } else {
      mFar.push(e);
    }
  }

  /// The earliest event; the queue must not be empty.
  const Event& top() {
    settle();
    return mNow.front();
  }

  void pop() {
    settle();
    std::pop_heap(mNow.begin(), mNow.end(), std::greater<>());
    mNow.pop_back();
    --mSize;
  }

 private:
  static constexpr unsigned kBucketShift = 7;  // 128 µs
  static constexpr std::uint64_t kBuckets = 32768;
  static std::uint64_t bucketOf(const Event& e) { return static_cast<std::uint64_t>(e.at()) >> kBucketShift; }

  void settle() {
    while (mNow.empty()) {
      ++mCurrent;
      if (mNear == 0 && !mFar.empty()) mCurrent = std::max(mCurrent, bucketOf(mFar.top()));
      // Events that the horizon now covers move into their buckets.
      while (!mFar.empty() && bucketOf(mFar.top()) < mCurrent + kBuckets) {
        const Event e = mFar.top();
        mFar.pop();
        if (bucketOf(e) == mCurrent) {
          mNow.push_back(e);
        } else {
          mBuckets[bucketOf(e) % kBuckets].push_back(e);
          ++mNear;
        }
      }
      std::vector<Event>& due = mBuckets[mCurrent % kBuckets];
      mNear -= due.size();
      mNow.insert(mNow.end(), due.begin(), due.end());
      due.clear();
      std::make_heap(mNow.begin(), mNow.end(), std::greater<>());
    }
  }

  std::vector<std::vector<Event>> mBuckets = std::vector<std::vector<Event>>(kBuckets);
  std::vector<Event> mNow;  // the current bucket's events, a min-heap
  std::priority_queue<Event, std::vector<Event>, std::greater<>> mFar;
  std::uint64_t mCurrent = 0;
  std::size_t mNear = 0;  // events in mBuckets
  std::size_t mSize = 0;
};

}  // namespace partyhub::streamer::sim
