#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "scheduler.hpp"

namespace partyhub::streamer::overlay {

namespace {

// PartyHub's push scheduler: whenever the uplink is free, send the freshest
// chunk we hold to a neighbour that lacks it ("latest useful chunk", which
// Abeni, Kiraly and Lo Cigno show diffuses within a small factor of the
// optimum), preferring the best-provisioned neighbour so chunks climb to peers
// that can spread them furthest (seed paper §V-B). Deciding at send time, not
// at receipt, lets a rich peer send many copies and a poor one few, and uses
// the freshest knowledge of who has what. The source sends only k copies.
class PushScheduler final : public Scheduler {
 public:
  const char* name() const override { return "push"; }

  void onNewChunk(SchedulerHost&, std::uint64_t, PeerId, bool, std::int64_t) override {}
  void onTick(SchedulerHost&, std::int64_t) override {}
  [[nodiscard]] std::int64_t nextTickUs(std::int64_t) const override { return std::numeric_limits<std::int64_t>::max(); }
  void onMessage(SchedulerHost&, PeerId, const Message&, std::int64_t) override {}

  std::optional<std::pair<PeerId, std::uint64_t>> nextSend(SchedulerHost& host, std::int64_t nowUs) override {
    const auto& budgeted = host.budgeted();
    if (budgeted.empty()) return std::nullopt;
    // What does not depend on the chunk, once per call: which neighbours are
    // alive, and how much we would like each (the simulator spends its time
    // here: a call may look through every budgeted chunk).
    mNeighbours.clear();
    for (PeerId n : host.neighbours()) {
      if (host.responsive(n, nowUs)) mNeighbours.push_back(describe(host, n));
    }
    for (auto it = budgeted.rbegin(); it != budgeted.rend(); ++it) {  // freshest first
      const std::uint64_t seq = *it;
      const std::uint32_t budget = host.budget(seq);
      if (budget == 0) continue;  // our part of this chunk's diffusion is done
      if (host.isSource() && host.copiesSent(seq) >= host.sourceCopies()) continue;
      // A copy that carries no budget beyond its receiver makes a leaf: give
      // it to a poorly provisioned peer, which could not pass it on anyway,
      // and keep the rich ones for copies that must spread.
      const bool leaf = budget <= 1 && !host.isSource();
      // Delegated peers are ours alone to reach, and only they: the others
      // are other relays' to reach. Without delegates, any lacking neighbour.
      const std::vector<PeerId>& delegates = host.delegates(seq);
      const std::vector<Candidate>* candidates = &mNeighbours;
      if (!delegates.empty()) {
        mDelegates.clear();
        for (PeerId n : delegates) {
          if (host.responsive(n, nowUs)) mDelegates.push_back(describe(host, n));
        }
        candidates = &mDelegates;
      }
      // A random lacking candidate, weighted by upload: chunks lean towards
      // peers that can spread them, without piling every chunk's subtree
      // onto the same few rich peers (their uplinks would become the queue);
      // and, locality, inversely with RTT: a close peer passes it on sooner.
      mEligible.clear();
      mWeights.clear();
      for (std::size_t i = 0; i < candidates->size(); ++i) {
        const Candidate& c = (*candidates)[i];
        if (host.peerHas(c.id, seq) || host.sentTo(c.id, seq)) continue;
        mEligible.push_back(i);
        mWeights.push_back(leaf ? c.leafWeight : c.spreadWeight);
      }
      if (mEligible.empty()) continue;
      const Candidate* best = &(*candidates)[mEligible[weightedPick(mWeights, host.rng())]];
      // Split the budget like a binomial tree (each copy doubles the holders),
      // weighted by upload: a poor peer hands nearly all of it to a rich one.
      std::uint32_t give = budget;
      if (host.isSource()) {
        const std::size_t left = host.sourceCopies() - host.copiesSent(seq);
        give = static_cast<std::uint32_t>((budget + left - 1) / std::max<std::size_t>(1, left));
      } else {
        const double mine = std::max(1u, host.ownUploadKbps());
        const double theirs = std::max(1u, best->upload == 0 ? host.ownUploadKbps() : best->upload);
        give = static_cast<std::uint32_t>(std::ceil(budget * theirs / (mine + theirs)));
      }
      host.handOn(seq, std::min(give, budget));
      return std::make_pair(best->id, seq);
    }
    return std::nullopt;
  }

