#include <doctest/doctest.h>

#include "core/chunk_queue.hpp"

using namespace partyhub;
using partyhub::source::ChunkQueue;

namespace {
v1::Chunk chunk(std::uint64_t seq, std::int64_t captureUs) {
  v1::Chunk c;
  c.set_media_seq(seq);
  c.set_capture_us(captureUs);
  return c;
}
}  // namespace

TEST_CASE("bounded: the oldest chunk goes first and is counted") {
  ChunkQueue q(3, 10'000'000);
  for (std::uint64_t i = 0; i < 5; ++i) q.push(chunk(i, 0));
  CHECK(q.size() == 3);
  CHECK(q.dropped() == 2);
  CHECK(q.front().media_seq() == 2);
}

TEST_CASE("chunks past their useful age are dropped") {
  ChunkQueue q(100, 1'000'000);
  q.push(chunk(0, 0));
  q.push(chunk(1, 500'000));
  q.push(chunk(2, 1'500'000));
  q.expire(1'400'000);
  CHECK(q.size() == 2);
  CHECK(q.front().media_seq() == 1);
  CHECK(q.dropped() == 1);
  q.pop();
  q.pop();
  CHECK(q.empty());
}
