// One conference the daemon has joined: the group manager session (join,
// heartbeats, change notification by long-poll, leave) and the supervisor
// running this participant's processes for it. The plan follows the member
// list: a member joining adds a streamer/player pair, one leaving removes it.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include "conference_plan.hpp"
#include "supervisor.hpp"

namespace partyhub::controller {

/// The group manager refused or could not be reached; `status` is its HTTP
/// status (502 when unreachable), for the daemon to pass on.
struct ManagerError : std::runtime_error {
  ManagerError(int httpStatus, const std::string& what) : std::runtime_error(what), status(httpStatus) {}
  int status;
};

struct JoinRequest {
  std::string group;
  std::string name;
  std::string password;
  std::string manager = "http://127.0.0.1:8700";
  std::string video = "test";
  std::string audio = "test";
  int width = 640, height = 360, fps = 30;
  int videoKbps = 1000, audioKbps = 32;
  std::string codec = "h264";  // h264 | vp8
  // per-source | shared; empty: the group's (per-source for a group we
  // create). The group manager refuses a member of the other layout.
  std::string layout;
};

struct DaemonSettings {
  std::string binDir;
  std::string runDir;
  std::string advertiseHost = "127.0.0.1";
  int portBase = 21000;
  std::string sink = "fake";
  int uplinkKbps = 0;      // this host's uplink, shared out as the streamers' budgets (0: their defaults)
  int emulateDelayMs = 0;  // one-way delay the streamers add to peer traffic (test beds)
  std::string childLogLevel = "warn";  // --log-level of the processes it launches
  std::string webRoot;     // the web GUI's files (none served when empty)
};

class Conference {
 public:
  /// Joins the group (creating it if it does not exist); throws std::runtime_error
  /// with the group manager's message when that fails.
  /// `zmq` is the daemon's (for the control socket to our source streamer).
  Conference(JoinRequest request, const DaemonSettings& daemon, int portBlock, zmq::context_t& zmq);
  ~Conference();  // leaves the group and stops every process
  Conference(const Conference&) = delete;
  Conference& operator=(const Conference&) = delete;

  /// From the daemon's supervisor thread: apply the latest plan.
  void tick(std::int64_t nowUs);
  [[nodiscard]] nlohmann::json status() const;
  [[nodiscard]] const std::string& group() const { return mRequest.group; }
  /// The ZeroMQ endpoint where the stream of member `id` is served to local
  /// players (our own channel's streamer for ourselves), if `id` is a member.
  /// Where a member's stream is served to local clients: the players
  /// endpoint of the streamer that carries it, and its channel id there.
  [[nodiscard]] std::optional<std::pair<std::string, std::uint32_t>> playersEndpoint(const std::string& id) const;
  /// What the web GUI measured for member `id`'s tile (shown in status()).
  bool reportWeb(const std::string& id, nlohmann::json stats);
  /// Camera and microphone off or on: told to our source through our
  /// channel's streamer, and again every 2 s while either is off (a
  /// restarted source must not come back on by itself).
  void setMuted(bool video, bool audio);

 private:
  void join();
  void watch();
  void apply(const nlohmann::json& members, std::int64_t version);
  void sendMute(std::int64_t nowUs);  // under mMutex

  JoinRequest mRequest;
  ConferenceSettings mSettings;
  int mNextPort;
  std::string mMemberId, mToken;
  mutable std::mutex mMutex;
  std::int64_t mVersion = 0;
  nlohmann::json mMembers = nlohmann::json::array();
  std::map<std::string, int> mPorts;  // remote member id -> our streamer's UDP port for it
  bool mBootstrapFixed = false;  // shared layout: the streamer's --bootstrap, set once
  std::map<std::string, nlohmann::json> mWeb;  // member id -> the web GUI's latest report
  bool mVideoMuted = false, mAudioMuted = false;
  std::int64_t mMuteSentUs = 0;
  zmq::context_t& mZmq;
  std::unique_ptr<zmq::socket_t> mControl;  // made on first use
  Supervisor mSupervisor;
  std::atomic<bool> mRunning{true};
  std::thread mWatcher;
};

}  // namespace partyhub::controller
