// The node's neighbourhood: who it trades with, chosen from its view by
// locality (ALTO cost, then measured RTT), upload and chance, plus the peers
// that trade with it; and the active monitoring (RTT probes) that feeds it.
#include "node.hpp"

#include <algorithm>
#include <climits>
#include <tuple>

namespace partyhub::streamer::overlay {

namespace {
constexpr double kUnknownCost = 1e300;
constexpr std::int64_t kStarvingUs = 1'000'000;  // no chunk for this long: tell the view of us
constexpr std::int64_t kJoinerProbesAllUs = 3'000'000;  // a joiner pings every unmeasured view member this long
constexpr std::size_t kProbesPerRefresh = 4;            // after that, at most these a neighbour refresh
}  // namespace

bool Node::responsive(PeerId peer, std::int64_t /*nowUs*/) const {
  // Judged by acknowledgements, not by silence: a peer we send nothing has
  // nothing to say, and a starving peer is the one that most needs pushes.
  // Pushes that went unacknowledged twice in a row, with nothing heard from
  // it since, mean it is gone (or its path is): push elsewhere.
  if (mSuspects == 0) return true;  // the usual case, without a lookup
  auto it = mMisses.find(peer);
  return it == mMisses.end() || it->second < kMissesBeforeSuspect;
}

std::pair<double, std::int64_t> Node::closeness(PeerId peer) const {
  double cost = kUnknownCost;
  if (mConfig.alto) {
    if (auto c = mConfig.alto->cost(mSelf, peer)) cost = *c;
  }
  const std::int64_t rtt = rttOf(peer);
  return {cost, rtt == 0 ? INT64_MAX : rtt};
}

std::int64_t Node::rttOf(PeerId peer) const {
  auto it = mRtt.find(peer);
  return it == mRtt.end() ? 0 : it->second;
}

void Node::noteRtt(PeerId peer, std::int64_t rttUs) {
  mRtt[peer] = rttUs;
  forgetClose(peer);
  if (peer == mSelf || (mClosest.size() >= kClosestKept && rttUs >= mClosest.back().first)) return;
  const auto entry = std::make_pair(rttUs, peer);
  mClosest.insert(std::upper_bound(mClosest.begin(), mClosest.end(), entry), entry);
  if (mClosest.size() > kClosestKept) mClosest.pop_back();
}

void Node::forgetClose(PeerId peer) {
  mClosest.erase(std::remove_if(mClosest.begin(), mClosest.end(), [peer](const auto& e) { return e.second == peer; }),
                 mClosest.end());
}

void Node::measureSuggested(PeerId from, const std::vector<Descriptor>& suggested, std::int64_t nowUs) {
  if (suggested.empty() || mConfig.alto || !wantsClose()) return;  // with a cost map, closeness is the map's
  if (std::none_of(mClosest.begin(), mClosest.end(), [from](const auto& e) { return e.second == from; })) return;
  for (const Descriptor& d : suggested) {
    if (mVicinityPings >= kClosestKept) return;  // a neighbour period's worth
    if (d.id == mSelf || d.id == 0 || mRtt.count(d.id) != 0) continue;
    ping(d.id, nowUs);
    ++mVicinityPings;
  }
}

void Node::refreshClosest(std::int64_t nowUs) {
  if (!wantsClose()) return;
  const std::int64_t timeoutUs = mConfig.membership.peerTimeoutUs;
  mClosest.erase(std::remove_if(mClosest.begin(), mClosest.end(),
                                [&](const auto& e) {
                                  const std::int64_t heard = mMembership->lastHeard(e.second);
                                  return heard == 0 || nowUs - heard > timeoutUs;
                                }),
                 mClosest.end());
  // Those we have not heard from lately (close, but not among the
  // neighbours we trade with) are asked again before they time out.
  for (const auto& [rtt, peer] : mClosest) {
    if (nowUs - mMembership->lastHeard(peer) > timeoutUs / 2) ping(peer, nowUs);
  }
}

void Node::ping(PeerId peer, std::int64_t nowUs) {
  Message m;
  m.type = MsgType::kPing;
  m.echoUs = nowUs;
  emit(peer, std::move(m));
}

void Node::probe(std::int64_t nowUs) {
  // Active monitoring: measure the RTT to a few view members we know nothing of.
  // A joiner, its first seconds, measures its whole view at once: a peer's
  // upload is believed only from the peer itself (Membership::merge), and
  // the best-provisioned are the neighbours it wants first. Whoever does not
  // answer leaves the view after the peer timeout (gossip may name peers
  // that do not exist).
  std::size_t sent = 0;
  const std::size_t limit = nowUs - mJoinedUs < kJoinerProbesAllUs ? mMembership->view().size() : kProbesPerRefresh;
  for (const Descriptor& d : mMembership->view()) {
    if (sent >= limit) break;
    if (mRtt.count(d.id) != 0) continue;
    ping(d.id, nowUs);
    mMembership->expect(d.id, nowUs);
    ++sent;
  }
}

void Node::refreshNeighbours(std::int64_t nowUs) {
  mNextNeighbourRefreshUs = nowUs + mConfig.membership.periodUs;
  mVicinityPings = 0;
  refreshClosest(nowUs);
  probe(nowUs);
  std::vector<Descriptor> view = mMembership->view();
  std::shuffle(view.begin(), view.end(), mRng);
  std::vector<PeerId> next;
  // Locality first: the closest peers (by ALTO cost when a map is given,
  // else by RTT). For a tree in an overlay larger than our view
  // (wantsClose), `closeShare` of the neighbourhood, from the closest
  // measured lately, then the view's: a hop's latency is short
  // (N = 2000, 60 s: 32 -> 23 ms a tree hop, p50 325 -> 294 ms, p99 of the
  // settled trees 525 -> 452 ms). Otherwise the closest half of the view.
  // Then bandwidth-aware: the best-provisioned peers we know
  // (so chunks climb to them early), then random ones (to keep the mesh
  // connected and the load spread). Only the head of each order is used:
  // sorted that far, each peer's key taken once, ties in the shuffled order
  // (as a stable sort keeps them).
  struct Ranked {
    std::pair<double, std::int64_t> closeness;
    std::uint32_t uploadKbps;
    std::size_t at;  // in `view`
  };
  std::vector<Ranked> ranked(view.size());
  for (std::size_t i = 0; i < view.size(); ++i) ranked[i] = {closeness(view[i].id), view[i].uploadKbps, i};
  const bool local = wantsClose();
  const double share = local ? mConfig.closeShare : 0.5;
  const auto closeWanted = std::min(mConfig.neighbours, static_cast<std::size_t>(share * static_cast<double>(mConfig.neighbours)));
  if (local && !mConfig.alto) {  // the closest measured, kept across shuffles
    for (const auto& [rtt, peer] : mClosest) {
      if (next.size() >= closeWanted) break;
      next.push_back(peer);
    }
  }
  const std::size_t close = std::min(closeWanted, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(close), ranked.end(),
                    [](const Ranked& a, const Ranked& b) { return std::tie(a.closeness, a.at) < std::tie(b.closeness, b.at); });
  for (std::size_t i = 0; i < close && next.size() < closeWanted; ++i) {
    const auto [cost, rtt] = ranked[i].closeness;
    if (cost == kUnknownCost && rtt == INT64_MAX) break;
    const PeerId id = view[ranked[i].at].id;
    if (std::find(next.begin(), next.end(), id) == next.end()) next.push_back(id);
  }
  // The best-provisioned: at most `best` looked at (those taken already skipped).
  const std::size_t best = closeWanted + (mConfig.neighbours - closeWanted + 1) / 2;
  const std::size_t upTo = std::min(best, ranked.size());
  std::partial_sort(ranked.begin(), ranked.begin() + static_cast<std::ptrdiff_t>(upTo), ranked.end(),
                    [](const Ranked& a, const Ranked& b) {
                      return a.uploadKbps != b.uploadKbps ? a.uploadKbps > b.uploadKbps : a.at < b.at;
                    });
  for (std::size_t i = 0; i < upTo && next.size() < best; ++i) {
    const PeerId id = view[ranked[i].at].id;
    if (std::find(next.begin(), next.end(), id) == next.end()) next.push_back(id);
  }
  for (const Descriptor& d : view) {
    if (next.size() >= mConfig.neighbours) break;
    if (std::find(next.begin(), next.end(), d.id) == next.end()) next.push_back(d.id);
  }
  // A starving peer (a joiner: nothing came for a second) tells its view of
  // itself, with an empty buffer map: whoever trades with us takes us as a
  // neighbour and sends us its buffer map. Holding nothing, it sends nothing
  // else, and would wait to be picked by chance: at N=2000 the slowest
  // joiners got their first chunk 3-4 s after joining. (Those it chose
  // first, then the rest of the view: only those chosen, delivery within
  // 1 s in the first second 0.80 against 0.87.) Only when starving: traders
  // heard from lately are the ones a peer keeps (telling at every refresh
  // displaced real traders: mean delivery 0.998 -> 0.996 over 60 s).
  const bool starving = !mConfig.isSource && (mLastChunkUs < 0 || nowUs - mLastChunkUs > kStarvingUs);
  if (starving) {
    const auto tell = [&](PeerId p) {
      if (std::find(mNeighbours.begin(), mNeighbours.end(), p) != mNeighbours.end()) return;
      ping(p, nowUs);  // (the RTT, for the next choice)
      Message m;  // an empty buffer map: "trade with me"
      m.type = MsgType::kHave;
      emit(p, std::move(m));
    };
    for (PeerId p : next) tell(p);
    for (const Descriptor& d : view) {
      if (std::find(next.begin(), next.end(), d.id) == next.end()) tell(d.id);
    }
  }
  // Peers that trade with us stay while they are alive, those heard from
  // most lately first.
  std::vector<std::pair<std::int64_t, PeerId>> inbound;
  std::vector<PeerId> gone;
  mMembership->traders(nowUs, inbound, gone);
  for (PeerId p : gone) {
    mKnows.erase(p);
    forgetClose(p);
  }
  std::sort(inbound.begin(), inbound.end(), std::greater<>());
  for (const auto& [heardUs, peer] : inbound) {
    if (next.size() >= 2 * mConfig.neighbours) break;
    if (std::find(next.begin(), next.end(), peer) == next.end()) next.push_back(peer);
  }
  // Whom we trade with by subscription (tree parents and children) stays.
  mPartners.clear();
  mScheduler->partners(mPartners);
  for (PeerId p : mPartners) {
    if (std::find(next.begin(), next.end(), p) == next.end()) next.push_back(p);
  }
  mNeighbours = std::move(next);
  prune();
}

}  // namespace partyhub::streamer::overlay
