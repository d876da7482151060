// One event loop per process: GLib's main loop, which also serves GStreamer's
// bus and (later) libnice. ZeroMQ sockets join it through ZMQ_FD, which is
// edge-triggered: on every wake-up we drain while ZMQ_EVENTS says POLLIN, and
// after every send we re-check, because a send can consume the edge.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include <zmq.hpp>

namespace partyhub {

class EventLoop {
 public:
  using Callback = std::function<void()>;
  /// Returning false from a timer callback stops the timer.
  using TimerCallback = std::function<bool()>;

  /// Keeps a ZeroMQ socket's watch alive; poke() after sending on the socket.
  class ZmqWatch {
   public:
    virtual ~ZmqWatch() = default;
    virtual void poke() = 0;
  };

  /// A one-shot timer that is free to move: setting it makes no system call
  /// (the loop reads it before each poll), so it can be set after every
  /// event. Use it on the loop's thread only.
  class Alarm {
   public:
    virtual ~Alarm() = default;
    /// Fire once, `delayUs` from now (<= 0: at the next iteration),
    /// replacing any earlier setting.
    virtual void in(std::int64_t delayUs) = 0;
    virtual void cancel() = 0;
  };

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  void run();
  void quit();

  /// Calls `onReadable` whenever `fd` is readable. Returns a source id.
  unsigned addFd(int fd, Callback onReadable);
  /// Calls `onMessage` while `socket` has input; it must receive (dontwait).
  std::unique_ptr<ZmqWatch> addZmq(zmq::socket_t& socket, Callback onMessage);
  unsigned addTimer(std::chrono::milliseconds interval, TimerCallback cb);
  /// An alarm, not set yet; it is removed with the returned object.
  std::unique_ptr<Alarm> addAlarm(Callback onAlarm);
  void remove(unsigned sourceId);
  /// Runs `cb` on the loop's thread; safe to call from any thread.
  void post(Callback cb);
  /// SIGINT and SIGTERM call `cb` (typically quit()).
  void onTerminate(Callback cb);

 private:
  struct Impl;
  std::unique_ptr<Impl> mImpl;
};

}  // namespace partyhub
