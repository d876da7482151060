#include "partyhub/common/event_loop.hpp"

#include <algorithm>
#include <csignal>
#include <cstdint>

#include <glib-unix.h>
#include <glib.h>

namespace partyhub {

namespace {

template <typename F>
struct Boxed {
  F fn;
};

template <typename F>
void destroyBoxed(gpointer p) {
  delete static_cast<Boxed<F>*>(p);
}

gboolean onFdReady(gint /*fd*/, GIOCondition /*cond*/, gpointer user) {
  static_cast<Boxed<EventLoop::Callback>*>(user)->fn();
  return G_SOURCE_CONTINUE;
}

gboolean onTimer(gpointer user) {
  return static_cast<Boxed<EventLoop::TimerCallback>*>(user)->fn() ? G_SOURCE_CONTINUE
                                                                    : G_SOURCE_REMOVE;
}

gboolean onPosted(gpointer user) {
  static_cast<Boxed<EventLoop::Callback>*>(user)->fn();
  return G_SOURCE_REMOVE;
}

gboolean onSignal(gpointer user) {
  static_cast<Boxed<EventLoop::Callback>*>(user)->fn();
  return G_SOURCE_CONTINUE;
}

class ZmqWatchImpl final : public EventLoop::ZmqWatch {
 public:
  ZmqWatchImpl(zmq::socket_t& socket, EventLoop::Callback onMessage)
      : mSocket(socket), mOnMessage(std::move(onMessage)) {
    const int fd = mSocket.get(zmq::sockopt::fd);
    mFdSource = g_unix_fd_add(fd, G_IO_IN, &ZmqWatchImpl::onFd, this);
    // Safety net against a lost edge (e.g. a send from a callback we did not
    // see): cheap, and bounds the worst case to 250 ms.
    mTimerSource = g_timeout_add(250, &ZmqWatchImpl::onSafety, this);
  }
  ~ZmqWatchImpl() override {
    g_source_remove(mFdSource);
    g_source_remove(mTimerSource);
    if (mIdleSource != 0) g_source_remove(mIdleSource);
  }

  void poke() override {
    if (mIdleSource == 0) mIdleSource = g_idle_add_full(G_PRIORITY_HIGH, &ZmqWatchImpl::onIdle, this, nullptr);
  }

 private:
  static gboolean onFd(gint, GIOCondition, gpointer self) {
    static_cast<ZmqWatchImpl*>(self)->drain();
    return G_SOURCE_CONTINUE;
  }
  static gboolean onSafety(gpointer self) {
    static_cast<ZmqWatchImpl*>(self)->drain();
    return G_SOURCE_CONTINUE;
  }
  static gboolean onIdle(gpointer self) {
    auto* me = static_cast<ZmqWatchImpl*>(self);
    me->mIdleSource = 0;
    me->drain();
    return G_SOURCE_REMOVE;
  }

  void drain() {
    // Bounded per wake-up so one busy socket cannot starve the loop.
    for (int i = 0; i < 4096; ++i) {
      const int events = mSocket.get(zmq::sockopt::events);
      if ((events & ZMQ_POLLIN) == 0) return;
      mOnMessage();
    }
    poke();
  }

  zmq::socket_t& mSocket;
  EventLoop::Callback mOnMessage;
  guint mFdSource = 0;
  guint mTimerSource = 0;
  guint mIdleSource = 0;
};

// A GSource whose ready time lives in our own field: prepare() turns it into
// the poll timeout on every iteration. (g_source_set_ready_time would do,
// but it signals the context's wake-up fd on every call.)
class AlarmImpl final : public EventLoop::Alarm {
 public:
  explicit AlarmImpl(EventLoop::Callback onAlarm) : mOnAlarm(std::move(onAlarm)) {
    static GSourceFuncs funcs = {&AlarmImpl::prepare, &AlarmImpl::check, &AlarmImpl::dispatch, nullptr, nullptr,
                                 nullptr};
    mSource = reinterpret_cast<Source*>(g_source_new(&funcs, sizeof(Source)));
    mSource->self = this;
    g_source_attach(&mSource->base, nullptr);
  }
  ~AlarmImpl() override {
    g_source_destroy(&mSource->base);
    g_source_unref(&mSource->base);
  }

