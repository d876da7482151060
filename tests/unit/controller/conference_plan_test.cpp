#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "conference_plan.hpp"
#include "supervisor.hpp"

using namespace partyhub::controller;

namespace {

ConferenceSettings settings() {
  ConferenceSettings s;
  s.group = "g";
  s.selfName = "alice";
  s.binDir = "/bin";
  s.runDir = "/tmp/run";
  s.sourcePort = 9000;
  return s;
}

const ProcessSpec* find(const std::vector<ProcessSpec>& plan, const std::string& key) {
  auto it = std::find_if(plan.begin(), plan.end(), [&](const ProcessSpec& p) { return p.key == key; });
  return it == plan.end() ? nullptr : &*it;
}

bool hasArgs(const ProcessSpec& p, const std::string& option, const std::string& value) {
  for (std::size_t i = 0; i + 1 < p.args.size(); ++i) {
    if (p.args[i] == option && p.args[i + 1] == value) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("the plan: own source and streamer, a streamer and a player per other member") {
  const std::vector<RemoteChannel> remotes{{"b1", "bob", 1, "10.0.0.2:7000"}, {"c1", "carol", 1, "10.0.0.3:7000"}};
  const auto plan = planConference(settings(), remotes, {{"b1", 9001}, {"c1", 9002}});
  REQUIRE(plan.size() == 6);
  REQUIRE(find(plan, "source") != nullptr);
  const auto& sourceArgs = find(plan, "source")->args;  // the daemon shows its statistics
  CHECK(std::find(sourceArgs.begin(), sourceArgs.end(), "--stats-json") != sourceArgs.end());
  const ProcessSpec* self = find(plan, "streamer:self");
  REQUIRE(self != nullptr);
  CHECK(hasArgs(*self, "--listen", "127.0.0.1:9000"));
  CHECK(hasArgs(*self, "--source", "ipc:///tmp/run/source.ipc"));
  const ProcessSpec* bob = find(plan, "streamer:b1");
  REQUIRE(bob != nullptr);
  CHECK(hasArgs(*bob, "--bootstrap", "10.0.0.2:7000"));
  CHECK(hasArgs(*bob, "--listen", "127.0.0.1:9001"));
  const ProcessSpec* bobPlayer = find(plan, "player:b1");
  REQUIRE(bobPlayer != nullptr);
  CHECK(hasArgs(*bobPlayer, "--streamer", "ipc:///tmp/run/b1-players.ipc"));
  CHECK(hasArgs(*bobPlayer, "--name", "bob"));
}

TEST_CASE("the shared layout's plan: one streamer for every channel, a player per other member on it") {
  ConferenceSettings s = settings();
  s.layout = "shared";
  s.channelId = 2;  // as the group manager hands them out
  s.sharedBootstrap = {"10.0.0.2:7000"};
  s.uplinkKbps = 4000;
  const std::vector<RemoteChannel> remotes{{"b1", "bob", 3, "10.0.0.2:7000"},
                                           {"c1", "carol", 4, "10.0.0.3:7000"}};
  const auto plan = planConference(s, remotes, {{"b1", 9001}, {"c1", 9002}});
  REQUIRE(plan.size() == 4);  // source, one streamer, two players
  const ProcessSpec* self = find(plan, "streamer:self");
  REQUIRE(self != nullptr);
  CHECK(std::count(self->args.begin(), self->args.end(), "--shared") == 1);
  CHECK(hasArgs(*self, "--channel", std::to_string(s.channelId)));
  CHECK(hasArgs(*self, "--bootstrap", "10.0.0.2:7000"));
  CHECK(hasArgs(*self, "--upload-kbps", "3000"));
  CHECK(hasArgs(*self, "--relay-upload-kbps", "1000"));
  CHECK(find(plan, "streamer:b1") == nullptr);
  const ProcessSpec* carol = find(plan, "player:c1");
  REQUIRE(carol != nullptr);
  CHECK(hasArgs(*carol, "--streamer", "ipc:///tmp/run/self-players.ipc"));
  CHECK(hasArgs(*carol, "--channel", "4"));
  // A member joining changes no running process's command line.
  const auto more = planConference(s, {remotes[0], remotes[1], {"d1", "dave", 5, "10.0.0.4:7000"}},
                                   {{"b1", 9001}, {"c1", 9002}, {"d1", 9003}});
  CHECK(*find(more, "streamer:self") == *self);
  CHECK(*find(more, "player:c1") == *carol);
}

TEST_CASE("a member of the other layout is told apart by its channel id, and explained") {
  CHECK_FALSE(layoutMismatch("per-source", 1).has_value());
  CHECK_FALSE(layoutMismatch("shared", 3).has_value());
  const auto theyShare = layoutMismatch("per-source", 3);
  REQUIRE(theyShare.has_value());
  CHECK(theyShare->find("shared layout") != std::string::npos);
  const auto theyDont = layoutMismatch("shared", 1);
  REQUIRE(theyDont.has_value());
  CHECK(theyDont->find("per-source layout") != std::string::npos);
}

TEST_CASE("the plan: bitrates go to the source, the uplink is shared out as budgets, emulated delay to every streamer") {
  ConferenceSettings s = settings();
  s.videoKbps = 500;
  s.audioKbps = 24;
  s.uplinkKbps = 4000;
  s.emulateDelayMs = 20;
  const auto plan = planConference(s, {{"b1", "bob", 1, "10.0.0.2:7000"}}, {{"b1", 9001}});
  CHECK(hasArgs(*find(plan, "source"), "--video-kbps", "500"));
  CHECK(hasArgs(*find(plan, "source"), "--audio-kbps", "24"));
  CHECK(hasArgs(*find(plan, "source"), "--codec", "h264"));
  // The uplink shared out: most to our own channel (the source's copies).
  CHECK(hasArgs(*find(plan, "streamer:self"), "--upload-kbps", "3000"));
  CHECK(hasArgs(*find(plan, "streamer:b1"), "--upload-kbps", "1000"));
  for (const char* key : {"streamer:self", "streamer:b1"}) {
    CAPTURE(key);
    CHECK(hasArgs(*find(plan, key), "--emulate-delay-ms", "20"));
  }
  // Unset, the streamers keep their own defaults.
  const auto plain = planConference(settings(), {{"b1", "bob", 1, "10.0.0.2:7000"}}, {{"b1", 9001}});
  for (const ProcessSpec& p : plain) {
    CAPTURE(p.key);
    CHECK(std::find(p.args.begin(), p.args.end(), "--emulate-delay-ms") == p.args.end());
    CHECK(std::find(p.args.begin(), p.args.end(), "--upload-kbps") == p.args.end());
  }
}

TEST_CASE("the plan: a member joining adds its pair and changes no other process") {
  const std::vector<RemoteChannel> two{{"b1", "bob", 1, "10.0.0.2:7000"}};
  const std::vector<RemoteChannel> three{{"b1", "bob", 1, "10.0.0.2:7000"}, {"c1", "carol", 1, "10.0.0.3:7000"}};
  const std::map<std::string, int> ports{{"b1", 9001}, {"c1", 9002}};
  const auto before = planConference(settings(), two, ports);
  const auto after = planConference(settings(), three, ports);
  CHECK(after.size() == before.size() + 2);
  for (const ProcessSpec& p : before) {
    CAPTURE(p.key);
    REQUIRE(find(after, p.key) != nullptr);
    CHECK(*find(after, p.key) == p);  // same command line: not restarted
  }
  CHECK(planConference(settings(), three, {{"b1", 9001}}).size() == 4);  // no port yet: not planned
}

TEST_CASE("the supervisor restarts a crashing child with backoff and stops what leaves the plan") {
  Supervisor sup("/tmp");
  sup.setPlan({{"crasher", "/bin/sh", {"-c", "exit 1"}}, {"sleeper", "/bin/sleep", {"30"}}});
  const auto start = std::chrono::steady_clock::now();
  auto now = [&] {
    return static_cast<std::int64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start).count());
  };
  while (now() < 1'600'000) {
    sup.tick(now());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int crasherRestarts = 0;
  pid_t sleeper = 0;
  for (const ChildStatus& c : sup.status()) {
    if (c.key == "crasher") crasherRestarts = c.restarts;
    if (c.key == "sleeper") sleeper = c.pid;
  }
  // Backoff 0.1, 0.2, 0.4, 0.8 s...: a handful of restarts in 1.6 s, not hundreds.
  CHECK(crasherRestarts >= 3);
  CHECK(crasherRestarts <= 6);
  REQUIRE(sleeper > 0);
  CHECK(kill(sleeper, 0) == 0);
  sup.setPlan({});
  for (int i = 0; i < 10 && kill(sleeper, 0) == 0; ++i) {
    sup.tick(now());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  CHECK(kill(sleeper, 0) != 0);  // stopped (SIGTERM) and reaped
}
