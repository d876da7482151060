// Bounded queue between the chunkizer and a streamer that may not be up yet
// or may be restarting. Capture never waits: past the bound the oldest chunk
// is dropped (and counted); chunks past their age limit are dropped too,
// since a chunk that can no longer meet its deadline is worthless.
#pragma once

#include <cstdint>
#include <deque>

#include "partyhub/v1/chunk.pb.h"

namespace partyhub::source {

class ChunkQueue {
 public:
  ChunkQueue(std::size_t maxChunks, std::int64_t maxAgeUs) : mMaxChunks(maxChunks), mMaxAgeUs(maxAgeUs) {}

  void push(v1::Chunk chunk) {
    mQueue.push_back(std::move(chunk));
    while (mQueue.size() > mMaxChunks) {
      mQueue.pop_front();
      ++mDropped;
    }
  }
  /// Drops chunks captured more than maxAge before `nowUs`.
  void expire(std::int64_t nowUs) {
    while (!mQueue.empty() && nowUs - mQueue.front().capture_us() > mMaxAgeUs) {
      mQueue.pop_front();
      ++mDropped;
    }
  }
  [[nodiscard]] bool empty() const { return mQueue.empty(); }
  [[nodiscard]] std::size_t size() const { return mQueue.size(); }
  [[nodiscard]] const v1::Chunk& front() const { return mQueue.front(); }
  void pop() { mQueue.pop_front(); }
  [[nodiscard]] std::uint64_t dropped() const { return mDropped; }

 private:
  std::size_t mMaxChunks;
  std::int64_t mMaxAgeUs;
  std::deque<v1::Chunk> mQueue;
  std::uint64_t mDropped = 0;
};

}  // namespace partyhub::source
