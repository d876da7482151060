#include "daemon.hpp"

#include <httplib.h>

#include "partyhub/common/clock.hpp"
#include "partyhub/common/logging.hpp"

namespace partyhub::controller {

using nlohmann::json;

namespace {

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

std::string str(const json& in, const char* key, const std::string& fallback, bool required = false) {
  if (!in.contains(key)) {
    if (required) throw std::invalid_argument(std::string("missing \"") + key + "\"");
    return fallback;
  }
  if (!in[key].is_string()) throw std::invalid_argument(std::string("\"") + key + "\" must be a string");
  return in[key].get<std::string>();
}

int num(const json& in, const char* key, int fallback, int lo, int hi) {
  if (!in.contains(key)) return fallback;
  if (!in[key].is_number_integer() || in[key].get<int>() < lo || in[key].get<int>() > hi) {
    throw std::invalid_argument(std::string("\"") + key + "\" must be an integer in [" + std::to_string(lo) + ", " +
                                std::to_string(hi) + "]");
  }
  return in[key].get<int>();
}

}  // namespace

Daemon::Daemon(DaemonSettings settings) : mSettings(std::move(settings)) {
  mSupervisor = std::thread([this] { superviseLoop(); });
}

Daemon::~Daemon() {
  {
    std::lock_guard lock(mMutex);
    mConferences.clear();  // leave and stop, one by one
  }
  mRunning = false;
  mSupervisor.join();
}

void Daemon::superviseLoop() {
  // The only thread that forks children (their death signal follows it).
  while (mRunning) {
    {
      std::lock_guard lock(mMutex);
      for (auto& [group, conf] : mConferences) conf->tick(wallNowUs());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

void Daemon::install(httplib::Server& server) {
  server.Get("/v1/health", [](const httplib::Request&, httplib::Response& res) { reply(res, 200, {{"ok", true}}); });

  server.Get("/v1/conferences", [this](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(mMutex);
    json out = json::array();
    for (const auto& [group, conf] : mConferences) {
      const json st = conf->status();
      out.push_back({{"group", group}, {"name", st["name"]}, {"member_id", st["member_id"]},
                     {"members", st["members"].size()}});
    }
    reply(res, 200, out);
  });

  server.Get(R"(/v1/conferences/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mMutex);
    auto it = mConferences.find(req.matches[1]);
    if (it == mConferences.end()) return reply(res, 404, {{"error", "not in conference '" + std::string(req.matches[1]) + "'"}});
    reply(res, 200, it->second->status());
  });

  server.Post("/v1/conferences", [this](const httplib::Request& req, httplib::Response& res) {
    JoinRequest jr;
    try {
      if (req.body.size() > 64 * 1024) throw std::invalid_argument("body larger than 65536 bytes");
      const json in = json::parse(req.body);
      if (!in.is_object()) throw std::invalid_argument("body must be a JSON object");
      jr.group = str(in, "group", "", true);
      jr.name = str(in, "name", "", true);
      jr.password = str(in, "password", "");
      jr.manager = str(in, "manager", jr.manager);
      jr.video = str(in, "video", jr.video);
      jr.audio = str(in, "audio", jr.audio);
      jr.width = num(in, "width", jr.width, 16, 7680);
      jr.height = num(in, "height", jr.height, 16, 4320);
      jr.fps = num(in, "fps", jr.fps, 1, 120);
      jr.videoKbps = num(in, "video_kbps", jr.videoKbps, 16, 50000);
      jr.audioKbps = num(in, "audio_kbps", jr.audioKbps, 6, 510);
      if (jr.group.empty() || jr.group.find('/') != std::string::npos) throw std::invalid_argument("bad group name");
    } catch (const json::parse_error& e) {
      return reply(res, 400, {{"error", std::string("body is not JSON: ") + e.what()}});
    } catch (const std::invalid_argument& e) {
      return reply(res, 400, {{"error", e.what()}});
    }
    int block = 0;
    {
      std::lock_guard lock(mMutex);
      if (mConferences.count(jr.group) || mJoining.count(jr.group)) {
        return reply(res, 409, {{"error", "already in conference '" + jr.group + "'"}});
      }
      mJoining.insert(jr.group);
      block = mSettings.portBase + 100 * mNextBlock++;
    }
    // Joining talks to the group manager (seconds when it is unreachable):
    // not under the lock the supervising thread needs.
    struct Unmark {
      Daemon* d;
      std::string group;
      ~Unmark() {
        std::lock_guard lock(d->mMutex);
        d->mJoining.erase(group);
      }
    } unmark{this, jr.group};
    try {
      auto conf = std::make_unique<Conference>(jr, mSettings, block);
      json st = conf->status();
      std::lock_guard lock(mMutex);
      mConferences.emplace(jr.group, std::move(conf));
      reply(res, 201, st);
    } catch (const ManagerError& e) {
      reply(res, e.status, {{"error", e.what()}});
    } catch (const std::exception& e) {
      reply(res, 500, {{"error", e.what()}});
    }
  });

  server.Delete(R"(/v1/conferences/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    std::unique_ptr<Conference> leaving;
    {
      std::lock_guard lock(mMutex);
      auto it = mConferences.find(req.matches[1]);
      if (it == mConferences.end()) return reply(res, 404, {{"error", "not in conference '" + std::string(req.matches[1]) + "'"}});
      leaving = std::move(it->second);
      mConferences.erase(it);
    }
    leaving.reset();  // leaves the group, stops the processes
    res.status = 204;
  });
}

}  // namespace partyhub::controller
