#include "conference.hpp"

#include <httplib.h>
#include <sys/stat.h>

#include <fstream>

#include "partyhub/common/clock.hpp"
#include "partyhub/common/logging.hpp"
#include "partyhub/v1/local.pb.h"

namespace partyhub::controller {

using nlohmann::json;

namespace {

httplib::Client managerClient(const std::string& url) {
  httplib::Client c(url);
  c.set_connection_timeout(2, 0);
  c.set_read_timeout(10, 0);
  return c;
}

std::string errorOf(const httplib::Result& r) {
  if (!r) return "group manager unreachable (" + httplib::to_string(r.error()) + ")";
  try {
    return json::parse(r->body).value("error", r->body);
  } catch (const std::exception&) {
    return "HTTP " + std::to_string(r->status);
  }
}

// The last JSON statistics line of a (growing) log file.
json lastStats(const std::string& path, const char* key) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return nullptr;
  const std::streamoff size = in.tellg();
  const std::streamoff from = std::max<std::streamoff>(0, size - 8192);
  in.seekg(from);
  std::string tail(static_cast<std::size_t>(size - from), '\0');
  in.read(tail.data(), static_cast<std::streamsize>(tail.size()));
  std::size_t end = tail.size();
  while (end > 0) {
    const std::size_t start = tail.rfind('\n', end - 1);
    const std::string line = tail.substr(start == std::string::npos ? 0 : start + 1,
                                         end - (start == std::string::npos ? 0 : start + 1));
    if (line.find(std::string("\"") + key + "\"") != std::string::npos) {
      try {
        // With the time the process took them (Stats.wall_us): a rate over
        // two readings must divide by their own interval, not the reader's.
        const json stats = json::parse(line);
        json inner = stats.at(key);
        if (stats.contains("wall_us")) inner["wall_us"] = stats["wall_us"];
        return inner;
      } catch (const std::exception&) {
      }
    }
    if (start == std::string::npos) break;
    end = start;
  }
  return nullptr;
}

}  // namespace

Conference::Conference(JoinRequest request, const DaemonSettings& daemon, int portBlock, zmq::context_t& zmq)
    : mRequest(std::move(request)),
      mNextPort(portBlock + 1),
      mZmq(zmq),
      mSupervisor(daemon.runDir + "/" + mRequest.group) {
  mSettings.group = mRequest.group;
  mSettings.selfName = mRequest.name;
  mSettings.binDir = daemon.binDir;
  mSettings.runDir = daemon.runDir + "/" + mRequest.group;
  mSettings.advertiseHost = daemon.advertiseHost;
  mSettings.sourcePort = portBlock;
  mSettings.video = mRequest.video;
  mSettings.audio = mRequest.audio;
  mSettings.width = mRequest.width;
  mSettings.height = mRequest.height;
  mSettings.fps = mRequest.fps;
  mSettings.sink = daemon.sink;
  mSettings.videoKbps = mRequest.videoKbps;
  mSettings.codec = mRequest.codec;
  mSettings.audioKbps = mRequest.audioKbps;
  mSettings.uplinkKbps = daemon.uplinkKbps;
  mSettings.emulateDelayMs = daemon.emulateDelayMs;
  mSettings.childLogLevel = daemon.childLogLevel;
  mkdir(mSettings.runDir.c_str(), 0755);
  join();
  mWatcher = std::thread([this] { watch(); });
}

Conference::~Conference() {
  mRunning = false;
  if (mWatcher.joinable()) mWatcher.join();
  auto c = managerClient(mRequest.manager);
  auto r = c.Delete("/v1/groups/" + mRequest.group + "/members/" + mMemberId,
                    {{"Authorization", "Bearer " + mToken}});
  if (!r || r->status != 204) logger("controller")->warn("leaving {}: {}", mRequest.group, errorOf(r));
  std::lock_guard lock(mMutex);
  mSupervisor.stopAll();
}

