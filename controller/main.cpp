// partyhub-controller: `daemon` runs one participant's conferences (REST API,
// supervision); `join`, `leave`, `status` and `list` talk to that daemon.
#include <httplib.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "http_server.hpp"
#include <nlohmann/json.hpp>

#include "daemon/daemon.hpp"
#include "partyhub/common/logging.hpp"
#include "partyhub/common/process.hpp"

using namespace partyhub;
using namespace partyhub::controller;
using nlohmann::json;

namespace {

std::atomic<httplib::Server*> gServer{nullptr};
std::atomic<Daemon*> gDaemon{nullptr};
void onSignal(int) {
  // Open media streams first: the server waits for its handlers to end.
  if (auto* d = gDaemon.load()) d->stopStreaming();
  if (auto* s = gServer.load()) s->stop();
}

std::string selfDir() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<std::size_t>(n));
  return p.substr(0, p.rfind('/'));
}

int runDaemon(const std::string& listen, DaemonSettings settings, const std::string& logLevel) {
  setupLogging(logLevel, "controller");
  auto log = logger("controller");
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) {
    std::cerr << "partyhub-controller: --listen: expected HOST:PORT\n";
    return static_cast<int>(ExitCode::kUsage);
  }
  mkdir(settings.runDir.c_str(), 0755);
  httplib::Server server;
  server.new_task_queue = [] { return new httplib::ThreadPool(16); };
  bindExclusively(server);
  if (!server.bind_to_port(listen.substr(0, colon), std::stoi(listen.substr(colon + 1)))) {
    std::cerr << "partyhub-controller: cannot listen on " << listen << "\n";
    return static_cast<int>(ExitCode::kStartup);
  }
  {
    Daemon daemon(settings);
    daemon.install(server);
    gDaemon = &daemon;
    gServer = &server;
    signal(SIGINT, onSignal);
    signal(SIGTERM, onSignal);
    log->info("daemon on http://{} (processes from {}, run dir {})", listen, settings.binDir, settings.runDir);
    server.listen_after_bind();
    gServer = nullptr;
    gDaemon = nullptr;
    log->info("leaving every conference");
  }
  log->info("stopped");
  return 0;
}

// CLI side: one request to the daemon, a clear message when it fails.
std::optional<json> call(const std::string& daemon, const std::string& method, const std::string& path,
                         const json& body = nullptr) {
  httplib::Client c(daemon);
  c.set_read_timeout(30, 0);
  httplib::Result r = method == "GET"    ? c.Get(path)
                      : method == "POST" ? c.Post(path, body.dump(), "application/json")
                                         : c.Delete(path);
  if (!r) {
    std::cerr << "partyhub-controller: no daemon at " << daemon << " (" << httplib::to_string(r.error())
              << "); start one with: partyhub-controller daemon\n";
    return std::nullopt;
  }
  json j = r->body.empty() ? json() : json::parse(r->body, nullptr, false);
  if (r->status >= 400) {
    std::cerr << "partyhub-controller: " << (j.is_object() ? j.value("error", r->body) : r->body) << "\n";
    return std::nullopt;
  }
  return j;
}

