// Conferences through partyhub-controller: real daemons, a real group
// manager, every process on loopback, driven by the controller's CLI.
#include <doctest/doctest.h>

#include <httplib.h>
#include <signal.h>

#include <nlohmann/json.hpp>

#include <map>

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

// A group manager and four participants' daemons (alice, bob, carol, dave),
// none in a conference yet. `apiOffset` and `udpBlock` keep test cases apart.
struct Meeting {
  std::string tag;
  std::string dir = partyhub::test::tempDir();
  int base = partyhub::test::portBase();
  std::string manager;
  std::vector<std::string> gmArgs;
  std::unique_ptr<Process> gm;
  std::vector<Participant> people;
  std::vector<std::string> joinOptions;

  Meeting(std::string tagIn, int apiOffset, int udpBlock, std::vector<std::string> options = {})
      : tag(std::move(tagIn)), joinOptions(std::move(options)) {
    // 100 UDP ports per participant, 4 participants per block, 2 blocks per test process.
    const int udpBase = 40000 + (getpid() % 25) * 800 + 400 * udpBlock;
    manager = "http://127.0.0.1:" + std::to_string(base + apiOffset);
    gmArgs = {"--listen", "127.0.0.1:" + std::to_string(base + apiOffset), "--db", dir + "/" + tag + "-gm.db"};
    gm = std::make_unique<Process>("partyhub-groupmgr", gmArgs, tag + "-gm");
    const char* names[] = {"alice", "bob", "carol", "dave"};
    for (int i = 0; i < 4; ++i) {
      Participant p{names[i], base + apiOffset + 1 + i, dir + "/" + tag + "-" + names[i], nullptr};
      p.daemon = std::make_unique<Process>(
          "partyhub-controller",
          std::vector<std::string>{"daemon", "--listen", "127.0.0.1:" + std::to_string(p.apiPort), "--run-dir",
                                   p.runDir, "--port-base", std::to_string(udpBase + 100 * i), "--log-level", "warn",
                                   "--children-log-level", "debug"},
          tag + "-d-" + p.name);
      people.push_back(std::move(p));
    }
    // Every server listening before the first join (a join the manager
    // cannot take yet is an error, rightly): not a fixed sleep, which a
    // loaded machine outlasts.
    auto healthy = [](int port) {
      httplib::Client c("127.0.0.1", port);
      auto r = c.Get("/v1/health");
      return r && r->status == 200;
    };
    REQUIRE(waitFor([&] { return healthy(base + apiOffset); }, 10s).has_value());
    for (const Participant& p : people) REQUIRE(waitFor([&] { return healthy(p.apiPort); }, 10s).has_value());
  }
  // The debug logs of the processes every other participant runs for
  // `who` (its streamer and player): what a slow start is read from.
  std::string logsFor(const std::string& who) const {
    std::string out;
    for (const Participant& p : people) {
      const json m = p.member(who);
      if (p.name == who || !m.is_object()) continue;
      const std::string id = m["id"];
      for (const char* kind : {"streamer", "player"}) {
        out += "--- " + p.name + "'s " + kind + " for " + who + ":\n" +
               partyhub::test::readFile(p.runDir + "/meet/" + kind + "-" + id + ".err");
      }
    }
    return out;
  }
  int join(const Participant& p) const {
    std::vector<std::string> args{"--daemon", p.url(), "join", "meet", "--name", p.name, "--manager", manager,
                                  "--width", "320", "--height", "180", "--fps", "15"};
    args.insert(args.end(), joinOptions.begin(), joinOptions.end());
    return runCli(args, tag + "-join-" + p.name);
  }
  // (rendered, expected) frames of every stream among the first n participants.
  std::map<std::pair<int, int>, std::pair<double, double>> frames(int n) const {
    std::map<std::pair<int, int>, std::pair<double, double>> out;
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) {
        if (i == j) continue;
        const json m = people[static_cast<std::size_t>(i)].member(people[static_cast<std::size_t>(j)].name);
        if (!m.is_object() || !m["player"].is_object()) continue;
        out[{i, j}] = {std::stod(m["player"].value("frames_rendered", "0")),
                       std::stod(m["player"].value("frames_expected", "0"))};
      }
    }
    return out;
  }
  // Every one of the first n participants renders >= 99 % of every other's
  // frames: since `since` (a warm-up left out), or over the whole run.
  void checkAllPlay(int n, double minExpected,
                    const std::map<std::pair<int, int>, std::pair<double, double>>& since = {}) const {
    const auto now = frames(n);
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) {
        if (i == j) continue;
        CAPTURE(people[static_cast<std::size_t>(i)].name);
        CAPTURE(people[static_cast<std::size_t>(j)].name);
        auto it = now.find({i, j});
        REQUIRE(it != now.end());
        auto before = since.find({i, j});
        const auto [r0, e0] = before == since.end() ? std::pair{0.0, 0.0} : before->second;
        const double rendered = it->second.first - r0, expected = it->second.second - e0;
        CHECK(expected >= minExpected);
        CHECK(rendered >= 0.99 * expected);
      }
    }
  }
};

}  // namespace

