// What one participant runs for one conference, as a pure function of the
// conference's members (paper §IV, the per-source layout): its own source and
// the streamer of its own channel, and for every other member a streamer that
// joins that member's overlay plus a player. The supervisor makes the running
// processes match this plan.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace partyhub::controller {

/// Every per-source channel's id (each is an overlay of its own); the shared
/// layout's are the group manager's, 2 and up (groupmgr::kFirstAssignedChannel).
inline constexpr std::uint32_t kPerSourceChannelId = 1;

struct RemoteChannel {
  std::string memberId;
  std::string memberName;
  std::uint32_t channelId = 1;
  std::string bootstrap;  // HOST:PORT of that member's source streamer
};

struct ConferenceSettings {
  std::string group;
  std::string selfName;
  std::string binDir;            // where the partyhub-* executables are
  std::string runDir;            // ipc endpoints and logs
  std::string advertiseHost = "127.0.0.1";
  int sourcePort = 0;            // UDP port of our own channel's streamer
  std::string video = "test";
  std::string audio = "test";
  int width = 640, height = 360, fps = 30;
  int videoKbps = 1000, audioKbps = 32;
  std::string codec = "h264";    // the source's video codec: h264 | vp8
  std::string sink = "fake";     // players' sink
  int uplinkKbps = 0;            // the host's uplink, shared out as upload budgets; 0: defaults
  int emulateDelayMs = 0;        // streamers' emulated one-way delay (test beds)
  std::string childLogLevel = "warn";  // the launched processes' --log-level (their logs go to runDir)
  // per-source: a streamer per channel (paper §IV); shared: one streamer
  // carrying every channel over one signalling overlay (paper §V-A), which
  // joins through `sharedBootstrap` (fixed when first planned: a member
  // joining must not change the running streamer's command line).
  std::string layout = "per-source";
  std::uint32_t channelId = kPerSourceChannelId;  // our channel's id (shared: the group manager's, unique in the group)
  std::vector<std::string> sharedBootstrap;
};

/// Why a member cannot be watched in our layout (it chose the other one: the
/// two do not interoperate), judged by its channel id (per-source channels
/// are all 1); nothing when it is fine.
std::optional<std::string> layoutMismatch(const std::string& ourLayout, std::uint32_t theirChannelId);

struct ProcessSpec {
  std::string key;   // stable name: "source", "streamer:self", "streamer:ID", "player:ID"
  std::string exe;
  std::vector<std::string> args;
  bool operator==(const ProcessSpec& o) const { return key == o.key && exe == o.exe && args == o.args; }
};

/// The processes to run. `ports` maps each remote member id to the UDP port
/// of the streamer that joins its overlay (assigned by the caller, stable).
std::vector<ProcessSpec> planConference(const ConferenceSettings& s, const std::vector<RemoteChannel>& remotes,
                                        const std::map<std::string, int>& ports);

}  // namespace partyhub::controller