void Conference::join() {
  auto c = managerClient(mRequest.manager);
  // The group's layout: ours if we create it, else what its creator chose.
  json group = {{"name", mRequest.group}, {"layout", mRequest.layout.empty() ? "per-source" : mRequest.layout}};
  if (!mRequest.password.empty()) group["password"] = mRequest.password;
  auto created = c.Post("/v1/groups", group.dump(), "application/json");
  if (!created || (created->status != 201 && created->status != 409)) {
    throw ManagerError(created ? created->status : 502, errorOf(created));
  }
  std::string layout = group["layout"];
  if (created->status == 409) {
    auto existing = c.Get("/v1/groups/" + mRequest.group);
    if (!existing || existing->status != 200) throw ManagerError(existing ? existing->status : 502, errorOf(existing));
    layout = json::parse(existing->body).value("layout", "per-source");  // managers before layouts: per-source
  }
  if (!mRequest.layout.empty() && mRequest.layout != layout) {
    throw ManagerError(409, "group '" + mRequest.group + "' runs the " + layout +
                                " layout; join it with that layout (or without choosing one)");
  }
  // Per-source: every channel is 1 (an overlay each). Shared: the group
  // manager hands out a small id (it goes with every chunk), which we keep
  // when we join again, so our running streamer's command line stands.
  std::uint32_t channelId = kPerSourceChannelId;
  if (layout == "shared") channelId = mSettings.channelId > kPerSourceChannelId ? mSettings.channelId : 0;
  auto ask = [&](std::uint32_t id) {
    json req = {{"name", mRequest.name},
                {"channels", {{{"channel_id", id},
                               {"bootstrap", mSettings.advertiseHost + ":" + std::to_string(mSettings.sourcePort)},
                               {"kind", "camera"}}}},
                {"layout", layout}};
    if (!mRequest.password.empty()) req["password"] = mRequest.password;
    return c.Post("/v1/groups/" + mRequest.group + "/members", req.dump(), "application/json");
  };
  auto r = ask(channelId);
  if (r && r->status == 409 && channelId > kPerSourceChannelId) {
    logger("controller")->warn("{}: {}; asking for a new channel id", mRequest.group, errorOf(r));
    r = ask(channelId = 0);
  }
  if (!r || r->status != 201) throw ManagerError(r ? r->status : 502, errorOf(r));
  const json j = json::parse(r->body);
  if (channelId == 0) {
    // Ours is in the member list the manager answers with.
    for (const json& m : j["members"]) {
      if (m["id"] != j["member_id"]) continue;
      for (const json& ch : m["channels"]) channelId = ch.value("channel_id", 0u);
    }
    if (channelId <= kPerSourceChannelId) throw ManagerError(502, "the group manager gave us no channel id");
  }
  {
    std::lock_guard lock(mMutex);  // a rejoin runs on the watcher while status() reads these
    mSettings.layout = layout;
    mSettings.channelId = channelId;
    mMemberId = j["member_id"];
    mToken = j["token"];
  }
  apply(j["members"], j["version"]);
  logger("controller")->info("joined {} as {} ({} members)", mRequest.group, mMemberId, j["members"].size());
}

void Conference::apply(const json& members, std::int64_t version) {
  std::lock_guard lock(mMutex);
  logger("controller")->debug("{}: version {}, {} members", mRequest.group, version, members.size());
  mVersion = version;
  mMembers = members;
  std::vector<RemoteChannel> remotes;
  for (const json& m : members) {
    if (m["id"] == mMemberId) continue;
    for (const json& ch : m["channels"]) {
      remotes.push_back({m["id"], m["name"], ch["channel_id"], ch["bootstrap"]});
    }
    if (!mPorts.count(m["id"])) mPorts[m["id"]] = mNextPort++;
  }
  if (mSettings.layout == "shared" && !mBootstrapFixed) {
    // The shared streamer joins through whoever is here when it first
    // starts; later members find it through them (and gossip).
    for (const RemoteChannel& r : remotes) mSettings.sharedBootstrap.push_back(r.bootstrap);
    mBootstrapFixed = true;
  }
  mSupervisor.setPlan(planConference(mSettings, remotes, mPorts));
}

