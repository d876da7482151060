// partyhub-groupmgr as a real process over HTTP: statuses for bad requests,
// change notification, expiry, and durability across kill -9.
#include <doctest/doctest.h>

#include <httplib.h>

#include <atomic>
#include <set>
#include <nlohmann/json.hpp>

#include "process.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using partyhub::test::Process;

namespace {

struct GroupMgr {
  std::string db;
  int port;
  std::unique_ptr<Process> proc;

  GroupMgr(const std::string& tag, int portOffset, const std::string& timeoutS = "3600")
      : db(partyhub::test::tempDir() + "/" + tag + ".db"), port(partyhub::test::portBase() + portOffset) {
    start(tag, timeoutS);
  }
  void start(const std::string& tag, const std::string& timeoutS = "3600") {
    proc = std::make_unique<Process>("partyhub-groupmgr",
                                     std::vector<std::string>{"--listen", "127.0.0.1:" + std::to_string(port), "--db",
                                                              db, "--heartbeat-timeout-s", timeoutS},
                                     tag);
    httplib::Client c("127.0.0.1", port);
    for (int i = 0; i < 100; ++i) {
      if (auto r = c.Get("/v1/health"); r && r->status == 200) return;
      std::this_thread::sleep_for(50ms);
    }
    FAIL("group manager did not come up: " << proc->err());
  }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(40, 0);
    return c;
  }
};

httplib::Headers bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

json body(const httplib::Result& r) {
  REQUIRE(r);
  return r->body.empty() ? json() : json::parse(r->body);
}

json join(httplib::Client& c, const std::string& group, const std::string& name, const std::string& password = "",
          int port = 7000) {
  json req = {{"name", name}, {"channels", {{{"channel_id", 1}, {"bootstrap", "127.0.0.1:" + std::to_string(port)}}}}};
  if (!password.empty()) req["password"] = password;
  auto r = c.Post("/v1/groups/" + group + "/members", req.dump(), "application/json");
  REQUIRE(r);
  REQUIRE_MESSAGE(r->status == 201, r->body);
  return json::parse(r->body);
}

}  // namespace

TEST_CASE("group manager: bad requests get the right status and a message, and change nothing") {
  GroupMgr gm("gm-bad", 60);
  auto c = gm.client();
  REQUIRE(c.Post("/v1/groups", R"({"name":"team","password":"pw"})", "application/json")->status == 201);
  const json alice = join(c, "team", "alice", "pw");
  const std::string token = alice["token"];
  // bob holds channel 9 (a shared-layout id: one member's alone).
  REQUIRE(c.Post("/v1/groups/team/members",
                 R"({"name":"bob","password":"pw","channels":[{"channel_id":9,"bootstrap":"127.0.0.1:7001"}]})",
                 "application/json")
              ->status == 201);

  struct Case {
    const char* what;
    httplib::Result result;
    int status;
    const char* says;
  };
  const std::string big(70 * 1024, 'x');
  Case cases[] = {
      {"malformed JSON", c.Post("/v1/groups", "{nope", "application/json"), 400, "not JSON"},
      {"not an object", c.Post("/v1/groups", "[1]", "application/json"), 400, "JSON object"},
      {"oversize body", c.Post("/v1/groups", R"({"name":")" + big + R"("})", "application/json"), 400, "larger than"},
      {"missing name", c.Post("/v1/groups", "{}", "application/json"), 400, "missing \"name\""},
      {"wrong type", c.Post("/v1/groups", R"({"name":5})", "application/json"), 400, "must be a string"},
      {"existing group", c.Post("/v1/groups", R"({"name":"team"})", "application/json"), 409, "already exists"},
      {"unknown layout", c.Post("/v1/groups", R"({"name":"other","layout":"mesh"})", "application/json"), 400,
       "per-source"},
      {"the other layout", c.Post("/v1/groups/team/members", R"({"name":"x","password":"pw","layout":"shared"})",
                                  "application/json"),
       409, "runs the per-source layout"},
      {"unknown group", c.Post("/v1/groups/nope/members", R"({"name":"x"})", "application/json"), 404, "no group"},
      {"no password", c.Post("/v1/groups/team/members", R"({"name":"x"})", "application/json"), 401, "needs a password"},
      {"wrong password", c.Post("/v1/groups/team/members", R"({"name":"x","password":"no"})", "application/json"), 403,
       "wrong password"},
      {"bad channel", c.Post("/v1/groups/team/members",
                             R"({"name":"x","password":"pw","channels":[{"channel_id":1,"bootstrap":"nohost"}]})",
                             "application/json"),
       400, "HOST:PORT"},
      {"a taken channel id", c.Post("/v1/groups/team/members",
                                    R"({"name":"x","password":"pw","channels":[{"channel_id":9,"bootstrap":"h:1"}]})",
                                    "application/json"),
       409, "another member's"},
      {"no token", c.Get("/v1/groups/team/members"), 401, "Bearer"},
      {"forged token", c.Get("/v1/groups/team/members", bearer(alice["member_id"].get<std::string>() + ".forged")), 403,
       "does not match"},
      {"someone else's leave", c.Delete("/v1/groups/team/members/other", bearer(token)), 403, "only remove itself"},
  };
  for (Case& k : cases) {
    CAPTURE(k.what);
    REQUIRE(k.result);
    CHECK(k.result->status == k.status);
    CHECK(body(k.result)["error"].get<std::string>().find(k.says) != std::string::npos);
  }
  // Nothing was lost or added.
  CHECK(body(c.Get("/v1/groups/team"))["layout"] == "per-source");
  CHECK(c.Get("/v1/groups/other")->status == 404);
  const json members = body(c.Get("/v1/groups/team/members", bearer(token)));
  REQUIRE(members["members"].size() == 2);
  CHECK(members["members"][0]["name"] == "alice");
  CHECK(members["members"][1]["name"] == "bob");
  CHECK(gm.proc->running());
}

