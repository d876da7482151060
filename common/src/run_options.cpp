#include "partyhub/common/run_options.hpp"

namespace partyhub {

void addRunOptions(CLI::App& app, RunOptions& o) {
  app.add_option("--duration", o.duration, "Stop after this many seconds (0 = run until Ctrl-C)")
      ->check(CLI::Range(0.0, 1e7));
  app.add_flag("--stats-json", o.statsJson, "Print statistics as JSON lines on stdout");
  app.add_option("--stats-interval", o.statsInterval, "Seconds between statistics")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--log-level", o.logLevel)
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
}

void scheduleRun(EventLoop& loop, const RunOptions& o, std::function<void()> printStats) {
  loop.addTimer(std::chrono::milliseconds(static_cast<int>(o.statsInterval * 1000)), [printStats] {
    printStats();
    return true;
  });
  if (o.duration > 0) {
    loop.addTimer(std::chrono::milliseconds(static_cast<long>(o.duration * 1000)), [&loop] {
      loop.quit();
      return false;
    });
  }
  loop.onTerminate([&loop] { loop.quit(); });
}

}  // namespace partyhub
