#include "conference_plan.hpp"

#include <algorithm>

namespace partyhub::controller {

std::optional<std::string> layoutMismatch(const std::string& ourLayout, std::uint32_t theirChannelId) {
  const bool theyShare = theirChannelId != kPerSourceChannelId;
  if ((ourLayout == "shared") == theyShare) return std::nullopt;
  return std::string("joined with the ") + (theyShare ? "shared" : "per-source") + " layout, this conference runs " +
         ourLayout + ": every member of a group must choose the same layout";
}

std::vector<ProcessSpec> planConference(const ConferenceSettings& s, const std::vector<RemoteChannel>& remotes,
                                        const std::map<std::string, int>& ports) {
  // A fixed hint of the overlay's size (conferences are small): it must not
  // follow the member count, or every join and leave would change every
  // streamer's command line and restart it.
  const std::string overlaySize = "8";
  const std::string self = s.advertiseHost + ":" + std::to_string(s.sourcePort);
  // Options every streamer of the conference shares.
  std::vector<std::string> shared = {"--overlay", "push", "--overlay-size", overlaySize, "--stats-json",
                                     "--log-level", s.childLogLevel};
  if (s.emulateDelayMs > 0) shared.insert(shared.end(), {"--emulate-delay-ms", std::to_string(s.emulateDelayMs)});
  // The streamers share one uplink, and each paces its sending at its own
  // budget. Our channel's streamer gets 75 %: the source's copies (3 of a
  // 0.55 Mbit/s stream need 1.65 Mbit/s on average) with room for keyframes,
  // which would otherwise queue the frames behind them for 200 ms. Each relay
  // gets 25 %: over-booked, which is safe because a relay sends only what its
  // delegates lack (well under one copy of each chunk on average). Fixed
  // shares, so a member joining changes no running streamer's command line.
  const int ownBudget = s.uplinkKbps * 75 / 100;
  const int relayBudget = s.uplinkKbps / 4;
  auto streamer = [&](std::vector<std::string> args, int budgetKbps) {
    args.insert(args.end(), shared.begin(), shared.end());
    if (s.uplinkKbps > 0) args.insert(args.end(), {"--upload-kbps", std::to_string(std::max(64, budgetKbps))});
    return args;
  };
  std::vector<ProcessSpec> plan;
  const std::string selfPlayers = "ipc://" + s.runDir + "/self-players.ipc";
  std::vector<std::string> selfArgs = {"--name", s.selfName, "--listen", self, "--source",
                                       "ipc://" + s.runDir + "/source.ipc", "--players", selfPlayers};
  const bool sharedLayout = s.layout == "shared";
  if (sharedLayout) {
    // One streamer for every channel: ours, and each member's, which it
    // joins when their chunks come (its players pick theirs by channel id).
    selfArgs.insert(selfArgs.end(), {"--shared", "--channel", std::to_string(s.channelId)});
    for (const std::string& b : s.sharedBootstrap) selfArgs.insert(selfArgs.end(), {"--bootstrap", b});
    if (s.uplinkKbps > 0) {
      selfArgs.insert(selfArgs.end(), {"--relay-upload-kbps", std::to_string(std::max(64, relayBudget))});
    }
  }
  plan.push_back({"streamer:self", s.binDir + "/partyhub-streamer", streamer(selfArgs, ownBudget)});
  plan.push_back({"source", s.binDir + "/partyhub-source",
                  {"--name", s.selfName, "--streamer", "ipc://" + s.runDir + "/source.ipc", "--video", s.video,
                   "--audio", s.audio, "--width", std::to_string(s.width), "--height", std::to_string(s.height),
                   "--fps", std::to_string(s.fps), "--codec", s.codec, "--video-kbps", std::to_string(s.videoKbps), "--audio-kbps",
                   std::to_string(s.audioKbps), "--stats-json", "--log-level", s.childLogLevel}});
  for (const RemoteChannel& r : remotes) {
    auto port = ports.find(r.memberId);
    if (port == ports.end()) continue;
    const std::string players = sharedLayout ? selfPlayers : "ipc://" + s.runDir + "/" + r.memberId + "-players.ipc";
    if (!sharedLayout) {
      plan.push_back({"streamer:" + r.memberId, s.binDir + "/partyhub-streamer",
                      streamer({"--name", r.memberName, "--listen",
                                s.advertiseHost + ":" + std::to_string(port->second), "--bootstrap", r.bootstrap,
                                "--channel", std::to_string(r.channelId), "--players", players},
                               relayBudget)});
    }
    plan.push_back({"player:" + r.memberId, s.binDir + "/partyhub-player",
                    {"--name", r.memberName, "--streamer", players, "--channel", std::to_string(r.channelId),
                     "--sink", s.sink, "--stats-json", "--stats-interval", "0.25", "--warmup", "3", "--log-level",
                     s.childLogLevel}});
  }
  return plan;
}

}  // namespace partyhub::controller
