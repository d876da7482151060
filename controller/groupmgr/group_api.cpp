#include "group_api.hpp"

#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "partyhub/common/clock.hpp"

namespace partyhub::groupmgr {

namespace {

using nlohmann::json;

// A request the client got wrong: becomes 400 with its message.
struct BadRequest : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Missing credentials: 401.
struct Unauthorized : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

int statusOf(StoreError e) {
  switch (e) {
    case StoreError::kNotFound: return 404;
    case StoreError::kExists: return 409;
    case StoreError::kBadPassword: return 403;
    case StoreError::kBadToken: return 403;
    case StoreError::kInvalid: return 400;
    case StoreError::kConflict: return 409;
  }
  return 500;
}

json toJson(const GroupInfo& g) {
  return {{"name", g.name},       {"layout", g.layout},   {"has_password", g.hasPassword},
          {"members", g.members}, {"version", g.version}};
}

json toJson(const Member& m) {
  json channels = json::array();
  for (const Channel& c : m.channels) {
    channels.push_back({{"channel_id", c.channelId}, {"bootstrap", c.bootstrap}, {"kind", c.kind}});
  }
  return {{"id", m.id}, {"name", m.name}, {"joined_us", m.joinedUs}, {"last_heartbeat_us", m.lastBeatUs},
          {"channels", channels}};
}

json toJson(const std::vector<Member>& ms) {
  json out = json::array();
  for (const Member& m : ms) out.push_back(toJson(m));
  return out;
}

std::string stringField(const json& body, const char* key, bool required) {
  if (!body.contains(key)) {
    if (required) throw BadRequest(std::string("missing \"") + key + "\"");
    return {};
  }
  if (!body[key].is_string()) throw BadRequest(std::string("\"") + key + "\" must be a string");
  return body[key].get<std::string>();
}

// Bearer MEMBER_ID.SECRET -> {member id, secret}.
std::pair<std::string, std::string> credentials(const httplib::Request& req) {
  const std::string auth = req.get_header_value("Authorization");
  const std::string prefix = "Bearer ";
  if (auth.rfind(prefix, 0) != 0) throw Unauthorized("missing \"Authorization: Bearer <token>\"");
  const std::string token = auth.substr(prefix.size());
  const auto dot = token.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == token.size()) throw Unauthorized("malformed token");
  return {token.substr(0, dot), token.substr(dot + 1)};
}

}  // namespace

GroupApi::GroupApi(GroupStore& store, ApiConfig config) : mStore(store), mConfig(config) {}

void GroupApi::expire(std::int64_t nowUs) {
  std::lock_guard lock(mMutex);
  if (!mStore.expire(nowUs, mConfig.heartbeatTimeoutUs).empty()) mChanged.notify_all();
}

void GroupApi::wakeAll() {
  std::lock_guard lock(mMutex);
  mChanged.notify_all();
}

