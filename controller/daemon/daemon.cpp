#include "daemon.hpp"

#include <httplib.h>

#include <algorithm>

#include "media_feed.hpp"
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
  mStreaming = false;  // ends the web GUI's media streams
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

Conference* Daemon::conferenceOr404(const std::string& group, httplib::Response& res) {
  auto it = mConferences.find(group);
  if (it != mConferences.end()) return it->second.get();
  reply(res, 404, {{"error", "not in conference '" + group + "'"}});
  return nullptr;
}

std::optional<std::pair<std::string, std::uint32_t>> Daemon::streamOr404(const std::string& group,
                                                                        const std::string& member,
                                                                        httplib::Response& res) {
  std::optional<std::pair<std::string, std::uint32_t>> endpoint;
  {
    std::lock_guard lock(mMutex);
    Conference* conf = conferenceOr404(group, res);
    if (conf == nullptr) return std::nullopt;
    endpoint = conf->playersEndpoint(member);
  }
  if (!endpoint) reply(res, 404, {{"error", "no member '" + member + "'"}});
  return endpoint;
}

bool Daemon::stillMember(const std::string& group, const std::string& member) {
  std::lock_guard lock(mMutex);
  auto it = mConferences.find(group);
  return it != mConferences.end() && it->second->playersEndpoint(member).has_value();
}

void Daemon::installWeb(httplib::Server& server) {
  // A member's stream for the page (see media_feed.hpp), as long as the page
  // reads it: one tap, and one of the server's threads, per open stream.
  server.Get(R"(/v1/conferences/([^/]+)/members/([^/]+)/media)", [this](const httplib::Request& req,
                                                                         httplib::Response& res) {
    const auto endpoint = streamOr404(req.matches[1], req.matches[2], res);
    if (!endpoint) return;
    auto feed = std::make_shared<MediaFeed>(mZmq, endpoint->first, endpoint->second);
    const std::string group = req.matches[1], member = req.matches[2];
    res.set_header("Cache-Control", "no-store");
    res.set_chunked_content_provider("application/octet-stream", [this, feed, group, member](std::size_t,
                                                                                              httplib::DataSink& sink) {
      // A stream holds one of the server's threads: it must end when the page
      // goes away or the member does, even while no media flows. A write is
      // the only way to learn the page went: when idle, send a keep-alive
      // (an empty record) every second; check membership as often.
      std::string out;
      for (int idle = 0; out.empty() && mStreaming; ++idle) {
        feed->poll(std::chrono::milliseconds(200), out);
        if (out.empty() && idle % 5 == 4) {
          if (!stillMember(group, member)) {
            sink.done();  // a clean end of the chunked response
            return true;
          }
          appendKeepAlive(out);
        }
      }
      return mStreaming && sink.write(out.data(), out.size());
    });
  });

  // The page's own measurements of a tile: glass-to-glass latency (capture to
  // drawn), frames drawn; shown in the conference status as "web".
  server.Post(R"(/v1/conferences/([^/]+)/members/([^/]+)/web-stats)", [this](const httplib::Request& req,
                                                                               httplib::Response& res) {
    json in;
    try {
      if (req.body.size() > 16 * 1024) throw std::invalid_argument("body larger than 16384 bytes");
      in = json::parse(req.body);
      if (!in.is_object()) throw std::invalid_argument("body must be a JSON object");
    } catch (const std::exception& e) {
      return reply(res, 400, {{"error", std::string("bad web stats: ") + e.what()}});
    }
    std::lock_guard lock(mMutex);
    Conference* conf = conferenceOr404(req.matches[1], res);
    if (conf == nullptr) return;
    if (!conf->reportWeb(req.matches[2], std::move(in))) {
      return reply(res, 404, {{"error", "no member '" + std::string(req.matches[2]) + "'"}});
    }
    res.status = 204;
  });

  // A keyframe for a member's stream, now: the page asks when it starts a
  // tile or has skipped frames to stay live (else it waits up to a GOP).
  server.Post(R"(/v1/conferences/([^/]+)/members/([^/]+)/keyframe)", [this](const httplib::Request& req,
                                                                              httplib::Response& res) {
    const auto endpoint = streamOr404(req.matches[1], req.matches[2], res);
    if (!endpoint) return;
    try {
      requestKeyframe(mZmq, endpoint->first, endpoint->second, "web");
    } catch (const std::exception& e) {
      return reply(res, 503, {{"error", std::string("cannot reach the member's streamer: ") + e.what()}});
    }
    reply(res, 202, {{"requested", true}});
  });

  // Camera and microphone off or on: {"video": bool, "audio": bool}.
  server.Post(R"(/v1/conferences/([^/]+)/mute)", [this](const httplib::Request& req, httplib::Response& res) {
    bool video = false, audio = false;
    try {
      if (req.body.size() > 1024) throw std::invalid_argument("body larger than 1024 bytes");
      const json in = json::parse(req.body);
      if (!in.is_object()) throw std::invalid_argument("body must be a JSON object");
      for (const char* key : {"video", "audio"}) {
        if (in.contains(key) && !in[key].is_boolean()) throw std::invalid_argument(std::string("\"") + key + "\" must be true or false");
      }
      video = in.value("video", false);
      audio = in.value("audio", false);
    } catch (const std::exception& e) {
      return reply(res, 400, {{"error", std::string("bad mute request: ") + e.what()}});
    }
    std::lock_guard lock(mMutex);
    Conference* conf = conferenceOr404(req.matches[1], res);
    if (conf == nullptr) return;
    conf->setMuted(video, audio);
    reply(res, 200, {{"video", video}, {"audio", audio}});
  });

  if (!mSettings.webRoot.empty() && !server.set_mount_point("/", mSettings.webRoot)) {
    logger("controller")->warn("no web GUI: cannot serve {}", mSettings.webRoot);
  }
}

