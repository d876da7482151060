// Pushes chunks to a streamer over ZeroMQ (DEALER -> the streamer's ROUTER)
// and receives its control requests on the same connection. Never blocks the
// caller: with ZMQ_IMMEDIATE nothing is queued inside ZeroMQ for a streamer
// that is not there; our own bounded ChunkQueue waits for it instead.
// Used by partyhub-source and by the partyhubsink element alike.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "../core/chunk_queue.hpp"
#include "partyhub/v1/control.pb.h"

namespace partyhub::source {

struct PublisherStats {
  std::uint64_t chunksSent = 0;
  std::uint64_t bytesSent = 0;
  std::uint64_t chunksDropped = 0;
  std::uint64_t controlMalformed = 0;
  std::size_t queueDepth = 0;
};

class ChunkPublisher {
 public:
  ChunkPublisher(zmq::context_t& ctx, const std::string& endpoint, std::size_t maxQueue,
                 std::int64_t maxAgeUs);

  /// Queues and sends what the streamer accepts now.
  void publish(v1::Chunk chunk, std::int64_t nowUs);
  /// Retries queued chunks (call from a timer while the streamer is away).
  void flush(std::int64_t nowUs);
  /// Control requests that arrived since the last call (non-blocking).
  std::vector<v1::Control> receiveControl();

  [[nodiscard]] PublisherStats stats() const;
  zmq::socket_t& socket() { return mSocket; }

 private:
  zmq::socket_t mSocket;
  ChunkQueue mQueue;
  PublisherStats mStats;
};

}  // namespace partyhub::source