void printStatus(const json& st) {
  std::printf("%s: you are %s (%s), group version %lld\n", st["group"].get<std::string>().c_str(),
              st["name"].get<std::string>().c_str(), st["member_id"].get<std::string>().c_str(),
              static_cast<long long>(st["version"].get<std::int64_t>()));
  std::printf("  %-16s %-10s %10s %8s %6s %10s %9s\n", "member", "processes", "frames", "expected", "lost",
              "g2g p95 ms", "kbit/s");  // g2g over the last second
  for (const json& m : st["members"]) {
    int running = 0;
    for (const json& p : m["processes"]) running += p["state"] == "running" ? 1 : 0;
    const std::string procs = std::to_string(running) + "/" + std::to_string(m["processes"].size()) + " up";
    const std::string name = m["name"].get<std::string>() + (m["self"].get<bool>() ? " (you)" : "");
    const json& p = m["player"];
    if (p.is_object()) {
      std::printf("  %-16s %-10s %10s %8s %6s %10.1f %9.0f\n", name.c_str(), procs.c_str(),
                  p.value("frames_rendered", "0").c_str(), p.value("frames_expected", "0").c_str(),
                  p.value("frames_lost", "0").c_str(), p.contains("g2g_last") ? p["g2g_last"].value("p95_ms", 0.0) : 0.0,
                  p.value("bitrate_kbps", 0.0));
    } else {
      std::printf("  %-16s %-10s %10s\n", name.c_str(), procs.c_str(), m["self"].get<bool>() ? "sending" : "-");
    }
    if (m.contains("problem") && m["problem"].is_string()) {
      std::printf("  %-16s ! %s\n", "", m["problem"].get<std::string>().c_str());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"partyhub-controller: run and join PartyHub conferences"};
  app.require_subcommand(1);
  std::string daemonUrl = "http://127.0.0.1:8800";
  app.add_option("--daemon", daemonUrl, "The daemon's URL (for join, leave, status, list)");

  std::string listen = "127.0.0.1:8800", logLevel = "info";
  DaemonSettings ds;
  ds.binDir = selfDir();
  ds.webRoot = ds.binDir + "/../share/partyhub/web";
  ds.runDir = "/tmp/partyhub-controller-" + std::to_string(getuid());
  auto* daemon = app.add_subcommand("daemon", "Run the daemon: REST API and process supervision");
  daemon->add_option("--listen", listen, "HOST:PORT of the REST API");
  daemon->add_option("--run-dir", ds.runDir, "Where endpoints and process logs go");
  daemon->add_option("--port-base", ds.portBase, "First UDP port for streamers (100 per conference)")
      ->check(CLI::Range(1024, 65000));
  daemon->add_option("--advertise-host", ds.advertiseHost, "Address peers reach our streamers at");
  daemon->add_option("--sink", ds.sink, "Players' video sink: fake | auto");
  daemon->add_option("--uplink-kbps", ds.uplinkKbps,
                     "This host's uplink; shared out as the streamers' upload budgets (default: theirs)")
      ->check(CLI::Range(64, 10'000'000));
  daemon->add_option("--emulate-delay-ms", ds.emulateDelayMs,
                     "Test beds: one-way delay every streamer adds to its peer traffic")
      ->check(CLI::Range(0, 5000));
  daemon->add_option("--web-root", ds.webRoot, "The web GUI's files (default: next to the executables)");
  const auto levels = CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"});
  daemon->add_option("--log-level", logLevel, "The daemon's own log level")->check(levels);
  daemon->add_option("--children-log-level", ds.childLogLevel,
                     "Log level of the processes it launches (their logs: RUN_DIR/GROUP/KIND-ID.err)")
      ->check(levels);

  JoinRequest jr;
  auto* join = app.add_subcommand("join", "Join (or create) a conference");
  join->add_option("group", jr.group, "Group name")->required();
  join->add_option("--name", jr.name, "Your name")->required();
  join->add_option("--password", jr.password, "Group password");
  join->add_option("--manager", jr.manager, "Group manager URL");
  join->add_option("--video", jr.video, "test | v4l2[:DEVICE] | file:PATH | pipeline:DESC | none");
  join->add_option("--audio", jr.audio, "test | pulse | alsa[:DEVICE] | file:PATH | pipeline:DESC | none");
  join->add_option("--width", jr.width);
  join->add_option("--height", jr.height);
  join->add_option("--fps", jr.fps);
  join->add_option("--video-kbps", jr.videoKbps, "Video bitrate")->check(CLI::Range(16, 50000));
  join->add_option("--codec", jr.codec, "Video codec")->check(CLI::IsMember({"h264", "vp8"}));
  join->add_option("--audio-kbps", jr.audioKbps, "Opus bitrate")->check(CLI::Range(6, 510));
  join->add_option("--layout", jr.layout,
                   "per-source: a streamer per member's channel | shared: one streamer carrying every channel "
                   "over one signalling overlay. Default: the group's (per-source for a new group); the group "
                   "manager refuses the other one")
      ->check(CLI::IsMember({"per-source", "shared"}));

  std::string group;
  auto* leave = app.add_subcommand("leave", "Leave a conference");
  leave->add_option("group", group)->required();
  auto* status = app.add_subcommand("status", "Members and streams of a conference (all when none given)");
  status->add_option("group", group);
  auto* list = app.add_subcommand("list", "Conferences the daemon is in");
  CLI11_PARSE(app, argc, argv);

  if (daemon->parsed()) return runDaemon(listen, ds, logLevel);
  if (join->parsed()) {
    json body = {{"group", jr.group}, {"name", jr.name}, {"manager", jr.manager}, {"video", jr.video},
                 {"audio", jr.audio}, {"width", jr.width}, {"height", jr.height}, {"fps", jr.fps},
                 {"video_kbps", jr.videoKbps}, {"audio_kbps", jr.audioKbps}, {"codec", jr.codec},
                 {"layout", jr.layout}};
    if (!jr.password.empty()) body["password"] = jr.password;
    auto r = call(daemonUrl, "POST", "/v1/conferences", body);
    if (!r) return 1;
    printStatus(*r);
    return 0;
  }
  if (leave->parsed()) return call(daemonUrl, "DELETE", "/v1/conferences/" + group) ? 0 : 1;
  if (list->parsed() || (status->parsed() && group.empty())) {
    auto r = call(daemonUrl, "GET", "/v1/conferences");
    if (!r) return 1;
    if (r->empty()) std::printf("not in any conference\n");
    for (const json& c : *r) {
      if (list->parsed()) {
        std::printf("%-20s as %-16s %zu members\n", c["group"].get<std::string>().c_str(),
                    c["name"].get<std::string>().c_str(), c["members"].get<std::size_t>());
      } else if (auto st = call(daemonUrl, "GET", "/v1/conferences/" + c["group"].get<std::string>())) {
        printStatus(*st);
      }
    }
    return 0;
  }
  auto r = call(daemonUrl, "GET", "/v1/conferences/" + group);
  if (!r) return 1;
  printStatus(*r);
  return 0;
}
