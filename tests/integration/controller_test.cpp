// Conferences through partyhub-controller: real daemons, a real group
// manager, every process on loopback, driven by the controller's CLI.
#include <doctest/doctest.h>

#include <httplib.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include "process.hpp"

using namespace std::chrono_literals;
using nlohmann::json;
using partyhub::test::Process;

namespace {

struct Participant {
  std::string name;
  int apiPort;
  std::string runDir;
  std::unique_ptr<Process> daemon;

  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(apiPort); }
  json status() const {
    httplib::Client c("127.0.0.1", apiPort);
    auto r = c.Get("/v1/conferences/meet");
    return r && r->status == 200 ? json::parse(r->body) : json();
  }
  // This participant's view of `member`: its member entry, or null.
  json member(const std::string& who) const {
    const json st = status();
    if (!st.contains("members")) return nullptr;
    for (const json& m : st["members"]) {
      if (m["name"] == who) return m;
    }
    return nullptr;
  }
  std::int64_t rendered(const std::string& who) const {
    const json m = member(who);
    if (m.is_null() || !m["player"].is_object()) return -1;
    return std::stoll(m["player"].value("frames_rendered", "0"));
  }
};

int runCli(const std::vector<std::string>& args, const std::string& tag) {
  Process cli("partyhub-controller", args, tag);
  return cli.wait(30s).value_or(-1);
}

