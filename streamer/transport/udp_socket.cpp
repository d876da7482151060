#include "udp_socket.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace partyhub::streamer {

namespace {

sockaddr_in toSockaddr(PeerId peer) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(static_cast<std::uint32_t>(peer >> 16));
  addr.sin_port = htons(static_cast<std::uint16_t>(peer & 0xFFFF));
  return addr;
}

PeerId fromSockaddr(const sockaddr_in& addr) {
  return (static_cast<PeerId>(ntohl(addr.sin_addr.s_addr)) << 16) | ntohs(addr.sin_port);
}

}  // namespace

PeerId resolvePeer(const std::string& hostPort) {
  const auto colon = hostPort.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == hostPort.size()) {
    throw std::invalid_argument("expected HOST:PORT, got '" + hostPort + "'");
  }
  const std::string host = hostPort.substr(0, colon);
  const std::string port = hostPort.substr(colon + 1);
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 || std::stoi(port) > 65535) {
    throw std::invalid_argument("bad port in '" + hostPort + "' (expected 0..65535)");
  }
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* result = nullptr;
  const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0 || result == nullptr) {
    throw std::invalid_argument("cannot resolve '" + hostPort + "': " + gai_strerror(rc));
  }
  const PeerId id = fromSockaddr(*reinterpret_cast<sockaddr_in*>(result->ai_addr));
  freeaddrinfo(result);
  return id;
}

std::string peerToString(PeerId peer) {
  const sockaddr_in addr = toSockaddr(peer);
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &addr.sin_addr, text, sizeof text);
  return std::string(text) + ":" + std::to_string(ntohs(addr.sin_port));
}

UdpSocket::UdpSocket(const std::string& hostPort) {
  const PeerId local = resolvePeer(hostPort);
  mFd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (mFd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  // Keyframes arrive as bursts of fragments: give the kernel room for them.
  const int size = 4 * 1024 * 1024;
  if (setsockopt(mFd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
    setsockopt(mFd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  if (setsockopt(mFd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0) {
    setsockopt(mFd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  }
  sockaddr_in addr = toSockaddr(local);
  if (bind(mFd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const std::string reason = std::strerror(errno);
    close(mFd);
    throw std::runtime_error("cannot bind UDP " + hostPort + ": " + reason);
  }
  socklen_t len = sizeof addr;
  getsockname(mFd, reinterpret_cast<sockaddr*>(&addr), &len);
  mPort = ntohs(addr.sin_port);
}

UdpSocket::~UdpSocket() {
  if (mFd >= 0) close(mFd);
}

bool UdpSocket::sendTo(PeerId peer, std::string_view datagram) {
  const sockaddr_in addr = toSockaddr(peer);
  const ssize_t n = sendto(mFd, datagram.data(), datagram.size(), 0,
                           reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  return n == static_cast<ssize_t>(datagram.size());
}

void UdpSocket::drain(const std::function<void(PeerId, std::string_view)>& onDatagram) {
  for (;;) {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    const ssize_t n = recvfrom(mFd, mBuffer, sizeof mBuffer, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: empty; ICMP errors (ECONNREFUSED) are not ours to act on
    }
    onDatagram(fromSockaddr(from), std::string_view(mBuffer, static_cast<std::size_t>(n)));
  }
}

}  // namespace partyhub::streamer
