#include "conference_plan.hpp"

namespace partyhub::controller {

std::vector<ProcessSpec> planConference(const ConferenceSettings& s, const std::vector<RemoteChannel>& remotes,
                                        const std::map<std::string, int>& ports) {
  // A fixed hint of the overlay's size (conferences are small): it must not
  // follow the member count, or every join and leave would change every
  // streamer's command line and restart it.
  const std::string overlaySize = "8";
  const std::string self = s.advertiseHost + ":" + std::to_string(s.sourcePort);
  std::vector<ProcessSpec> plan;
  plan.push_back({"streamer:self", s.binDir + "/partyhub-streamer",
                  {"--name", s.selfName, "--listen", self, "--overlay", "push", "--source",
                   "ipc://" + s.runDir + "/source.ipc", "--players", "ipc://" + s.runDir + "/self-players.ipc",
                   "--overlay-size", overlaySize, "--stats-json", "--log-level", "warn"}});
  plan.push_back({"source", s.binDir + "/partyhub-source",
                  {"--name", s.selfName, "--streamer", "ipc://" + s.runDir + "/source.ipc", "--video", s.video,
                   "--audio", s.audio, "--width", std::to_string(s.width), "--height", std::to_string(s.height),
                   "--fps", std::to_string(s.fps), "--log-level", "warn"}});
  for (const RemoteChannel& r : remotes) {
    auto port = ports.find(r.memberId);
    if (port == ports.end()) continue;
    const std::string players = "ipc://" + s.runDir + "/" + r.memberId + "-players.ipc";
    plan.push_back({"streamer:" + r.memberId, s.binDir + "/partyhub-streamer",
                    {"--name", r.memberName, "--listen", s.advertiseHost + ":" + std::to_string(port->second),
                     "--overlay", "push", "--bootstrap", r.bootstrap, "--channel", std::to_string(r.channelId),
                     "--players", players, "--overlay-size", overlaySize, "--stats-json", "--log-level", "warn"}});
    plan.push_back({"player:" + r.memberId, s.binDir + "/partyhub-player",
                    {"--name", r.memberName, "--streamer", players, "--channel", std::to_string(r.channelId),
                     "--sink", s.sink, "--stats-json", "--stats-interval", "0.1", "--warmup", "3", "--log-level", "warn"}});
  }
  return plan;
}

}  // namespace partyhub::controller
