// What every PartyHub executable shares on its command line and in its main
// loop: stop after --duration, print statistics every --stats-interval (as
// JSON lines with --stats-json), log at --log-level, stop on SIGINT/SIGTERM.
#pragma once

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "partyhub/common/event_loop.hpp"

namespace partyhub {

struct RunOptions {
  double duration = 0;  // seconds; 0 = until Ctrl-C
  bool statsJson = false;
  double statsInterval = 1.0;
  std::string logLevel = "info";
};

void addRunOptions(CLI::App& app, RunOptions& options);

/// Installs the statistics timer, the --duration stop and the signal stop.
void scheduleRun(EventLoop& loop, const RunOptions& options, std::function<void()> printStats);

}  // namespace partyhub
