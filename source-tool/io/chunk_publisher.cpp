#include "chunk_publisher.hpp"

#include "partyhub/common/zmq_util.hpp"
#include "partyhub/v1/local.pb.h"

namespace partyhub::source {

ChunkPublisher::ChunkPublisher(zmq::context_t& ctx, const std::string& endpoint,
                               std::size_t maxQueue, std::int64_t maxAgeUs)
    : mSocket(ctx, zmq::socket_type::dealer), mQueue(maxQueue, maxAgeUs) {
  mSocket.set(zmq::sockopt::immediate, 1);
  mSocket.set(zmq::sockopt::sndhwm, 64);
  mSocket.set(zmq::sockopt::linger, 0);
  mSocket.set(zmq::sockopt::reconnect_ivl, 50);
  mSocket.set(zmq::sockopt::reconnect_ivl_max, 500);
  connectOrThrow(mSocket, endpoint);
}

void ChunkPublisher::publish(v1::Chunk chunk, std::int64_t nowUs) {
  mQueue.push(std::move(chunk));
  flush(nowUs);
}

void ChunkPublisher::flush(std::int64_t nowUs) {
  mQueue.expire(nowUs);
  v1::SourceToStreamer msg;
  while (!mQueue.empty()) {
    // Serialize straight from the queued chunk; the message borrows it.
    msg.set_allocated_chunk(const_cast<v1::Chunk*>(&mQueue.front()));
    const bool sent = sendProto(mSocket, msg);
    (void)msg.release_chunk();
    if (!sent) break;
    ++mStats.chunksSent;
    mStats.bytesSent += mQueue.front().payload().size();
    mQueue.pop();
  }
}

std::vector<v1::Control> ChunkPublisher::receiveControl() {
  std::vector<v1::Control> out;
  while (auto received = recvMessage(mSocket, false)) {
    v1::StreamerToSource msg;
    if (!msg.ParseFromString(received->body) || !msg.has_control()) {
      ++mStats.controlMalformed;
      continue;
    }
    out.push_back(msg.control());
  }
  return out;
}

PublisherStats ChunkPublisher::stats() const {
  PublisherStats s = mStats;
  s.chunksDropped = mQueue.dropped();
  s.queueDepth = mQueue.size();
  return s;
}

}  // namespace partyhub::source
