#include "supervisor.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "partyhub/common/clock.hpp"

namespace partyhub::controller {

namespace {
constexpr std::int64_t kStableUs = 10'000'000;    // up this long: the next crash starts backoff afresh
constexpr std::int64_t kFirstRetryUs = 100'000;
constexpr std::int64_t kMaxRetryUs = 5'000'000;
constexpr std::int64_t kGraceUs = 2'000'000;
}  // namespace

Supervisor::Supervisor(std::string logDir) : mLogDir(std::move(logDir)) {}

Supervisor::~Supervisor() { stopAll(); }

std::string Supervisor::logPath(const std::string& key, const char* suffix) const {
  std::string base = key;
  std::replace(base.begin(), base.end(), ':', '-');
  return mLogDir + "/" + base + suffix;
}

void Supervisor::setPlan(std::vector<ProcessSpec> plan) { mPlan = std::move(plan); }

void Supervisor::spawn(Child& c, std::int64_t nowUs) {
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls until exec.
  std::vector<std::string> argv{c.spec.exe};
  argv.insert(argv.end(), c.spec.args.begin(), c.spec.args.end());
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const std::string out = logPath(c.spec.key, ".out"), err = logPath(c.spec.key, ".err");
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);  // the daemon died before prctl
    const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    const int n = open("/dev/null", O_RDONLY);
    if (o >= 0) dup2(o, 1);
    if (e >= 0) dup2(e, 2);
    if (n >= 0) dup2(n, 0);
    execv(cargv[0], cargv.data());
    _exit(127);
  }
  c.pid = pid > 0 ? pid : 0;
  c.startedUs = nowUs;
  if (pid < 0) c.retryAtUs = nowUs + kFirstRetryUs;
}

void Supervisor::reap(std::int64_t nowUs) {
  // Only our own children: other supervisors in this process reap theirs.
  auto exited = [](pid_t pid) {
    int status = 0;
    return pid > 0 && waitpid(pid, &status, WNOHANG) == pid;
  };
  for (auto& [key, c] : mChildren) {
    if (!exited(c.pid)) continue;
    c.pid = 0;
    if (nowUs - c.startedUs > kStableUs) c.restarts = 0;
    c.retryAtUs = nowUs + std::min(kMaxRetryUs, kFirstRetryUs << std::min(c.restarts, 5));
    ++c.restarts;
  }
  mStopping.erase(std::remove_if(mStopping.begin(), mStopping.end(), [&](const Child& s) { return exited(s.pid); }),
                  mStopping.end());
}

void Supervisor::tick(std::int64_t nowUs) {
  reap(nowUs);
  // Stop what is no longer planned or whose command changed.
  for (auto it = mChildren.begin(); it != mChildren.end();) {
    auto planned = std::find_if(mPlan.begin(), mPlan.end(), [&](const ProcessSpec& p) { return p.key == it->first; });
    if (planned == mPlan.end() || !(*planned == it->second.spec)) {
      if (it->second.pid > 0) {
        kill(it->second.pid, SIGTERM);
        it->second.stopSentUs = nowUs;
        mStopping.push_back(it->second);
      }
      it = mChildren.erase(it);
    } else {
      ++it;
    }
  }
  // Escalate stops that take too long.
  for (Child& s : mStopping) {
    if (s.pid > 0 && nowUs - s.stopSentUs > kGraceUs) kill(s.pid, SIGKILL);
  }
  // Start what is planned and not running (after its backoff).
  for (const ProcessSpec& p : mPlan) {
    Child& c = mChildren[p.key];
    if (c.spec.key.empty()) c.spec = p;
    if (c.pid == 0 && nowUs >= c.retryAtUs) spawn(c, nowUs);
  }
}

void Supervisor::stopAll(std::int64_t graceUs) {
  mPlan.clear();
  for (auto& [key, c] : mChildren) {
    if (c.pid > 0) {
      kill(c.pid, SIGTERM);
      c.stopSentUs = wallNowUs();
      mStopping.push_back(c);
    }
  }
  mChildren.clear();
  const std::int64_t start = wallNowUs();
  while (!mStopping.empty()) {
    const std::int64_t now = wallNowUs();
    for (Child& s : mStopping) {
      if (now - start > graceUs) kill(s.pid, SIGKILL);
      int status = 0;
      if (waitpid(s.pid, &status, WNOHANG) == s.pid) s.pid = 0;
    }
    mStopping.erase(std::remove_if(mStopping.begin(), mStopping.end(), [](const Child& s) { return s.pid == 0; }),
                    mStopping.end());
    if (!mStopping.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::vector<ChildStatus> Supervisor::status() const {
  std::vector<ChildStatus> out;
  for (const auto& [key, c] : mChildren) {
    out.push_back({key, c.pid, c.pid > 0 ? "running" : "backoff", c.restarts, logPath(key, ".out")});
  }
  for (const Child& s : mStopping) out.push_back({s.spec.key, s.pid, "stopping", s.restarts, ""});
  return out;
}

}  // namespace partyhub::controller
