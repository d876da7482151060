// partyhub-sim's links: how long an uplink takes to send a message, whether
// its datagrams get through the scenario's loss and the fragment repair the
// streamer's framing does (fragmenter.hpp, cut_through.hpp), and when a copy
// relayed cut-through lands. No events and no nodes here: the simulator
// (simulator.cpp) turns the times into deliveries.
#pragma once

#include <array>
#include <cstdint>
#include <random>

namespace partyhub::streamer::sim {

/// How long an uplink of `kbps` takes to send `bytes`.
[[nodiscard]] std::int64_t transmitUs(double kbps, std::size_t bytes);

/// A sender's uplink: it serialises what the peer sends.
struct Uplink {
  double kbps = 0;
  std::int64_t freeUs = 0;  // busy until then
};

/// What became of a message on a lossy link.
struct Crossing {
  static constexpr std::size_t kMaxRepairs = 8;  // more than ReassemblerConfig's maxNacks
  bool whole = false;         // it got through, repairs included
  std::size_t lostFirst = 0;  // its datagrams lost on the first go
  std::uint32_t repairs = 0;  // repair requests that got to the sender...
  std::array<std::size_t, kMaxRepairs> resentBytes{};  // ... and the bytes each had resent, on its uplink
};

class LossyLinks {
 public:
  LossyLinks(double loss, bool fragmentRepair, std::mt19937_64& rng)
      : mLoss(loss), mFragmentRepair(fragmentRepair), mRng(rng) {}

  /// Whether a message of `bytes` gets through its datagrams' loss, and when
  /// (`arrives`, on input the time its last datagram lands; its first lands
  /// at `firstArrives`, the others evenly between: -1, back to back). As the
  /// streamer's framing does: a message of one datagram is lost with it (the
  /// overlay repairs it); of several, the receiver asks for the missing
  /// fragments (at once when a later one shows the gap, after a stall from
  /// the last one come when the last is missing) up to maxNacks times, each
  /// request and each resent fragment lost like any datagram, the resends
  /// on the sender's `uplink` (its free time moves on by their length).
  Crossing cross(Uplink& uplink, std::size_t bytes, std::int64_t latency, std::int64_t& arrives,
                 std::int64_t firstArrives = -1);

 private:
  [[nodiscard]] bool lost() { return mUnit(mRng) < mLoss; }

  double mLoss;
  bool mFragmentRepair;
  std::mt19937_64& mRng;
  std::uniform_real_distribution<double> mUnit{0, 1};
};

/// Cut-through: when a peer's copy of a chunk began to land and came whole
/// (or was given up), for the copies it relays meanwhile.
struct Incoming {
  std::uint64_t seq = ~0ull;
  std::int64_t firstUs = 0;
  std::int64_t wholeUs = 0;  // or, if !whole, given up
  bool whole = false;
};
using IncomingRing = std::array<Incoming, 64>;  // by seq, the chunks lately coming in

/// When a relayed copy of `seq` leaves: its turn on the uplink is
/// [startUs, endUs) as if it were held whole, but a datagram leaves no sooner
/// than it came in (`ring`: how the relay's own copies come).
struct RelayTimes {
  std::int64_t firstLeavesUs = 0;
  std::int64_t lastLeavesUs = 0;
  bool whole = true;         // false: the relay's own copy never came whole, nor does this one
  std::int64_t givenUpUs = 0;  // ... and when the relay gave it up
};
[[nodiscard]] RelayTimes relayTimes(const IncomingRing& ring, std::uint64_t seq, std::int64_t startUs, std::int64_t endUs,
                                    std::size_t datagrams);

/// A copy of `seq` begins to land at `firstUs` and is whole (or given up)
/// at `endUs`: the earliest copy's datagrams set when the receiver has
/// what (a body fills from any sender).
void noteIncoming(IncomingRing& ring, std::uint64_t seq, std::int64_t firstUs, std::int64_t endUs, bool whole);

}  // namespace partyhub::streamer::sim
