// Runs a set of child processes and keeps them matching a desired plan:
// starts what is missing, stops (SIGTERM, then SIGKILL) what is no longer
// wanted or whose command changed, restarts what exited with exponential
// backoff. Children get PR_SET_PDEATHSIG, so they die with the daemon even
// when it is killed with SIGKILL. Call tick() from one long-lived thread:
// the death signal follows the thread that forked.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "conference_plan.hpp"

namespace partyhub::controller {

struct ChildStatus {
  std::string key;
  pid_t pid = 0;          // 0 while not running
  std::string state;      // "running", "backoff", "stopping"
  int restarts = 0;
  std::string stdoutPath;
};

class Supervisor {
 public:
  explicit Supervisor(std::string logDir);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  void setPlan(std::vector<ProcessSpec> plan);
  /// Reaps exited children, restarts, starts and stops to match the plan.
  void tick(std::int64_t nowUs);
  /// Stops every child: SIGTERM, SIGKILL after `graceUs`; returns when all are reaped.
  void stopAll(std::int64_t graceUs = 2'000'000);
  [[nodiscard]] std::vector<ChildStatus> status() const;

 private:
  struct Child {
    ProcessSpec spec;
    pid_t pid = 0;
    int restarts = 0;
    std::int64_t startedUs = 0;
    std::int64_t retryAtUs = 0;
    std::int64_t stopSentUs = 0;  // nonzero: stopping
    bool wanted = true;
  };
  void spawn(Child& c, std::int64_t nowUs);
  void reap(std::int64_t nowUs);
  [[nodiscard]] std::string logPath(const std::string& key, const char* suffix) const;

  std::string mLogDir;
  std::vector<ProcessSpec> mPlan;
  std::map<std::string, Child> mChildren;
  std::vector<Child> mStopping;  // replaced or removed, not yet reaped
};

}  // namespace partyhub::controller