  void in(std::int64_t delayUs) override { mDueUs = g_get_monotonic_time() + std::max<std::int64_t>(0, delayUs); }
  void cancel() override { mDueUs = kNever; }

 private:
  static constexpr std::int64_t kNever = INT64_MAX;
  struct Source {
    GSource base;
    AlarmImpl* self;
  };

  static gboolean prepare(GSource* s, gint* timeoutMs) {
    const std::int64_t due = reinterpret_cast<Source*>(s)->self->mDueUs;
    if (due == kNever) {
      *timeoutMs = -1;
      return FALSE;
    }
    const std::int64_t wait = due - g_source_get_time(s);
    *timeoutMs = wait <= 0 ? 0 : static_cast<gint>(std::min<std::int64_t>((wait + 999) / 1000, G_MAXINT));
    return wait <= 0;
  }
  static gboolean check(GSource* s) {
    const std::int64_t due = reinterpret_cast<Source*>(s)->self->mDueUs;
    return due != kNever && g_source_get_time(s) >= due;
  }
  static gboolean dispatch(GSource* s, GSourceFunc, gpointer) {
    AlarmImpl* self = reinterpret_cast<Source*>(s)->self;
    self->mDueUs = kNever;
    self->mOnAlarm();  // may set it again
    return G_SOURCE_CONTINUE;
  }

  EventLoop::Callback mOnAlarm;
  Source* mSource = nullptr;
  std::int64_t mDueUs = kNever;
};

}  // namespace

struct EventLoop::Impl {
  GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
  ~Impl() { g_main_loop_unref(loop); }
};

EventLoop::EventLoop() : mImpl(std::make_unique<Impl>()) {}
EventLoop::~EventLoop() = default;

void EventLoop::run() { g_main_loop_run(mImpl->loop); }
void EventLoop::quit() { g_main_loop_quit(mImpl->loop); }

unsigned EventLoop::addFd(int fd, Callback onReadable) {
  auto* box = new Boxed<Callback>{std::move(onReadable)};
  return g_unix_fd_add_full(G_PRIORITY_DEFAULT, fd, G_IO_IN, onFdReady, box, destroyBoxed<Callback>);
}

std::unique_ptr<EventLoop::ZmqWatch> EventLoop::addZmq(zmq::socket_t& socket, Callback onMessage) {
  return std::make_unique<ZmqWatchImpl>(socket, std::move(onMessage));
}

unsigned EventLoop::addTimer(std::chrono::milliseconds interval, TimerCallback cb) {
  auto* box = new Boxed<TimerCallback>{std::move(cb)};
  return g_timeout_add_full(G_PRIORITY_DEFAULT, static_cast<guint>(interval.count()), onTimer, box,
                            destroyBoxed<TimerCallback>);
}

std::unique_ptr<EventLoop::Alarm> EventLoop::addAlarm(Callback onAlarm) {
  return std::make_unique<AlarmImpl>(std::move(onAlarm));
}

void EventLoop::remove(unsigned sourceId) { g_source_remove(sourceId); }

void EventLoop::post(Callback cb) {
  auto* box = new Boxed<Callback>{std::move(cb)};
  g_main_context_invoke_full(nullptr, G_PRIORITY_HIGH, onPosted, box, destroyBoxed<Callback>);
}

void EventLoop::onTerminate(Callback cb) {
  auto shared = std::make_shared<Callback>(std::move(cb));
  for (int sig : {SIGINT, SIGTERM}) {
    auto* box = new Boxed<Callback>{[shared] { (*shared)(); }};
    g_unix_signal_add_full(G_PRIORITY_HIGH, sig, onSignal, box, destroyBoxed<Callback>);
  }
}

}  // namespace partyhub