TEST_CASE("group manager: a long-polling member learns of a join and a leave within a second") {
  GroupMgr gm("gm-events", 61);
  auto c = gm.client();
  REQUIRE(c.Post("/v1/groups", R"({"name":"call"})", "application/json")->status == 201);
  const json alice = join(c, "call", "alice");
  const std::int64_t v = alice["version"];
  std::atomic<std::int64_t> tookMs{-1};
  json seen;
  std::thread poll([&] {
    auto pc = gm.client();
    const auto t0 = std::chrono::steady_clock::now();
    auto r = pc.Get("/v1/groups/call/events?since=" + std::to_string(v) + "&timeout_ms=20000",
                    bearer(alice["token"]));
    tookMs = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    if (r && r->status == 200) seen = json::parse(r->body);
  });
  std::this_thread::sleep_for(500ms);
  const auto joinedAt = std::chrono::steady_clock::now();
  const json bob = join(c, "call", "bob", "", 7100);
  poll.join();
  const auto sinceJoin =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - joinedAt).count();
  CHECK(tookMs >= 400);        // it waited for the change
  CHECK(sinceJoin < 1000);     // and answered at once
  REQUIRE(seen.contains("members"));
  CHECK(seen["members"].size() == 2);
  CHECK(seen["version"].get<std::int64_t>() > v);

  // A leave wakes it too.
  std::thread poll2([&] {
    auto pc = gm.client();
    auto r = pc.Get("/v1/groups/call/events?since=" + std::to_string(seen["version"].get<std::int64_t>()),
                    bearer(alice["token"]));
    if (r && r->status == 200) seen = json::parse(r->body);
  });
  std::this_thread::sleep_for(300ms);
  const auto leftAt = std::chrono::steady_clock::now();
  const std::string bobPath = "/v1/groups/call/members/" + bob["member_id"].get<std::string>();
  REQUIRE(c.Delete(bobPath, bearer(bob["token"]))->status == 204);
  poll2.join();
  CHECK(std::chrono::steady_clock::now() - leftAt < 1s);
  CHECK(seen["members"].size() == 1);
}

TEST_CASE("group manager: members that stop sending heartbeats expire") {
  GroupMgr gm("gm-expiry", 62, "1");
  auto c = gm.client();
  REQUIRE(c.Post("/v1/groups", R"({"name":"g"})", "application/json")->status == 201);
  const json alice = join(c, "g", "alice");
  const json bob = join(c, "g", "bob", "", 7100);
  const std::string beat = "/v1/groups/g/members/" + alice["member_id"].get<std::string>() + "/heartbeat";
  for (int i = 0; i < 8; ++i) {  // alice beats every 250 ms for 2 s; bob is silent
    REQUIRE(c.Post(beat, bearer(alice["token"]), "", "application/json")->status == 200);
    std::this_thread::sleep_for(250ms);
  }
  (void)bob;
  const json members = body(c.Get("/v1/groups/g/members", bearer(alice["token"])));
  REQUIRE(members["members"].size() == 1);
  CHECK(members["members"][0]["name"] == "alice");
}

TEST_CASE("group manager: killed with SIGKILL while members join, restarted: no acknowledged join is lost") {
  GroupMgr gm("gm-kill", 63);
  auto c = gm.client();
  REQUIRE(c.Post("/v1/groups", R"({"name":"durable","password":"pw"})", "application/json")->status == 201);
  std::vector<std::string> acked;
  std::atomic<bool> stop{false};
  std::thread joiner([&] {
    auto jc = gm.client();
    jc.set_read_timeout(2, 0);
    for (int i = 0; !stop; ++i) {
      json req = {{"name", "m" + std::to_string(i)}, {"password", "pw"},
                  {"channels", {{{"channel_id", 1}, {"bootstrap", "127.0.0.1:7000"}}}}};
      auto r = jc.Post("/v1/groups/durable/members", req.dump(), "application/json");
      if (!r) break;  // the server is gone
      if (r->status == 201) acked.push_back(json::parse(r->body)["member_id"]);
    }
  });
  std::this_thread::sleep_for(1500ms);
  gm.proc.reset();  // SIGKILL
  stop = true;
  joiner.join();
  REQUIRE(acked.size() >= 5);
  gm.start("gm-kill-2");
  auto c2 = gm.client();
  const json checker = join(c2, "durable", "checker", "pw");
  const json members = body(c2.Get("/v1/groups/durable/members", bearer(checker["token"])));
  std::set<std::string> present;
  for (const json& m : members["members"]) present.insert(m["id"].get<std::string>());
  for (const std::string& id : acked) CHECK(present.count(id) == 1);
  CHECK(members["members"].size() >= acked.size() + 1);
  MESSAGE(acked.size() << " joins acknowledged before SIGKILL, all present after restart");
}