template <typename Pred>
std::optional<std::chrono::milliseconds> waitFor(Pred pred, std::chrono::milliseconds limit) {
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < limit) {
    if (pred()) return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    std::this_thread::sleep_for(100ms);
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("a conference through the controllers: all streams play, a joiner plays at once, a crash heals, a leaver is gone, the group manager restarts") {
  const std::string dir = partyhub::test::tempDir();
  const int base = partyhub::test::portBase();
  const int udpBase = 40000 + (getpid() % 50) * 400;  // 100 UDP ports per participant
  const std::string manager = "http://127.0.0.1:" + std::to_string(base + 70);
  const std::vector<std::string> gmArgs{"--listen", "127.0.0.1:" + std::to_string(base + 70), "--db",
                                       dir + "/ctl-gm.db"};
  auto gm = std::make_unique<Process>("partyhub-groupmgr", gmArgs, "ctl-gm");
  std::vector<Participant> people;
  const char* names[] = {"alice", "bob", "carol", "dave"};
  for (int i = 0; i < 4; ++i) {
    Participant p{names[i], base + 71 + i, dir + "/ctl-" + names[i], nullptr};
    p.daemon = std::make_unique<Process>(
        "partyhub-controller",
        std::vector<std::string>{"daemon", "--listen", "127.0.0.1:" + std::to_string(p.apiPort), "--run-dir",
                                 p.runDir, "--port-base", std::to_string(udpBase + 100 * i), "--log-level", "warn"},
        "ctl-d-" + p.name);
    people.push_back(std::move(p));
  }
  std::this_thread::sleep_for(1s);
  auto join = [&](const Participant& p) {
    return runCli({"--daemon", p.url(), "join", "meet", "--name", p.name, "--manager", manager, "--width", "320",
                   "--height", "180", "--fps", "15"},
                  "ctl-join-" + p.name);
  };
  Participant& alice = people[0];
  Participant& bob = people[1];
  Participant& carol = people[2];
  Participant& dave = people[3];
  for (int i = 0; i < 3; ++i) REQUIRE(join(people[static_cast<std::size_t>(i)]) == 0);

  // 3 parties for 20 s: each renders >= 99 % of both remote streams.
  std::this_thread::sleep_for(20s);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      if (i == j) continue;
      CAPTURE(people[static_cast<std::size_t>(i)].name);
      CAPTURE(people[static_cast<std::size_t>(j)].name);
      const json m = people[static_cast<std::size_t>(i)].member(people[static_cast<std::size_t>(j)].name);
      REQUIRE(m["player"].is_object());
      const double rendered = std::stod(m["player"].value("frames_rendered", "0"));
      const double expected = std::stod(m["player"].value("frames_expected", "0"));
      CHECK(expected >= 250);  // ~20 s at 15 fps
      CHECK(rendered >= 0.99 * expected);
    }
  }

  // A fourth member joins mid-call: everyone is playing it within 2 s.
  REQUIRE(join(dave) == 0);
  const auto daveUp = waitFor(
      [&] { return alice.rendered("dave") > 0 && bob.rendered("dave") > 0 && carol.rendered("dave") > 0; }, 10s);
  REQUIRE(daveUp.has_value());
  MESSAGE("everyone plays dave " << daveUp->count() << " ms after his join returned");
  CHECK(*daveUp <= 2s);

  // kill -9 of alice's streamer for bob: restarted, bob's frames flow again within 2 s.
  const json bobAtAlice = alice.member("bob");
  pid_t streamerPid = 0;
  for (const json& proc : bobAtAlice["processes"]) {
    if (proc["key"].get<std::string>().rfind("streamer:", 0) == 0) streamerPid = proc["pid"].get<pid_t>();
  }
  REQUIRE(streamerPid > 0);
  REQUIRE(kill(streamerPid, SIGKILL) == 0);
  const std::int64_t before = alice.rendered("bob");
  std::this_thread::sleep_for(200ms);
  const auto healed = waitFor(
      [&] {
        const json m = alice.member("bob");
        for (const json& proc : m["processes"]) {
          if (proc["key"].get<std::string>().rfind("streamer:", 0) == 0 && proc["restarts"].get<int>() < 1) {
            return false;
          }
        }
        return alice.rendered("bob") > before + 10;
      },
      10s);
  REQUIRE(healed.has_value());
  MESSAGE("bob plays at alice again " << healed->count() + 200 << " ms after the kill");
  CHECK(*healed + 200ms <= 2s);

  // carol leaves: her pairs are gone everywhere within 2 s.
  REQUIRE(runCli({"--daemon", carol.url(), "leave", "meet"}, "ctl-leave") == 0);
  const auto gone = waitFor(
      [&] { return alice.member("carol").is_null() && bob.member("carol").is_null() && dave.member("carol").is_null(); },
      10s);
  REQUIRE(gone.has_value());
  MESSAGE("carol gone everywhere after " << gone->count() << " ms");
  CHECK(*gone <= 2s);
  CHECK(carol.status().is_null());

  // The group manager killed and restarted: nobody is lost, and it goes on
  // telling the controllers of changes (carol comes back).
  gm.reset();  // SIGKILL
  std::this_thread::sleep_for(500ms);
  gm = std::make_unique<Process>("partyhub-groupmgr", gmArgs, "ctl-gm-2");
  std::this_thread::sleep_for(2s);  // longer than the controllers' retry
  {
    httplib::Client c("127.0.0.1", base + 70);
    auto g = c.Get("/v1/groups/meet");
    REQUIRE(g);
    REQUIRE(g->status == 200);
    CHECK(json::parse(g->body)["members"] == 3);  // alice, bob, dave: nothing lost
  }
  REQUIRE(join(carol) == 0);
  const auto back = waitFor(
      [&] { return alice.rendered("carol") > 0 && bob.rendered("carol") > 0 && dave.rendered("carol") > 0; }, 10s);
  REQUIRE(back.has_value());
  MESSAGE("after the group manager's restart, carol rejoined and plays everywhere in " << back->count() << " ms");

  // The daemon killed with SIGKILL takes its processes with it.
  const json daveSelf = dave.member("dave");  // (a temporary would die before the loop)
  const pid_t daveSource = [&] {
    for (const json& proc : daveSelf["processes"]) {
      if (proc["key"] == "source") return proc["pid"].get<pid_t>();
    }
    return pid_t{0};
  }();
  INFO("dave's own processes: " << daveSelf.dump());
  REQUIRE(daveSource > 0);
  dave.daemon.reset();  // SIGKILL
  CHECK(waitFor([&] { return kill(daveSource, 0) != 0; }, 3s).has_value());
}
