// Shared by the controller's HTTP servers (group manager, daemon).
#pragma once

#include <httplib.h>
#include <sys/socket.h>

namespace partyhub::controller {

/// cpp-httplib sets SO_REUSEPORT, which lets a second instance bind the same
/// port and silently split the requests with the first. Keep SO_REUSEADDR
/// only, so a port in use is a clear start-up error.
inline void bindExclusively(httplib::Server& server) {
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
}

}  // namespace partyhub::controller