void Conference::watch() {
  auto log = logger("controller");
  while (mRunning) {
    auto c = managerClient(mRequest.manager);
    const httplib::Headers auth{{"Authorization", "Bearer " + mToken}};
    auto beat = c.Post("/v1/groups/" + mRequest.group + "/members/" + mMemberId + "/heartbeat", auth, "",
                       "application/json");
    if (beat && beat->status == 404) {
      log->warn("{}: the group manager forgot us; joining again", mRequest.group);
      try {
        join();
      } catch (const std::exception& e) {
        log->warn("{}: rejoin failed: {}", mRequest.group, e.what());
      }
      continue;
    }
    std::int64_t since;
    {
      std::lock_guard lock(mMutex);
      since = mVersion;
    }
    // A short long-poll: it doubles as the heartbeat period and bounds how
    // long leaving takes.
    auto r = c.Get("/v1/groups/" + mRequest.group + "/events?since=" + std::to_string(since) + "&timeout_ms=1500",
                   auth);
    if (r && r->status == 200) {
      const json j = json::parse(r->body, nullptr, false);
      if (!j.is_discarded() && j.value("version", since) != since) apply(j["members"], j["version"]);
    } else {
      log->warn("{}: {}", mRequest.group, errorOf(r));
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
}

void Conference::tick(std::int64_t nowUs) {
  std::lock_guard lock(mMutex);
  mSupervisor.tick(nowUs);
  if ((mVideoMuted || mAudioMuted) && nowUs - mMuteSentUs >= 2'000'000) sendMute(nowUs);
}

void Conference::setMuted(bool video, bool audio) {
  std::lock_guard lock(mMutex);
  mVideoMuted = video;
  mAudioMuted = audio;
  sendMute(wallNowUs());
}

void Conference::sendMute(std::int64_t nowUs) {
  // As a local player of our channel's source streamer, which passes a mute
  // request on to its source (and refuses one from anywhere else).
  if (!mControl) {
    mControl = std::make_unique<zmq::socket_t>(mZmq, zmq::socket_type::dealer);
    mControl->set(zmq::sockopt::linger, 0);
    mControl->set(zmq::sockopt::sndhwm, 16);
    mControl->connect("ipc://" + mSettings.runDir + "/self-players.ipc");
  }
  v1::PlayerToStreamer msg;
  msg.mutable_control()->mutable_mute()->set_video(mVideoMuted);
  msg.mutable_control()->mutable_mute()->set_audio(mAudioMuted);
  (void)mControl->send(zmq::buffer(msg.SerializeAsString()), zmq::send_flags::dontwait);
  mMuteSentUs = nowUs;
}

std::optional<std::pair<std::string, std::uint32_t>> Conference::playersEndpoint(const std::string& id) const {
  std::lock_guard lock(mMutex);
  const std::string self = "ipc://" + mSettings.runDir + "/self-players.ipc";
  if (id == mMemberId) return std::pair{self, mSettings.channelId};
  for (const json& m : mMembers) {
    if (m["id"] != id) continue;
    if (mSettings.layout != "shared") {
      return std::pair{"ipc://" + mSettings.runDir + "/" + id + "-players.ipc", kPerSourceChannelId};
    }
    // Every channel comes from our one streamer: the member's by its id.
    const json& channels = m["channels"];
    if (channels.empty()) return std::nullopt;
    return std::pair{self, channels[0].value("channel_id", kPerSourceChannelId)};
  }
  return std::nullopt;
}

bool Conference::reportWeb(const std::string& id, json stats) {
  std::lock_guard lock(mMutex);
  for (const json& m : mMembers) {
    if (m["id"] == id) {
      stats["at_us"] = wallNowUs();
      mWeb[id] = std::move(stats);
      return true;
    }
  }
  return false;
}

json Conference::status() const {
  std::lock_guard lock(mMutex);
  const auto children = mSupervisor.status();
  json members = json::array();
  for (const json& m : mMembers) {
    const std::string id = m["id"];
    const bool self = id == mMemberId;
    json procs = json::array();
    json player = nullptr, streamer = nullptr, source = nullptr;
    for (const ChildStatus& c : children) {
      const bool mine = self ? (c.key == "source" || c.key == "streamer:self")
                             : (c.key == "streamer:" + id || c.key == "player:" + id);
      if (!mine) continue;
      procs.push_back({{"key", c.key}, {"pid", c.pid}, {"state", c.state}, {"restarts", c.restarts}});
      if (c.key == "player:" + id) player = lastStats(c.stdoutPath, "player");
      if (self && c.key == "source") source = lastStats(c.stdoutPath, "source");
      if (c.key == "streamer:" + id || (self && c.key == "streamer:self")) streamer = lastStats(c.stdoutPath, "streamer");
    }
    auto web = mWeb.find(id);
    json problem = nullptr;
    if (!self && !m["channels"].empty()) {
      if (auto why = layoutMismatch(mSettings.layout, m["channels"][0].value("channel_id", kPerSourceChannelId))) {
        problem = *why;
      }
    }
    members.push_back({{"id", id}, {"name", m["name"]}, {"self", self}, {"processes", procs}, {"player", player},
                       {"streamer", streamer}, {"source", source}, {"web", web == mWeb.end() ? json(nullptr) : web->second},
                       {"problem", problem}});
  }
  return {{"group", mRequest.group}, {"member_id", mMemberId}, {"name", mRequest.name}, {"version", mVersion},
          {"layout", mSettings.layout},
          {"muted", {{"video", mVideoMuted}, {"audio", mAudioMuted}}}, {"members", members}};
}

}  // namespace partyhub::controller
