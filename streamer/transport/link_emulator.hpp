// Emulates an access link on the streamer's outgoing UDP traffic, for tests
// and benchmarks on a kernel without netem: an uplink of a given rate that
// serialises datagrams (a tail-drop queue bounded in delay, as tbf does), a
// fixed one-way delay, and random loss. Pure: every call takes `now`; the
// streamer sends what due() returns.
#pragma once

#include <cstdint>
#include <deque>
#include <random>
#include <string>
#include <vector>

#include "core/relay.hpp"

namespace partyhub::streamer {

struct LinkEmulation {
  double delayMs = 0;
  double loss = 0;                     // per datagram
  std::uint32_t uploadKbps = 0;        // 0: unlimited
  std::int64_t maxQueueUs = 200'000;   // a datagram that would wait longer is dropped
  [[nodiscard]] bool enabled() const { return delayMs > 0 || loss > 0 || uploadKbps > 0; }
};

struct LinkEmulatorStats {
  std::uint64_t lost = 0;       // dropped at random
  std::uint64_t overflow = 0;   // dropped by the full queue
  std::uint64_t sent = 0;
};

class LinkEmulator {
 public:
  LinkEmulator(LinkEmulation config, std::uint64_t seed);

  /// Queues a datagram for `to`; false when it is dropped (loss or overflow).
  bool submit(PeerId to, std::string datagram, std::int64_t nowUs);
  /// Moves the datagrams due by `now` to `out`, in order.
  void due(std::int64_t nowUs, std::vector<std::pair<PeerId, std::string>>& out);
  [[nodiscard]] bool idle() const { return mQueue.empty(); }
  /// When the first queued datagram is due; only when !idle().
  [[nodiscard]] std::int64_t nextDueUs() const { return mQueue.front().dueUs; }
  [[nodiscard]] const LinkEmulatorStats& stats() const { return mStats; }

 private:
  struct Pending {
    std::int64_t dueUs;
    PeerId to;
    std::string datagram;
  };
  LinkEmulation mConfig;
  std::mt19937_64 mRng;
  std::deque<Pending> mQueue;  // due times never decrease: FIFO link, fixed delay
  std::int64_t mLinkFreeUs = 0;
  LinkEmulatorStats mStats;
};

}  // namespace partyhub::streamer