void GroupApi::install(httplib::Server& server) {
  // Every handler runs through here: body checks, JSON parsing, and the
  // mapping of failures to statuses.
  auto handle = [this](auto body) {
    return [this, body](const httplib::Request& req, httplib::Response& res) {
      try {
        if (req.body.size() > mConfig.maxBodyBytes) {
          throw BadRequest("body larger than " + std::to_string(mConfig.maxBodyBytes) + " bytes");
        }
        json in = json::object();
        if (!req.body.empty()) {
          try {
            in = json::parse(req.body);
          } catch (const json::parse_error& e) {
            throw BadRequest(std::string("body is not JSON: ") + e.what());
          }
          if (!in.is_object()) throw BadRequest("body must be a JSON object");
        }
        body(req, res, in);
      } catch (const BadRequest& e) {
        reply(res, 400, {{"error", e.what()}});
      } catch (const Unauthorized& e) {
        res.set_header("WWW-Authenticate", "Bearer");
        reply(res, 401, {{"error", e.what()}});
      } catch (const StoreFailure& e) {
        reply(res, statusOf(e.code()), {{"error", e.what()}});
      } catch (const std::exception& e) {
        reply(res, 500, {{"error", e.what()}});
      }
    };
  };
  auto changed = [this] { mChanged.notify_all(); };

  server.Get("/v1/health", handle([](const httplib::Request&, httplib::Response& res, const json&) {
               reply(res, 200, {{"ok", true}});
             }));

  server.Get("/v1/groups", handle([this](const httplib::Request&, httplib::Response& res, const json&) {
               std::lock_guard lock(mMutex);
               json out = json::array();
               for (const GroupInfo& g : mStore.groups()) out.push_back(toJson(g));
               reply(res, 200, out);
             }));

  server.Post("/v1/groups", handle([this](const httplib::Request&, httplib::Response& res, const json& in) {
                const std::string name = stringField(in, "name", true);
                const std::string password = stringField(in, "password", false);
                std::string layout = stringField(in, "layout", false);
                if (layout.empty()) layout = "per-source";
                std::lock_guard lock(mMutex);
                reply(res, 201, toJson(mStore.createGroup(name, password, wallNowUs(), layout)));
              }));

  server.Get(R"(/v1/groups/([^/]+))", handle([this](const httplib::Request& req, httplib::Response& res, const json&) {
               std::lock_guard lock(mMutex);
               reply(res, 200, toJson(mStore.group(req.matches[1])));
             }));

  server.Post(R"(/v1/groups/([^/]+)/members)",
              handle([this, changed](const httplib::Request& req, httplib::Response& res, const json& in) {
                const std::string name = stringField(in, "name", true);
                const std::string password = stringField(in, "password", false);
                const std::string layout = stringField(in, "layout", false);  // if given, must be the group's
                std::vector<Channel> channels;
                if (in.contains("channels")) {
                  if (!in["channels"].is_array()) throw BadRequest("\"channels\" must be a list");
                  for (const json& c : in["channels"]) {
                    if (!c.is_object()) throw BadRequest("a channel must be an object");
                    Channel ch;
                    if (!c.contains("channel_id") || !c["channel_id"].is_number_unsigned()) {
                      throw BadRequest("a channel needs \"channel_id\", an unsigned number");
                    }
                    ch.channelId = c["channel_id"].get<std::uint32_t>();
                    ch.bootstrap = stringField(c, "bootstrap", true);
                    ch.kind = stringField(c, "kind", false);
                    channels.push_back(std::move(ch));
                  }
                }
                std::lock_guard lock(mMutex);
                const GroupInfo g = mStore.group(req.matches[1]);
                if (g.hasPassword && password.empty()) throw Unauthorized("group '" + g.name + "' needs a password");
                const Joined j = mStore.join(g.name, password, name, channels, wallNowUs(), layout);
                changed();
                reply(res, 201, {{"member_id", j.member.id}, {"token", j.member.id + "." + j.token}, {"layout", g.layout},
                                 {"version", j.version}, {"heartbeat_timeout_ms", mConfig.heartbeatTimeoutUs / 1000},
                                 {"members", toJson(mStore.members(g.name, j.member.id, j.token))}});
              }));

  server.Get(R"(/v1/groups/([^/]+)/members)",
             handle([this](const httplib::Request& req, httplib::Response& res, const json&) {
               const auto [id, secret] = credentials(req);
               std::lock_guard lock(mMutex);
               const GroupInfo g = mStore.group(req.matches[1]);
               reply(res, 200, {{"version", g.version}, {"members", toJson(mStore.members(g.name, id, secret))}});
             }));

  server.Delete(R"(/v1/groups/([^/]+)/members/([^/]+))",
                handle([this, changed](const httplib::Request& req, httplib::Response& res, const json&) {
                  const auto [id, secret] = credentials(req);
                  if (id != req.matches[2]) {
                    throw StoreFailure(StoreError::kBadToken, "a member can only remove itself");
                  }
                  std::lock_guard lock(mMutex);
                  mStore.leave(req.matches[1], id, secret);
                  changed();
                  res.status = 204;
                }));

  server.Post(R"(/v1/groups/([^/]+)/members/([^/]+)/heartbeat)",
              handle([this](const httplib::Request& req, httplib::Response& res, const json&) {
                const auto [id, secret] = credentials(req);
                if (id != req.matches[2]) throw StoreFailure(StoreError::kBadToken, "token is for another member");
                std::lock_guard lock(mMutex);
                mStore.heartbeat(req.matches[1], id, secret, wallNowUs());
                reply(res, 200, {{"version", mStore.group(req.matches[1]).version}});
              }));

  // Long-poll: answers as soon as the group's version passes `since` (a
  // join, a leave, an expiry), or after `timeout_ms` with the same version.
  server.Get(R"(/v1/groups/([^/]+)/events)",
             handle([this](const httplib::Request& req, httplib::Response& res, const json&) {
               const auto [id, secret] = credentials(req);
               std::int64_t since = 0, timeoutMs = 25'000;
               try {
                 if (req.has_param("since")) since = std::stoll(req.get_param_value("since"));
                 if (req.has_param("timeout_ms")) timeoutMs = std::stoll(req.get_param_value("timeout_ms"));
               } catch (const std::exception&) {
                 throw BadRequest("since and timeout_ms must be integers");
               }
               timeoutMs = std::clamp<std::int64_t>(timeoutMs, 0, mConfig.maxLongPollUs / 1000);
               const std::string group = req.matches[1];
               std::unique_lock lock(mMutex);
               (void)mStore.members(group, id, secret);  // authenticates
               const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeoutMs);
               while (mStore.group(group).version <= since &&
                      mChanged.wait_until(lock, until) != std::cv_status::timeout) {
               }
               const GroupInfo g = mStore.group(group);
               reply(res, 200, {{"version", g.version}, {"members", toJson(mStore.members(group, id, secret))}});
             }));
}

}  // namespace partyhub::groupmgr
