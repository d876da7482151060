// A non-blocking IPv4 UDP socket plus the mapping between socket addresses and
// the core's opaque PeerId (address << 16 | port).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/relay.hpp"

namespace partyhub::streamer {

/// "HOST:PORT" -> PeerId; throws std::invalid_argument naming the input.
PeerId resolvePeer(const std::string& hostPort);
std::string peerToString(PeerId peer);

class UdpSocket {
 public:
  /// Binds HOST:PORT (port 0 picks one); throws std::runtime_error.
  explicit UdpSocket(const std::string& hostPort);
  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  [[nodiscard]] int fd() const { return mFd; }
  [[nodiscard]] std::uint16_t localPort() const { return mPort; }

  /// Returns false when the kernel refused (buffer full, unreachable).
  bool sendTo(PeerId peer, std::string_view datagram);
  /// Reads until the socket is empty, calling `onDatagram` for each.
  void drain(const std::function<void(PeerId, std::string_view)>& onDatagram);

 private:
  int mFd = -1;
  std::uint16_t mPort = 0;
  char mBuffer[65536];
};

}  // namespace partyhub::streamer
