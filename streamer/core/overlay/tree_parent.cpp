// The "tree" scheduler's parent side (tree_scheduler.hpp): whom it takes as
// children, whom it displaces or sends elsewhere, what a new child is sent.
#include "tree_scheduler.hpp"

#include <algorithm>
#include <cmath>

namespace partyhub::streamer::overlay::tree {

std::size_t TreeScheduler::capacity(const SchedulerHost& host) const {
  if (mStreamKbps == 0) return mStripes.size();
  const double stripeKbps = static_cast<double>(mStreamKbps) / static_cast<double>(mStripes.size());
  return static_cast<std::size_t>(std::floor(host.ownUploadKbps() * mC.utilisation / stripeKbps));
}

std::size_t TreeScheduler::capacityIn(const SchedulerHost& host, std::size_t s) const {
  if (host.isSource()) return host.sourceCopies();  // its k copies of each chunk
  return s == mHome ? capacity(host) : 0;
}

void TreeScheduler::sendAdmit(SchedulerHost& host, PeerId peer, std::size_t s) const {
  Message m;
  m.type = MsgType::kAdmit;
  m.seqs = {s};
  m.fromSeq = mStripes[s].anyHeld ? mStripes[s].newestHeld + 1 : 0;
  host.sendControl(peer, std::move(m));
}

void TreeScheduler::unsubscribe(SchedulerHost& host, PeerId to, std::size_t s, PeerId instead) {
  Message m;
  m.type = MsgType::kUnsubscribe;
  m.seqs = {s};
  if (instead != 0) m.peers.push_back(Descriptor{instead, 0, 0});  // where to ask instead
  host.sendControl(to, std::move(m));
}

PeerId TreeScheduler::roomBelow(std::size_t s, PeerId except, std::int64_t nowUs) const {
  for (const Child& c : mStripes[s].children) {
    if (c.id == except || c.slots == 0) continue;
    auto it = mKnown.find(c.id);
    if (it != mKnown.end() && nowUs - it->second.atUs <= kStateFreshUs && it->second.stripes[s].freeSlots > 0) return c.id;
  }
  return 0;
}

void TreeScheduler::admit(SchedulerHost& host, PeerId peer, std::size_t s, const Child& child, std::uint64_t fromSeq,
           std::int64_t nowUs) {
  Stripe& st = mStripes[s];
  // Not our parent (a loop), and only with a path to give.
  if (st.parent == peer || st.pending == peer || (!host.isSource() && st.parent == 0)) {
    ++mStats.refused;
    return unsubscribe(host, peer, s);
  }
  for (const Child& c : st.children) {
    if (c.id == peer) {  // ours already (it asks again, having heard nothing): say so, and send what it missed
      sendAdmit(host, peer, s);
      return backfill(host, peer, s, fromSeq);
    }
  }
  if (st.children.size() >= capacityIn(host, s)) {
    // One that serves more (or is far better provisioned) takes the place
    // of the child that serves least, which looks for another parent.
    if (st.children.empty() || !st.children.back().displacedBy(child)) {
      ++mStats.refused;
      return unsubscribe(host, peer, s, roomBelow(s, peer, nowUs));
    }
    ++mStats.displaced;
    // The displaced child may go under its replacement, if that serves
    // the stripe (it has room: it just came), or under another child.
    const PeerId displaced = st.children.back().id;
    st.children.pop_back();
    unsubscribe(host, displaced, s, child.slots > 0 ? peer : roomBelow(s, displaced, nowUs));
  }
  const auto at = std::find_if(st.children.begin(), st.children.end(), [&](const Child& c) { return child.before(c); });
  st.children.insert(at, child);
  sendAdmit(host, peer, s);
  backfill(host, peer, s, fromSeq);
}

void TreeScheduler::backfill(SchedulerHost& host, PeerId peer, std::size_t s, std::uint64_t fromSeq) {
  const Stripe& st = mStripes[s];
  if (fromSeq == 0 || !st.anyHeld) return;
  const std::uint64_t k = mStripes.size();
  const std::uint64_t floor = st.newestHeld > kBackfillStripePeriods * k ? st.newestHeld - kBackfillStripePeriods * k : 0;
  for (std::uint64_t q = std::max(fromSeq, floor); q <= st.newestHeld; ++q) {
    if (q % k == s && host.holds(q)) {
      host.enqueueChunk(peer, q, SendClass::kRequested);  // repair: after fresh pushes
      ++mStats.backfilled;
    }
  }
}

void TreeScheduler::removeChild(Stripe& st, PeerId peer) {
  st.children.erase(std::remove_if(st.children.begin(), st.children.end(), [&](const Child& c) { return c.id == peer; }),
                    st.children.end());
}

void TreeScheduler::shedExcessChildren(SchedulerHost& host) {
  for (std::size_t s = 0; s < mStripes.size(); ++s) {
    Stripe& st = mStripes[s];
    const std::size_t cap = capacityIn(host, s);
    while (st.children.size() > cap) {
      unsubscribe(host, st.children.back().id, s);
      st.children.pop_back();
    }
  }
}

void TreeScheduler::dropSilentChildren(SchedulerHost& host, std::int64_t nowUs) {
  // Every tick of every peer: without a suspect, not a child to look at (the
  // children's lists were cold, 2 % of the simulator's time).
  if (!host.anyUnresponsive()) return;
  for (Stripe& st : mStripes) {
    for (auto it = st.children.begin(); it != st.children.end();) {
      if (host.responsive(it->id, nowUs)) {
        ++it;
        continue;
      }
      it = st.children.erase(it);
    }
  }
}

}  // namespace partyhub::streamer::overlay::tree
