#include "media_feed.hpp"

#include "partyhub/common/clock.hpp"
#include "partyhub/common/zmq_util.hpp"
#include "partyhub/v1/local.pb.h"

namespace partyhub::controller {

namespace {

void put(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

}  // namespace

void frameChunk(const v1::Chunk& c, std::string& out) {
  const std::size_t frames = c.frame_sizes_size() > 0 ? static_cast<std::size_t>(c.frame_sizes_size()) : 1;
  const std::size_t length = 4 + 8 + 4 + 4 + 2 + 4 * frames + c.payload().size();
  out.reserve(out.size() + 4 + length);
  put(out, length, 4);
  out.push_back(static_cast<char>(c.kind()));
  out.push_back(static_cast<char>(c.codec()));
  out.push_back(static_cast<char>(c.anchor() ? 1 : 0));
  out.push_back(0);
  put(out, static_cast<std::uint64_t>(c.capture_us()), 8);
  put(out, c.media_seq(), 4);
  put(out, c.duration_us(), 4);
  put(out, frames, 2);
  if (c.frame_sizes_size() > 0) {
    for (std::uint32_t size : c.frame_sizes()) put(out, size, 4);
  } else {
    put(out, c.payload().size(), 4);
  }
  out.append(c.payload());
}

void requestKeyframe(zmq::context_t& ctx, const std::string& endpoint, std::uint32_t channel, const std::string& reason) {
  zmq::socket_t socket(ctx, zmq::socket_type::dealer);
  socket.set(zmq::sockopt::linger, 500);
  connectOrThrow(socket, endpoint);
  v1::PlayerToStreamer msg;
  auto* kf = msg.mutable_control()->mutable_keyframe();
  kf->set_channel_id(channel);
  kf->set_reason(reason);
  (void)sendProto(socket, msg);
}

MediaFeed::MediaFeed(zmq::context_t& ctx, const std::string& endpoint, std::uint32_t channel)
    : mSocket(ctx, zmq::socket_type::dealer), mChannel(channel) {
  mSocket.set(zmq::sockopt::linger, 0);
  mSocket.set(zmq::sockopt::rcvhwm, 2000);
  connectOrThrow(mSocket, endpoint);
  subscribe();
}

void MediaFeed::subscribe() {
  mLastSubscribeUs = wallNowUs();
  v1::PlayerToStreamer msg;
  msg.mutable_subscribe()->set_channel_id(mChannel);
  msg.mutable_subscribe()->set_name("web");
  (void)sendProto(mSocket, msg);
}

void MediaFeed::poll(std::chrono::milliseconds timeout, std::string& out) {
  if (wallNowUs() - mLastSubscribeUs >= 1'000'000) subscribe();
  zmq::pollitem_t item{mSocket.handle(), 0, ZMQ_POLLIN, 0};
  if (zmq::poll(&item, 1, timeout) <= 0) return;
  while (auto received = recvMessage(mSocket, false)) {
    v1::StreamerToPlayer msg;
    if (!msg.ParseFromString(received->body) || !msg.has_chunk()) continue;
    frameChunk(msg.chunk(), out);
    ++mChunks;
  }
}

}  // namespace partyhub::controller
