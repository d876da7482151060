// partyhub-controller's daemon: a local REST API to join and leave
// conferences and see their members and streams, and the one thread that
// supervises every conference's processes.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "conference.hpp"

namespace httplib {
class Server;
}

namespace partyhub::controller {

class Daemon {
 public:
  explicit Daemon(DaemonSettings settings);
  ~Daemon();  // leaves every conference, stops every process

  void install(httplib::Server& server);

 private:
  void superviseLoop();

  DaemonSettings mSettings;
  std::mutex mMutex;
  std::map<std::string, std::unique_ptr<Conference>> mConferences;
  std::set<std::string> mJoining;  // groups whose join is under way
  int mNextBlock = 0;
  std::atomic<bool> mRunning{true};
  std::thread mSupervisor;
};

}  // namespace partyhub::controller
