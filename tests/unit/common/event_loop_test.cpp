// The event loop's alarm: a one-shot timer moved freely from the loop's
// thread (the streamer sets it after every event for the overlay's next tick).
#include <doctest/doctest.h>

#include <chrono>
#include <vector>

#include "partyhub/common/event_loop.hpp"

namespace {

using partyhub::EventLoop;
using Clock = std::chrono::steady_clock;

double msSince(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// Runs the loop for `ms`, then quits.
void runFor(EventLoop& loop, int ms) {
  loop.addTimer(std::chrono::milliseconds(ms), [&loop] {
    loop.quit();
    return false;
  });
  loop.run();
}

}  // namespace

TEST_CASE("an alarm fires once, not before its time, and an unset or cancelled one never") {
  EventLoop loop;
  const auto t0 = Clock::now();
  std::vector<double> fired, never;
  auto alarm = loop.addAlarm([&] { fired.push_back(msSince(t0)); });
  auto unset = loop.addAlarm([&] { never.push_back(msSince(t0)); });
  auto cancelled = loop.addAlarm([&] { never.push_back(msSince(t0)); });
  alarm->in(30'000);
  cancelled->in(10'000);
  cancelled->cancel();
  runFor(loop, 150);
  REQUIRE(fired.size() == 1);
  CHECK(fired[0] >= 30.0);
  CHECK(never.empty());
}

TEST_CASE("an alarm moved sooner fires at the new time, and set again from its callback it fires again") {
  EventLoop loop;
  const auto t0 = Clock::now();
  std::vector<double> fired;
  std::unique_ptr<EventLoop::Alarm> alarm;
  alarm = loop.addAlarm([&] {
    fired.push_back(msSince(t0));
    if (fired.size() < 3) alarm->in(10'000);
  });
  alarm->in(5'000'000);  // 5 s: moved below
  loop.addTimer(std::chrono::milliseconds(20), [&] {
    alarm->in(0);  // at the next iteration
    return false;
  });
  runFor(loop, 1'000);
  REQUIRE(fired.size() == 3);
  CHECK(fired[0] >= 20.0);
  CHECK(fired[0] < 900.0);  // not the 5 s first set (a loose bound: a loaded machine is slow)
  CHECK(fired[1] >= fired[0] + 10.0);
  CHECK(fired[2] >= fired[1] + 10.0);
}
