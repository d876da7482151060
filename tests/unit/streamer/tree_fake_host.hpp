// The tree scheduler's unit tests' fake host (a manual clock, no network)
// and message helpers: what a scheduler sent, queued and asked for.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <tuple>
#include <vector>

#include "core/overlay/scheduler.hpp"

namespace tree_test {

using namespace partyhub::streamer::overlay;

struct FakeHost final : SchedulerHost {
  struct Chunk {
    std::int64_t injectedUs;
    std::uint32_t hops;
  };
  bool source = false;
  bool small = false;
  std::uint32_t copies = 3;
  std::uint32_t upload = 2400;
  std::vector<PeerId> nbrs;
  std::map<PeerId, std::int64_t> rtts;
  std::set<PeerId> dead;
  std::map<std::uint64_t, Chunk> held;
  std::vector<std::pair<PeerId, Message>> sent;  // control messages
  std::vector<std::tuple<PeerId, std::uint64_t, SendClass>> queued;
  std::vector<std::pair<PeerId, std::vector<std::uint64_t>>> requests;
  std::mt19937_64 gen{7};

  bool isSource() const override { return source; }
  std::uint32_t sourceCopies() const override { return copies; }
  const std::vector<PeerId>& neighbours() const override { return nbrs; }
  std::uint32_t uploadOf(PeerId) const override { return 0; }
  bool peerHas(PeerId, std::uint64_t) const override { return false; }
  bool holds(std::uint64_t seq) const override { return held.count(seq) != 0; }
  std::vector<std::uint64_t> recentHeld(std::size_t) const override { return {}; }
  void enqueueChunk(PeerId peer, std::uint64_t seq, SendClass cls) override { queued.emplace_back(peer, seq, cls); }
  std::size_t copiesSent(std::uint64_t) const override { return 0; }
  bool sentTo(PeerId, std::uint64_t) const override { return false; }
  std::uint32_t budget(std::uint64_t) const override { return 0; }
  const std::vector<PeerId>& delegates(std::uint64_t) const override { return nbrs; }
  const std::vector<std::uint64_t>& budgeted() const override { return none; }
  void handOn(std::uint64_t, std::uint32_t) override {}
  std::uint32_t ownUploadKbps() const override { return upload; }
  std::int64_t rttOf(PeerId peer) const override {
    auto it = rtts.find(peer);
    return it == rtts.end() ? 0 : it->second;
  }
  bool responsive(PeerId peer, std::int64_t) const override { return dead.count(peer) == 0; }
  bool anyUnresponsive() const override { return !dead.empty(); }
  bool smallOverlay() const override { return small; }
  void sendControl(PeerId peer, Message m) override { sent.emplace_back(peer, std::move(m)); }
  std::mt19937_64& rng() override { return gen; }
  std::int64_t injectedOf(std::uint64_t seq) const override { return held.at(seq).injectedUs; }
  std::uint32_t hopsOf(std::uint64_t seq) const override { return held.at(seq).hops; }
  std::size_t bytesOf(std::uint64_t) const override { return 4000; }
  void request(PeerId peer, const std::vector<std::uint64_t>& seqs) override { requests.emplace_back(peer, seqs); }

  /// Control messages of `type` sent to `peer` since the last clear.
  [[nodiscard]] std::vector<Message> to(PeerId peer, MsgType type) const {
    std::vector<Message> out;
    for (const auto& [p, m] : sent) {
      if (p == peer && m.type == type) out.push_back(m);
    }
    return out;
  }
  std::vector<std::uint64_t> none;
};

inline Message subscribe(std::size_t stripe, std::uint32_t slots, std::uint32_t uploadKbps) {
  Message m;
  m.type = MsgType::kSubscribe;
  m.seqs = {stripe};
  m.slots = slots;
  m.uploadKbps = uploadKbps;
  return m;
}

inline Message simple(MsgType type, std::size_t stripe) {
  Message m;
  m.type = type;
  m.seqs = {stripe};
  return m;
}

/// A neighbour's tree state, the same in every stripe.
inline Message state(std::size_t stripes, std::uint32_t depth, std::uint32_t delayMs, std::uint32_t children,
              std::uint32_t freeSlots, std::uint32_t uploadKbps, std::uint32_t interior = 0) {
  Message m;
  m.type = MsgType::kTreeState;
  m.uploadKbps = uploadKbps;
  for (std::size_t s = 0; s < stripes; ++s) m.stripes.push_back({depth, delayMs, children, freeSlots, interior});
  return m;
}

/// A chunk `seq` came from `from`: held, then told to the scheduler.
inline void chunk(Scheduler& sch, FakeHost& host, std::uint64_t seq, PeerId from, std::int64_t nowUs, std::int64_t injectedUs,
           std::uint32_t hops, bool asked = false) {
  host.held[seq] = {injectedUs, hops};
  sch.onNewChunk(host, seq, from, asked, nowUs);
}

constexpr PeerId kA = 11, kB = 12, kC = 13, kD = 14;

/// A tree scheduler (two stripes unless said) that heard `parentState` from
/// kA and was admitted by it in stripe 0.
inline std::unique_ptr<Scheduler> admittedByA(FakeHost& host, const Message& parentState, std::uint32_t stripes = 2) {
  if (host.nbrs.empty()) host.nbrs = {kA};
  auto sch = makeScheduler("tree", TreeConfig{.stripes = stripes});
  sch->onMessage(host, kA, parentState, 0);
  sch->onTick(host, 10'000);
  sch->onMessage(host, kA, simple(MsgType::kAdmit, 0), 20'000);
  return sch;
}

}  // namespace tree_test
