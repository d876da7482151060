// ZeroMQ + protobuf helpers. Sends never block (dontwait): an expected-full
// queue is a `false`, only real failures throw (as cppzmq's send() does).
#pragma once

#include <optional>
#include <string>

#include <google/protobuf/message_lite.h>
#include <zmq.hpp>

namespace partyhub {

/// Binds or throws std::runtime_error naming the endpoint and the reason.
void bindOrThrow(zmq::socket_t& socket, const std::string& endpoint);
void connectOrThrow(zmq::socket_t& socket, const std::string& endpoint);

/// DEALER side: one frame.
[[nodiscard]] bool sendProto(zmq::socket_t& socket, const google::protobuf::MessageLite& msg);
/// ROUTER side: routing id frame, then the message.
[[nodiscard]] bool sendProtoTo(zmq::socket_t& socket, const std::string& routingId,
                               const google::protobuf::MessageLite& msg);
[[nodiscard]] bool sendBytesTo(zmq::socket_t& socket, const std::string& routingId,
                               const std::string& bytes);

/// One message received without blocking; routingId is set on ROUTER sockets.
struct ZmqMessage {
  std::string routingId;
  std::string body;
};
/// `router` says whether to expect a routing-id frame. Extra frames are
/// discarded so a malformed multipart message cannot desynchronise us.
std::optional<ZmqMessage> recvMessage(zmq::socket_t& socket, bool router);

}  // namespace partyhub
