#include "link_model.hpp"

#include <algorithm>

#include "core/fragmenter.hpp"

namespace partyhub::streamer::sim {

std::int64_t transmitUs(double kbps, std::size_t bytes) {
  return static_cast<std::int64_t>(static_cast<double>(bytes) * 8 * 1000 / kbps);
}

Crossing LossyLinks::cross(Uplink& uplink, std::size_t bytes, std::int64_t latency, std::int64_t& arrives,
                           std::int64_t firstArrives) {
  Crossing c;
  if (bytes <= kMaxSinglePayload) {
    c.whole = !lost();
    return c;
  }
  const std::size_t n = fragmentCount(bytes);
  if (firstArrives < 0) {
    firstArrives = arrives - transmitUs(uplink.kbps, bytes) * static_cast<std::int64_t>(n - 1) / static_cast<std::int64_t>(n);
  }
  const auto landsUs = [&](std::size_t i) {
    return firstArrives + (arrives - firstArrives) * static_cast<std::int64_t>(i) / static_cast<std::int64_t>(n - 1);
  };
  std::size_t missing = 0, firstGone = n, seenAfter = n, lastSeen = n;
  for (std::size_t i = 0; i < n; ++i) {
    const bool gone = lost();
    missing += gone ? 1 : 0;
    if (gone && firstGone == n) firstGone = i;
    if (!gone && firstGone < i && seenAfter == n) seenAfter = i;
    if (!gone) lastSeen = i;
  }
  c.lostFirst = missing;
  if (missing == 0) {
    c.whole = true;
    return c;
  }
  if (missing == n || !mFragmentRepair) return c;  // nothing to ask about: the overlay's to repair
  const ReassemblerConfig repair;
  // A datagram after the first lost shows the gap; else the stall, from the last one come.
  std::int64_t askUs = seenAfter < n ? landsUs(seenAfter) : landsUs(lastSeen) + repair.stallUs;
  const int attempts = std::min(repair.maxNacks, static_cast<int>(Crossing::kMaxRepairs));
  for (int attempt = 0; attempt < attempts; ++attempt, askUs += repair.nackRepeatUs) {
    if (lost()) continue;  // the request was lost
    const std::size_t resent = missing * kMaxDatagram;
    c.resentBytes[c.repairs] = resent;
    // The resend leaves when the request is in and the uplink is free; its
    // time on the uplink is taken from what the sender sends next.
    const std::int64_t sendUs = std::max(askUs + latency, uplink.freeUs);
    const std::int64_t busyUs = transmitUs(uplink.kbps, resent);
    uplink.freeUs += busyUs;
    std::size_t still = 0;
    for (std::size_t i = 0; i < missing; ++i) still += lost() ? 1 : 0;
    ++c.repairs;
    if (still == 0) {
      arrives = std::max(arrives, sendUs + busyUs + latency);
      c.whole = true;
      return c;
    }
    missing = still;
  }
  return c;
}

RelayTimes relayTimes(const IncomingRing& ring, std::uint64_t seq, std::int64_t startUs, std::int64_t endUs,
                      std::size_t datagrams) {
  const Incoming& in = ring[seq % ring.size()];
  const std::int64_t datagramUs = (endUs - startUs) / static_cast<std::int64_t>(datagrams);
  RelayTimes t{startUs + datagramUs, endUs, true, 0};
  if (in.seq == seq && (!in.whole || in.wholeUs > startUs)) {
    t.firstLeavesUs = std::max(t.firstLeavesUs, in.firstUs + datagramUs);
    if (in.whole) {
      t.lastLeavesUs = std::max(t.lastLeavesUs, in.wholeUs + datagramUs);
    } else {
      t.whole = false;  // it never comes whole to us: nor through us
      t.givenUpUs = in.wholeUs;
    }
  }
  return t;
}

void noteIncoming(IncomingRing& ring, std::uint64_t seq, std::int64_t firstUs, std::int64_t endUs, bool whole) {
  Incoming& got = ring[seq % ring.size()];
  if (got.seq != seq) {
    got = Incoming{seq, firstUs, endUs, whole};
    return;
  }
  got.firstUs = std::min(got.firstUs, firstUs);
  if (whole && (!got.whole || endUs < got.wholeUs)) got.wholeUs = endUs;
  got.whole = got.whole || whole;
}

}  // namespace partyhub::streamer::sim
