// The group manager's REST API (JSON over HTTP or HTTPS) on a GroupStore:
// the one boundary where store failures become HTTP statuses, with a JSON
// {"error": "..."} body. Change notification is a long-poll on a group's
// version. See docs/groupmgr-api.md for the routes.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "group_store.hpp"

namespace httplib {
class Server;
}

namespace partyhub::groupmgr {

struct ApiConfig {
  std::size_t maxBodyBytes = 64 * 1024;
  std::int64_t heartbeatTimeoutUs = 10'000'000;
  std::int64_t maxLongPollUs = 30'000'000;
};

class GroupApi {
 public:
  GroupApi(GroupStore& store, ApiConfig config);

  /// Registers the routes on `server`.
  void install(httplib::Server& server);
  /// Expires silent members (call periodically); wakes long-polls of groups that changed.
  void expire(std::int64_t nowUs);
  /// Wakes every long-poll (shutdown).
  void wakeAll();

 private:
  GroupStore& mStore;
  ApiConfig mConfig;
  std::mutex mMutex;  // one SQLite connection: one caller at a time
  std::condition_variable mChanged;  // a group's version moved (long-polls re-check theirs)
};

}  // namespace partyhub::groupmgr
