#include "partyhub/common/zmq_util.hpp"

#include <stdexcept>

namespace partyhub {

void bindOrThrow(zmq::socket_t& socket, const std::string& endpoint) {
  try {
    socket.bind(endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("cannot bind " + endpoint + ": " + e.what());
  }
}

void connectOrThrow(zmq::socket_t& socket, const std::string& endpoint) {
  try {
    socket.connect(endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("cannot connect to " + endpoint + ": " + e.what());
  }
}

bool sendProto(zmq::socket_t& socket, const google::protobuf::MessageLite& msg) {
  const std::string bytes = msg.SerializeAsString();
  return socket.send(zmq::buffer(bytes), zmq::send_flags::dontwait).has_value();
}

bool sendBytesTo(zmq::socket_t& socket, const std::string& routingId, const std::string& bytes) {
  if (!socket.send(zmq::buffer(routingId), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
    return false;
  }
  // The first frame is queued; ROUTER accepts the rest atomically.
  return socket.send(zmq::buffer(bytes), zmq::send_flags::dontwait).has_value();
}

bool sendProtoTo(zmq::socket_t& socket, const std::string& routingId,
                 const google::protobuf::MessageLite& msg) {
  return sendBytesTo(socket, routingId, msg.SerializeAsString());
}

std::optional<ZmqMessage> recvMessage(zmq::socket_t& socket, bool router) {
  ZmqMessage out;
  zmq::message_t frame;
  if (!socket.recv(frame, zmq::recv_flags::dontwait)) return std::nullopt;
  if (router) {
    out.routingId = frame.to_string();
    if (!frame.more()) return out;  // empty body: caller treats as malformed
    if (!socket.recv(frame, zmq::recv_flags::none)) return out;
  }
  out.body = frame.to_string();
  while (frame.more()) {
    if (!socket.recv(frame, zmq::recv_flags::none)) break;
  }
  return out;
}

}  // namespace partyhub