TEST_CASE("a conference through the controllers: all streams play, a joiner plays at once, a crash heals, a leaver is gone, the group manager restarts") {
  Meeting meeting("ctl", 70, 0);
  auto& people = meeting.people;
  auto& gm = meeting.gm;
  const int base = meeting.base;
  const auto& gmArgs = meeting.gmArgs;
  auto join = [&](const Participant& p) { return meeting.join(p); };
  Participant& alice = people[0];
  Participant& bob = people[1];
  Participant& carol = people[2];
  Participant& dave = people[3];
  for (int i = 0; i < 3; ++i) REQUIRE(join(people[static_cast<std::size_t>(i)]) == 0);

  // 3 parties for 20 s: each renders >= 99 % of both remote streams.
  std::this_thread::sleep_for(20s);
  meeting.checkAllPlay(3, 250);  // ~20 s at 15 fps

  // Each process's statistics say when it took them (players print every
  // 0.25 s): a rate over two readings divides by their own interval.
  for (const char* kind : {"player", "streamer"}) {
    CAPTURE(kind);
    const json stats = alice.member("bob")[kind];
    REQUIRE(stats.contains("wall_us"));
    const std::int64_t takenUs = std::stoll(stats["wall_us"].get<std::string>());
    const std::int64_t nowUs =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    CHECK(nowUs - takenUs >= 0);
    CHECK(nowUs - takenUs < 3'000'000);
  }

  // A keyframe asked for through alice's daemon (as her web page does)
  // reaches bob's source, which forces one; an unknown member is a 404.
  {
    const auto forced = [&] {
      const json self = bob.member("bob");
      return self.is_object() && self["source"].is_object() ? std::stoll(self["source"].value("keyframes_forced", "0"))
                                                            : -1;
    };
    const std::int64_t forcedBefore = forced();
    REQUIRE(forcedBefore >= 0);
    httplib::Client c("127.0.0.1", alice.apiPort);
    const std::string bobId = alice.member("bob")["id"];
    auto r = c.Post("/v1/conferences/meet/members/" + bobId + "/keyframe", "", "application/json");
    REQUIRE(r);
    CHECK(r->status == 202);
    const auto arrived = waitFor([&] { return forced() > forcedBefore; }, 5s);
    CHECK(arrived.has_value());
    if (arrived) MESSAGE("bob's source forced a keyframe " << arrived->count() << " ms after alice's daemon asked");
    auto missing = c.Post("/v1/conferences/meet/members/nobody/keyframe", "", "application/json");
    REQUIRE(missing);
    CHECK(missing->status == 404);
    CHECK(missing->body.find("nobody") != std::string::npos);
  }

  // A fourth member joins mid-call: everyone is playing it within 2 s.
  REQUIRE(join(dave) == 0);
  const auto daveUp = waitFor(
      [&] { return alice.rendered("dave") > 0 && bob.rendered("dave") > 0 && carol.rendered("dave") > 0; }, 10s);
  REQUIRE(daveUp.has_value());
  MESSAGE("everyone plays dave " << daveUp->count() << " ms after his join returned");
  if (*daveUp > 2s) MESSAGE(meeting.logsFor("dave"));
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

TEST_CASE("the shared layout through the controllers: one streamer per participant carries every channel, all play, a joiner plays at once, a leaver is gone, a crashed streamer heals, a member asking for the other layout is refused in words, one asking for none gets the group's") {
  Meeting meeting("shr", 80, 1, {"--layout", "shared"});
  auto& people = meeting.people;
  Participant& alice = people[0];
  Participant& bob = people[1];
  Participant& carol = people[2];
  Participant& dave = people[3];
  for (int i = 0; i < 3; ++i) REQUIRE(meeting.join(people[static_cast<std::size_t>(i)]) == 0);

  // Steady state: 15 s after a 5 s warm-up (a stream's first second can lose
  // a frame or two while the overlay measures itself; see README).
  std::this_thread::sleep_for(5s);
  const auto warm = meeting.frames(3);
  std::this_thread::sleep_for(15s);
  meeting.checkAllPlay(3, 200, warm);  // ~15 s at 15 fps
  // One streamer per participant; remote members have only a player.
  const json st = alice.status();
  int streamers = 0;
  for (const json& m : st["members"]) {
    for (const json& proc : m["processes"]) streamers += proc["key"].get<std::string>().rfind("streamer:", 0) == 0;
  }
  CHECK(streamers == 1);

  REQUIRE(meeting.join(dave) == 0);
  const auto daveUp = waitFor(
      [&] { return alice.rendered("dave") > 0 && bob.rendered("dave") > 0 && carol.rendered("dave") > 0; }, 10s);
  REQUIRE(daveUp.has_value());
  MESSAGE("shared layout: everyone plays dave " << daveUp->count() << " ms after his join returned");
  if (*daveUp > 2s) MESSAGE(meeting.logsFor("dave"));
  CHECK(*daveUp <= 2s);

  REQUIRE(runCli({"--daemon", carol.url(), "leave", "meet"}, "shr-leave") == 0);
  const auto gone = waitFor(
      [&] { return alice.member("carol").is_null() && bob.member("carol").is_null() && dave.member("carol").is_null(); },
      10s);
  REQUIRE(gone.has_value());
  CHECK(*gone <= 2s);

  // kill -9 of bob's one streamer: restarted; bob plays alice and alice plays bob again.
  const json bobSelf = bob.member("bob");
  INFO("bob's own processes: " << bobSelf.dump());
  pid_t streamerPid = 0;
  if (bobSelf.is_object()) {
    for (const json& proc : bobSelf["processes"]) {
      if (proc["key"] == "streamer:self") streamerPid = proc["pid"].get<pid_t>();
    }
  }
  REQUIRE(streamerPid > 0);
  const std::int64_t bobSaw = bob.rendered("alice"), aliceSaw = alice.rendered("bob");
  REQUIRE(kill(streamerPid, SIGKILL) == 0);
  const auto healed = waitFor([&] { return bob.rendered("alice") > bobSaw + 10 && alice.rendered("bob") > aliceSaw + 10; },
                              10s);
  REQUIRE(healed.has_value());
  MESSAGE("shared layout: bob's streamer killed, both ways play again after " << healed->count() << " ms");
  CHECK(*healed <= 3s);

  // carol comes back asking for the other layout: the two do not
  // interoperate, so the group manager refuses her, in words.
  {
    Process cli("partyhub-controller",
                {"--daemon", carol.url(), "join", "meet", "--name", "carol", "--manager", meeting.manager, "--width",
                 "320", "--height", "180", "--fps", "15", "--layout", "per-source"},
                "shr-join-carol-other");
    CHECK(cli.wait(30s).value_or(-1) != 0);
    const std::string said = cli.out() + cli.err();
    INFO(said);
    CHECK(said.find("runs the shared layout") != std::string::npos);
  }
  // Without choosing one she gets the group's, and everyone plays her.
  REQUIRE(runCli({"--daemon", carol.url(), "join", "meet", "--name", "carol", "--manager", meeting.manager,
                  "--width", "320", "--height", "180", "--fps", "15"},
                 "shr-join-carol-2") == 0);
  CHECK(carol.status()["layout"] == "shared");
  const auto back = waitFor([&] { return alice.rendered("carol") > 0 && carol.rendered("alice") > 0; }, 10s);
  REQUIRE(back.has_value());
  CHECK(alice.member("carol")["problem"].is_null());
  CHECK(alice.member("bob")["problem"].is_null());
}
