// partyhub-controller's daemon: a local REST API to join and leave
// conferences and see their members and streams, and the one thread that
// supervises every conference's processes.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <zmq.hpp>

#include "conference.hpp"

namespace httplib {
class Server;
struct Response;
}

namespace partyhub::controller {

class Daemon {
 public:
  explicit Daemon(DaemonSettings settings);
  ~Daemon();  // leaves every conference, stops every process

  void install(httplib::Server& server);
  /// Ends the web GUI's open media streams (async-signal-safe).
  void stopStreaming() { mStreaming = false; }

 private:
  void superviseLoop();
  void installWeb(httplib::Server& server);
  bool stillMember(const std::string& group, const std::string& member);
  /// The conference `group` (call under mMutex), or nullptr after a 404 reply.
  Conference* conferenceOr404(const std::string& group, httplib::Response& res);
  /// The players' endpoint and channel serving `member`'s stream in `group`, or a 404 in `res`.
  std::optional<std::pair<std::string, std::uint32_t>> streamOr404(const std::string& group, const std::string& member,
                                                                  httplib::Response& res);

  DaemonSettings mSettings;
  // First, so it outlives every socket made from it (conferences, media taps).
  zmq::context_t mZmq{1};  // the web GUI's media taps, the conferences' control sockets
  std::mutex mMutex;
  std::map<std::string, std::unique_ptr<Conference>> mConferences;
  std::set<std::string> mJoining;  // groups whose join is under way
  std::map<std::string, int> mBlocks;  // group -> its block of UDP ports (joined or joining)
  std::atomic<bool> mRunning{true};
  std::atomic<bool> mStreaming{true};
  std::thread mSupervisor;
};

}  // namespace partyhub::controller