 private:
  struct Candidate {
    PeerId id;
    std::uint32_t upload;  // 0: not known
    double spreadWeight;   // for a copy that must spread: upload over distance
    double leafWeight;     // for a leaf: the other way round
  };

  static Candidate describe(SchedulerHost& host, PeerId n) {
    const std::uint32_t upload = host.uploadOf(n);
    const double spread = preference(upload, host.rttOf(n));
    const double up = std::max(1u, upload);
    return {n, upload, spread, 1e4 / (up * up) * spread};  // leaf: upload under distance
  }

  std::vector<Candidate> mNeighbours, mDelegates;  // reused: no allocation per call
  std::vector<std::size_t> mEligible;
  std::vector<double> mWeights;  // of mEligible
};

// The PeerStreamer-style baseline: every offer period, offer the recent buffer
// map to a few random neighbours; a receiver accepts the latest chunks it lacks
// (up to a few); the offerer then sends them.
class OfferAcceptScheduler final : public Scheduler {
 public:
  const char* name() const override { return "offer-accept"; }

  void onNewChunk(SchedulerHost& host, std::uint64_t seq, PeerId, bool, std::int64_t nowUs) override {
    // The source has nobody to offer to before it injects: push its copies.
    if (host.isSource()) {
      std::vector<PeerId> n(host.neighbours());
      std::shuffle(n.begin(), n.end(), host.rng());
      for (std::size_t i = 0; i < n.size() && i < host.sourceCopies(); ++i) host.enqueueChunk(n[i], seq, SendClass::kOffered);
    }
    (void)nowUs;
  }

  [[nodiscard]] std::int64_t nextTickUs(std::int64_t) const override {
    return mIsSource ? std::numeric_limits<std::int64_t>::max() : mNextOfferUs;
  }
  void onTick(SchedulerHost& host, std::int64_t nowUs) override {
    mIsSource = host.isSource();
    if (mIsSource || nowUs < mNextOfferUs) return;  // the source only pushes its k copies
    mNextOfferUs = nowUs + kOfferPeriodUs;
    const auto recent = host.recentHeld(kOfferWindow);
    if (recent.empty()) return;
    std::vector<PeerId> n(host.neighbours());
    std::shuffle(n.begin(), n.end(), host.rng());
    for (std::size_t i = 0; i < n.size() && i < kOffersPerPeriod; ++i) {
      Message offer;
      offer.type = MsgType::kOffer;
      offer.seqs.assign(recent.rbegin(), recent.rend());  // ascending for delta coding
      host.sendControl(n[i], std::move(offer));
    }
  }

  std::optional<std::pair<PeerId, std::uint64_t>> nextSend(SchedulerHost&, std::int64_t) override {
    return std::nullopt;  // accepted chunks wait on the upload queue
  }

  void onMessage(SchedulerHost& host, PeerId from, const Message& m, std::int64_t) override {
    if (m.type == MsgType::kOffer) {
      Message accept;
      accept.type = MsgType::kAccept;
      for (auto it = m.seqs.rbegin(); it != m.seqs.rend() && accept.seqs.size() < kAcceptMax; ++it) {
        if (!host.holds(*it)) accept.seqs.push_back(*it);
      }
      if (!accept.seqs.empty()) {
        std::sort(accept.seqs.begin(), accept.seqs.end());
        host.sendControl(from, std::move(accept));
      }
    } else if (m.type == MsgType::kAccept) {
      for (std::uint64_t s : m.seqs) {
        if (host.holds(s)) host.enqueueChunk(from, s, SendClass::kOffered);
      }
    }
  }

 private:
  static constexpr std::int64_t kOfferPeriodUs = 40'000;
  static constexpr std::size_t kOffersPerPeriod = 2;
  static constexpr std::size_t kOfferWindow = 32;
  static constexpr std::size_t kAcceptMax = 3;
  std::int64_t mNextOfferUs = 0;
  bool mIsSource = false;  // as of the last tick
};

}  // namespace

std::unique_ptr<Scheduler> makeTreeScheduler(const TreeConfig& config);  // tree_scheduler.cpp

std::unique_ptr<Scheduler> makeScheduler(const std::string& name, const TreeConfig& tree) {
  if (name == "push") return std::make_unique<PushScheduler>();
  if (name == "offer-accept") return std::make_unique<OfferAcceptScheduler>();
  if (name == "tree") return makeTreeScheduler(tree);
  throw std::invalid_argument("unknown scheduler '" + name + "' (expected push|offer-accept|tree)");
}

}  // namespace partyhub::streamer::overlay