void Daemon::install(httplib::Server& server) {
  installWeb(server);
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
    Conference* conf = conferenceOr404(req.matches[1], res);
    if (conf == nullptr) return;
    reply(res, 200, conf->status());
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
      jr.codec = str(in, "codec", jr.codec);
      if (jr.codec != "h264" && jr.codec != "vp8") throw std::invalid_argument("\"codec\" must be \"h264\" or \"vp8\"");
      jr.layout = str(in, "layout", jr.layout);
      if (!jr.layout.empty() && jr.layout != "per-source" && jr.layout != "shared") {
        throw std::invalid_argument("\"layout\" must be \"per-source\" or \"shared\" (or left out: the group's)");
      }
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
      // The lowest block of 100 ports no conference holds: blocks come back
      // when a conference is left (or its join fails).
      auto taken = [&](int b) {
        return std::any_of(mBlocks.begin(), mBlocks.end(), [&](const auto& gb) { return gb.second == b; });
      };
      block = mSettings.portBase;
      while (taken(block)) block += 100;
      if (block + 99 > 65535) return reply(res, 503, {{"error", "no free UDP ports for another conference"}});
      mJoining.insert(jr.group);
      mBlocks[jr.group] = block;
    }
    // Joining talks to the group manager (seconds when it is unreachable):
    // not under the lock the supervising thread needs.
    struct Unmark {
      Daemon* d;
      std::string group;
      ~Unmark() {
        std::lock_guard lock(d->mMutex);
        d->mJoining.erase(group);
        if (d->mConferences.count(group) == 0) d->mBlocks.erase(group);  // the join failed
      }
    } unmark{this, jr.group};
    try {
      auto conf = std::make_unique<Conference>(jr, mSettings, block, mZmq);
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
      mBlocks.erase(req.matches[1]);
    }
    leaving.reset();  // leaves the group, stops the processes
    res.status = 204;
  });
}

}  // namespace partyhub::controller
