// partyhub-groupmgr: who is in which conference. A REST service (JSON over
// HTTP, or HTTPS with --cert/--key) with embedded SQLite; see group_api.hpp.
#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>

#include "http_server.hpp"

#include "group_api.hpp"
#include "partyhub/common/clock.hpp"
#include "partyhub/common/logging.hpp"
#include "partyhub/common/process.hpp"

using namespace partyhub;
using namespace partyhub::groupmgr;

namespace {

std::atomic<httplib::Server*> gServer{nullptr};

void onSignal(int) {
  if (auto* s = gServer.load()) s->stop();
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen = "127.0.0.1:8700", db = "partyhub-groupmgr.db", cert, key, logLevel = "info";
  double heartbeatTimeoutS = 10;
  CLI::App app{"partyhub-groupmgr: the group manager (groups, members, their channels)"};
  app.add_option("--listen", listen, "HOST:PORT to serve the REST API on");
  app.add_option("--db", db, "SQLite database file (created if missing)");
  app.add_option("--heartbeat-timeout-s", heartbeatTimeoutS, "Members silent this long are removed")
      ->check(CLI::Range(0.5, 3600.0));
  auto* certOpt = app.add_option("--cert", cert, "TLS certificate (PEM): serve HTTPS")->check(CLI::ExistingFile);
  auto* keyOpt = app.add_option("--key", key, "TLS private key (PEM)")->check(CLI::ExistingFile);
  certOpt->needs(keyOpt);
  keyOpt->needs(certOpt);
  app.add_option("--log-level", logLevel)->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  CLI11_PARSE(app, argc, argv);
  setupLogging(logLevel, "groupmgr");
  auto log = logger("groupmgr");

  const auto colon = listen.rfind(':');
  int port = 0;
  try {
    if (colon == std::string::npos) throw std::invalid_argument("no port");
    port = std::stoi(listen.substr(colon + 1));
  } catch (const std::exception&) {
    std::cerr << "partyhub-groupmgr: --listen: expected HOST:PORT, got '" << listen << "'\n";
    return static_cast<int>(ExitCode::kUsage);
  }
  const std::string host = listen.substr(0, colon);

  std::unique_ptr<GroupStore> store;
  try {
    store = std::make_unique<GroupStore>(db);
  } catch (const std::exception& e) {
    std::cerr << "partyhub-groupmgr: " << e.what() << "\n";
    return static_cast<int>(ExitCode::kStartup);
  }
  ApiConfig config;
  config.heartbeatTimeoutUs = static_cast<std::int64_t>(heartbeatTimeoutS * 1e6);
  GroupApi api(*store, config);

  std::unique_ptr<httplib::Server> server;
  if (!cert.empty()) {
    auto ssl = std::make_unique<httplib::SSLServer>(cert.c_str(), key.c_str());
    if (!ssl->is_valid()) {
      std::cerr << "partyhub-groupmgr: cannot use certificate " << cert << " with key " << key << "\n";
      return static_cast<int>(ExitCode::kStartup);
    }
    server = std::move(ssl);
  } else {
    server = std::make_unique<httplib::Server>();
  }
  // Long-polls hold a thread each while they wait.
  server->new_task_queue = [] { return new httplib::ThreadPool(64); };
  server->set_payload_max_length(1024 * 1024);
  partyhub::controller::bindExclusively(*server);
  api.install(*server);
  if (!server->bind_to_port(host, port)) {
    std::cerr << "partyhub-groupmgr: cannot listen on " << listen << "\n";
    return static_cast<int>(ExitCode::kStartup);
  }
  gServer = server.get();
  signal(SIGINT, onSignal);
  signal(SIGTERM, onSignal);

  std::atomic<bool> running{true};
  std::thread expiry([&] {
    while (running) {
      api.expire(wallNowUs());
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });
  log->info("serving {} on {} (database {}, heartbeat timeout {} s)", cert.empty() ? "HTTP" : "HTTPS", listen, db,
            heartbeatTimeoutS);
  server->listen_after_bind();
  running = false;
  api.wakeAll();
  expiry.join();
  log->info("stopped");
  return 0;
}
