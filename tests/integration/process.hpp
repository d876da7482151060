// Runs the real PartyHub executables from integration tests: spawn with
// arguments, capture stdout/stderr to files, wait with a deadline, kill.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace partyhub::test {

/// A whole file's bytes; empty when it cannot be read.
inline std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline std::string binDir() { return PARTYHUB_BIN_DIR; }
inline std::string pluginDir() { return PARTYHUB_GST_PLUGIN_DIR; }

inline std::string tempDir() {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/partyhub-test-XXXXXX";
    const char* made = mkdtemp(tmpl);
    if (made == nullptr) throw std::runtime_error("mkdtemp failed");
    return std::string(made);
  }();
  return dir;
}

/// A loopback port base per test process, so parallel CTest jobs do not
/// collide: a block of 100 (test cases use offsets up to 99), below the
/// kernel's ephemeral ports (32768 on). Ten ports a process, as before, let
/// processes with neighbouring pids share ports: the group manager of one
/// test listening where another's daemon did.
inline int portBase() { return 20000 + (static_cast<int>(getpid()) % 120) * 100; }

class Process {
 public:
  Process(const std::string& exe, std::vector<std::string> args, const std::string& tag)
      : mOut(tempDir() + "/" + tag + ".out"), mErr(tempDir() + "/" + tag + ".err") {
    std::vector<std::string> argv{exe.find('/') == std::string::npos && exe.rfind("partyhub-", 0) != 0
                                      ? "/usr/bin/" + exe
                                      : (exe[0] == '/' ? exe : binDir() + "/" + exe)};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, mOut.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, mErr.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    if (posix_spawn(&mPid, cargv[0], &actions, nullptr, cargv.data(), environ) != 0) {
      throw std::runtime_error("cannot spawn " + argv[0]);
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Process() {
    if (!mExit) {
      kill(mPid, SIGKILL);
      waitpid(mPid, nullptr, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  /// Exit code, or nullopt if still running after `timeout` (then killed).
  std::optional<int> wait(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (!mExit) {
      int status = 0;
      const pid_t r = waitpid(mPid, &status, WNOHANG);
      if (r == mPid) {
        mExit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (std::chrono::steady_clock::now() > until) {
        kill(mPid, SIGKILL);
        waitpid(mPid, nullptr, 0);
        mExit = -1;
        return std::nullopt;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return mExit == -1 ? std::nullopt : mExit;
  }
  bool running() {
    if (mExit) return false;
    int status = 0;
    if (waitpid(mPid, &status, WNOHANG) == mPid) {
      mExit = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      return false;
    }
    return true;
  }
  void terminate() {
    if (!mExit) kill(mPid, SIGTERM);
  }
  std::string out() const { return readFile(mOut); }
  std::string err() const { return readFile(mErr); }

 private:
  pid_t mPid = -1;
  std::optional<int> mExit;
  std::string mOut, mErr;
};

/// The last line of `text` that contains `needle`.
inline std::string lastLineWith(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  std::string line, found;
  while (std::getline(in, line)) {
    if (line.find(needle) != std::string::npos) found = line;
  }
  return found;
}

/// Whether some socket on this machine is bound to UDP `port` (IPv4), from
/// /proc/net/udp: how a test knows a process listens before it sends to
/// it, without binding the port itself (which would race with the process).
inline bool udpPortBound(int port) {
  std::ifstream in("/proc/net/udp");
  std::string line;
  std::getline(in, line);  // the header
  char want[8];
  std::snprintf(want, sizeof want, ":%04X", port);
  while (std::getline(in, line)) {
    // "  sl  local_address rem_address ...": the local address is the 2nd field.
    std::istringstream fields(line);
    std::string sl, local;
    fields >> sl >> local;
    if (local.size() >= 5 && local.compare(local.size() - 5, 5, want) == 0) return true;
  }
  return false;
}

/// Waits until `port` is bound, at most `limit`; whether it was.
inline bool waitUdpBound(int port, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!udpPortBound(port)) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace partyhub::test
