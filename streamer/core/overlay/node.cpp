// The overlay node (node.hpp): its events (join, leave, a peer's message, a
// local chunk, a tick), what it holds and knows others to hold, and the
// buffer maps and pulls that repair what pushes missed. What it sends of its
// own accord is in node_upload.cpp, whom it trades with in
// node_neighbourhood.cpp, what it believes of its peers' words in
// node_trust.cpp.
#include "node.hpp"

#include <algorithm>

namespace partyhub::streamer::overlay {

Node::Node(PeerId self, NodeConfig config, std::uint64_t seed)
    : mSelf(self), mConfig(std::move(config)), mRng(seed),
      mMembership(mConfig.sharedMembership ? mConfig.sharedMembership
                                           : std::make_shared<Membership>(self, mConfig.uploadKbps, mConfig.membership)),
      mOwnMembership(!mConfig.sharedMembership), mScheduler(makeScheduler(mConfig.scheduler, mConfig.tree)),
      mHeld(std::max<std::size_t>(1, mConfig.window)) {
  if (mConfig.estimateUpload) {
    UploadEstimatorConfig c;
    c.ceilingKbps = mConfig.uploadKbps;
    c.floorKbps = std::min(c.floorKbps, c.ceilingKbps);
    mUploadEstimate.emplace(c);
  }
}

void Node::emit(PeerId to, Message m) {
  // Our upload rides on gossip and probes; not on chunks and buffer maps,
  // the bulk of what we send.
  if (m.type != MsgType::kChunk && m.type != MsgType::kHave) m.uploadKbps = mConfig.uploadKbps;
  // Everything we send occupies the uplink, signalling included.
  const std::size_t bytes = wireBytes(m);
  occupyUplink(bytes);
  mStats.bytesSent += bytes;
  mStats.payloadBytesSent += payloadBytes(m);
  mOut->sends.emplace_back(to, std::move(m));
  mOut->sendBytes.push_back(bytes);
}

void Node::sendControl(PeerId peer, Message m) { emit(peer, std::move(m)); }

void Node::emitAnswer(PeerId to, Message m, std::int64_t nowUs) {
  if (!mAnswers.take(wireBytes(m), mConfig.answerShare, mConfig.uploadKbps, nowUs)) {
    ++mStats.answersShed;
    return;
  }
  emit(to, std::move(m));
}

void Node::join(const std::vector<PeerId>& bootstrap, std::int64_t nowUs, NodeActions& out) {
  mOut = &out;
  mNowUs = nowUs;
  mJoinedUs = nowUs;
  if (mOwnMembership) {
    for (auto& [to, m] : mMembership->join(bootstrap, nowUs)) emit(to, std::move(m));
  }
  refreshNeighbours(nowUs);
}

void Node::leave(std::int64_t /*nowUs*/, NodeActions& out) {
  mOut = &out;
  if (!mOwnMembership) return;  // the signalling overlay's owner tells everyone once
  std::unordered_set<PeerId> told;
  auto tell = [&](PeerId p) {
    if (told.insert(p).second) {
      Message m;
      m.type = MsgType::kLeave;
      emit(p, std::move(m));
    }
  };
  for (PeerId p : mNeighbours) tell(p);
  for (const Descriptor& d : mMembership->view()) tell(d.id);
}

bool Node::peerHas(PeerId peer, std::uint64_t seq) const {
  if (peer == mSourceId) return true;  // it injected every chunk there is
  auto it = mKnows.find(peer);
  return it != mKnows.end() && it->second.has(seq);
}

void Node::markHas(PeerId peer, std::uint64_t seq) {
  if (peer != 0) mKnows[peer].mark(seq);
}

std::vector<std::uint64_t> Node::recentHeld(std::size_t max) const {
  std::vector<std::uint64_t> out;
  if (!mAnyKnown) return out;
  for (std::uint64_t i = 0; i < mHeld.size() && i <= mNewestKnown && out.size() < max; ++i) {
    // Whole chunks only (PeerStreamer's buffer maps): not one still coming in.
    const Held* h = findHeld(mNewestKnown - i);
    if (h != nullptr && h->whole) out.push_back(mNewestKnown - i);
  }
  return out;
}

void Node::enqueueChunk(PeerId peer, std::uint64_t seq, SendClass cls) { mQueue.push_back({peer, seq, cls, mNowUs}); }

void Node::accept(PeerId from, const Held& h, std::int64_t nowUs) {
  const std::uint64_t seq = h.chunk->seq();
  Held& slot = mHeld[seq % mHeld.size()];
  if (slot.chunk && slot.seq > seq) return;  // older than the window: nothing to do with it
  slot = h;
  slot.seq = seq;
  slot.arrivedUs = nowUs;
  slot.from = from;
  if (slot.bytes == 0) slot.bytes = static_cast<std::uint32_t>(h.chunk->payload().size());
  if (h.budget > 0) mBudgeted.insert(std::upper_bound(mBudgeted.begin(), mBudgeted.end(), seq), seq);
  ++mStats.chunksReceived;
  bool pulled = false;
  if (auto asked = mRequested.find(seq); asked != mRequested.end()) {
    pulled = true;
    if (asked->second.of == from) mUnanswered.erase(from);  // it answers
    mRequested.erase(asked);
  }
  mFirstHeardOf.erase(seq);
  // Our first chunk: what we heard of before it was believed unchecked, and
  // is dropped if far ahead of it (see plausibleSeq).
  if (mLastAcceptUs < 0 && mAnyKnown && mNewestKnown > seq + mConfig.window / 4) mNewestKnown = seq;
  if (!mAnyKnown || seq > mNewestKnown) mNewestKnown = seq;
  mAnyKnown = true;
  if (mLastAcceptUs < 0 || seq > mNewestAccepted) mNewestAccepted = seq;
  mLastAcceptUs = nowUs;
  mNewestCaptureUs = std::max(mNewestCaptureUs, h.chunk->capture_us());
  slot.pulled = pulled;
  // Told at its first datagram: copies may go now (the transport relays the
  // body as it lands), the players and the buffer maps wait for it whole.
  if (h.whole) {
    mOut->delivered.push_back({h.chunk, h.injectedUs, h.hops, pulled});
    mPendingHaves.push_back(seq);
  }
  mScheduler->onNewChunk(*this, seq, from, pulled, nowUs);
}

void Node::onChunkComplete(std::uint64_t seq, ChunkPtr whole, std::int64_t nowUs, NodeActions& out) {
  mOut = &out;
  mNowUs = nowUs;
  Held* h = findHeld(seq);
  if (h != nullptr && !h->whole) {
    h->whole = true;
    if (whole && whole->seq() == seq) h->chunk = std::move(whole);
    mOut->delivered.push_back({h->chunk, h->injectedUs, h->hops, h->pulled});
    mPendingHaves.push_back(seq);
  }
  pumpUpload(nowUs);
}

void Node::onChunkFailed(PeerId from, std::uint64_t seq, std::int64_t nowUs, NodeActions& out) {
  mOut = &out;
  mNowUs = nowUs;
  Held* h = findHeld(seq);
  if (h == nullptr || h->whole || h->from != from) return;
  // The copies we started of it fail with it: their receivers pull. The
  // seq is missing again, for a pull of ours.
  *h = Held{};
  mBudgeted.erase(std::remove(mBudgeted.begin(), mBudgeted.end(), seq), mBudgeted.end());
  pumpUpload(nowUs);
}

void Node::restart() {
  ++mStats.restarts;
  for (Held& h : mHeld) h = Held{};
  mNewestKnown = 0;
  mAnyKnown = false;
  mNewestAccepted = 0;
  mLastAcceptUs = -1;
  mRestartWitness = 0;
  mRestartWitnessed = Held{};
  mNewestCaptureUs = 0;
  mSourceId = 0;
  mKnows.clear();
  mFirstHeardOf.clear();
  mRequested.clear();
  mSentTo.clear();
  mBudgeted.clear();
  mQueue.clear();
  mUnacked.clear();
  mUnackedDueUs = std::numeric_limits<std::int64_t>::max();
  mTimedOut.clear();
  mDepartures.clear();
  mAcksOwed.clear();
  mStampsOwed.clear();
  mPendingHaves.clear();
  mLastChunkUs = -1;
}

std::vector<PeerId> Node::wholeOverlay() const {
  const auto& view = mMembership->view();
  std::vector<PeerId> all;
  if (!knowsWholeOverlay()) return all;
  all.reserve(view.size() + mNeighbours.size());
  for (const Descriptor& d : view) all.push_back(d.id);
  for (PeerId n : mNeighbours) {
    if (std::find(all.begin(), all.end(), n) == all.end()) all.push_back(n);
  }
  return all;
}

const std::vector<PeerId>& Node::delegates(std::uint64_t seq) const {
  static const std::vector<PeerId> kNone;
  const Held* h = findHeld(seq);
  return h == nullptr ? kNone : h->delegates;
}

void Node::onLocalChunk(ChunkPtr chunk, std::int64_t nowUs, NodeActions& out) {
  mOut = &out;
  mNowUs = nowUs;
  // Structured push when the overlay is small enough for us to know it all
  // (a conference's channel): the chunk's budget is exactly the peers there
  // are, and each copy carries its own disjoint share of them, so relays
  // never push it to the same peer (independent choices collide: in a
  // six-peer overlay, two duplicates per useful chunk). In a larger overlay
  // the budget is the size hint and relays choose among their neighbours.
  Held held{std::move(chunk), nowUs, 0, mConfig.overlaySizeHint, 0, {}};
  held.delegates = wholeOverlay();
  if (!held.delegates.empty()) held.budget = static_cast<std::uint32_t>(held.delegates.size());
  accept(0, held, nowUs);
  pumpUpload(nowUs);
}

void Node::onMessage(PeerId from, const Message& m, std::int64_t nowUs, NodeActions& out) {
  mOut = &out;
  mNowUs = nowUs;
  if (auto miss = mMisses.find(from); miss != mMisses.end()) {
    if (miss->second >= kMissesBeforeSuspect) --mSuspects;
    mMisses.erase(miss);
  }
  if (mOwnMembership) {
    for (auto& [to, reply] : mMembership->onMessage(from, m, nowUs, mRng)) emitAnswer(to, std::move(reply), nowUs);
  }
  if (m.type == MsgType::kLeave) {
    mScheduler->onPeerGone(*this, from);
    forgetClose(from);
    mNeighbours.erase(std::remove(mNeighbours.begin(), mNeighbours.end(), from), mNeighbours.end());
    mMembership->forgetTrade(from);
    mKnows.erase(from);
    mStampsOwed.erase(from);
    if (mUploadEstimate) mUploadEstimate->forget(from);
    return;
  }
  if (m.type != MsgType::kGossip && m.type != MsgType::kGossipReply && m.type != MsgType::kPing &&
      m.type != MsgType::kPong) {
    // Whoever trades with us becomes a neighbour too (we answer with our
    // buffer map), up to twice the target: a popular peer, the source above
    // all, must not end up advertising to everyone. Not a ping (a
    // measurement): as trade, every probe and every close peer's check
    // made a neighbour (N = 150, tree: 11-26 stripes without a parent in a
    // steady overlay; a joiner's first seconds' pings to its whole view,
    // 32-43). A starving peer says "trade with me" with a buffer map.
    mMembership->traded(from, nowUs);
    if (mNeighbours.size() < 2 * mConfig.neighbours &&
        std::find(mNeighbours.begin(), mNeighbours.end(), from) == mNeighbours.end()) {
      mNeighbours.push_back(from);
    }
  }
  switch (m.type) {
    case MsgType::kChunk: {
      if (!m.chunk) break;
      Held after{};  // a restart witness's chunk, to take after this one
      PeerId afterFrom = 0;
      const std::uint64_t seq = m.chunk->seq();
      if (!plausibleSeq(seq, nowUs)) {
        ++mStats.implausible;
        break;
      }
      mLastChunkUs = nowUs;
      if (!followRestart(from, m, nowUs, after, afterFrom)) {
        ++mStats.implausible;
        break;
      }
      if (m.hops == 0) mSourceId = from;  // only the source sends a chunk on its first hop
      markHas(from, seq);
      acknowledged(from, seq, nowUs);
      for (PeerId p : m.alsoSentTo) markHas(p, seq);
      // Every chunk is acknowledged (see checkAcks), even a duplicate, so
      // its sender knows we are alive and does not send it again (one still
      // coming, at its first datagram: the ack's delay stays the path's, not
      // the body's way from upstream; a body that never comes is pulled).
      mAcksOwed[from].push_back(seq);
      // A first arrival (see stamped()), by its first datagram: what queued
      // ahead of it in the sender's uplink, not its own size over the link.
      if (m.stamp && !holds(seq)) mStampsOwed[from] = {seq, m.arrivedUs != 0 ? m.arrivedUs : nowUs};
      if (holds(seq)) {
        ++mStats.duplicates;
        // Its budget is not lost with it: we spread it too.
        if (m.budget > 0 && nowUs - m.injectedUs <= mConfig.deadlineUs) {
          addBudget(seq, m.budget);
          Held* h = findHeld(seq);
          for (PeerId p : m.delegates) {
            if (std::find(h->delegates.begin(), h->delegates.end(), p) == h->delegates.end()) h->delegates.push_back(p);
          }
        }
      } else if (mLastAcceptUs < 0 || seq + mConfig.window > mNewestKnown) {  // (hearsay alone sets no window)
        // Our copy counts for us: the rest of its budget is ours to hand on.
        Held h{m.chunk, m.injectedUs, m.hops + 1, m.budget > 0 ? m.budget - 1 : 0, 0, m.delegates};
        h.whole = !m.coming;
        h.bytes = m.payloadBytes;  // a header's (accept() takes the payload's otherwise)
        accept(from, h, nowUs);
      }
      if (after.chunk && plausibleSeq(after.chunk->seq(), nowUs) && !holds(after.chunk->seq())) {
        accept(afterFrom, after, nowUs);
      }
      break;
    }
    case MsgType::kHave: {
      // One lookup for the sender's buffer map, not one per seq; and most
      // HAVEs acknowledge nothing of ours (they are buffer maps).
      SeqWindow* knows = from != 0 ? &mKnows[from] : nullptr;
      const bool awaited = awaitsAck(from);
      if (m.stampRecvUs != 0) stamped(from, m.stampSeq, m.stampRecvUs, nowUs);
      for (std::uint64_t s : m.seqs) {
        if (!plausibleSeq(s, nowUs)) {
          ++mStats.implausible;
          continue;
        }
        if (knows != nullptr) knows->mark(s);
        if (awaited) acknowledged(from, s, nowUs);
        if (!holds(s)) {
          mFirstHeardOf.emplace(s, nowUs);
          if (!mAnyKnown || s > mNewestKnown) mNewestKnown = s;
          mAnyKnown = true;
        }
      }
      break;
    }
    case MsgType::kRequest:
      for (std::uint64_t s : m.seqs) {
        if (!holds(s)) continue;
        if (mayAnswer(from)) {
          enqueueChunk(from, s, SendClass::kRequested);
        } else {
          ++mStats.requestsRefused;
        }
      }
      break;
    case MsgType::kOffer:
      for (std::uint64_t s : m.seqs) {
        if (plausibleSeq(s, nowUs)) markHas(from, s);
      }
      mScheduler->onMessage(*this, from, m, nowUs);
      break;
    case MsgType::kAccept:
    case MsgType::kTreeState:
    case MsgType::kSubscribe:
    case MsgType::kAdmit:
    case MsgType::kUnsubscribe: mScheduler->onMessage(*this, from, m, nowUs); break;
    case MsgType::kPing: {
      Message pong;
      pong.type = MsgType::kPong;
      pong.echoUs = m.echoUs;
      for (const auto& [rtt, peer] : mClosest) {
        if (pong.peers.size() >= kClosestTold || !wantsClose()) break;
        if (peer != from) pong.peers.push_back({peer, 0, mMembership->uploadOf(peer)});
      }
      emitAnswer(from, std::move(pong), nowUs);
      break;
    }
    case MsgType::kPong:
      if (m.echoUs > 0 && m.echoUs <= nowUs) {
        noteRtt(from, nowUs - m.echoUs);
        measureSuggested(from, m.peers, nowUs);
      }
      break;
    default: break;
  }
  // Tell neighbours about a new chunk at once (unless a batch went out just
  // now): the staler their knowledge, the more duplicates they send us.
  if ((!mPendingHaves.empty() || !mAcksOwed.empty()) && nowUs >= mNextHaveFlushUs) flushHaves(nowUs);
  pumpUpload(nowUs);
}

void Node::onUplinkFree(std::int64_t nowUs, NodeActions& out) {
  mOut = &out;
  mNowUs = nowUs;
  pumpUpload(nowUs);
}

void Node::onTick(std::int64_t nowUs, NodeActions& out) {
  mOut = &out;
  mNowUs = nowUs;
  mLastTickUs = nowUs;
  if (mMembership->view().size() >= mConfig.membership.viewSize) mViewFullAtUs = nowUs;
  checkAcks(nowUs);
  if (mUploadEstimate) {
    mConfig.uploadKbps = mUploadEstimate->budgetKbps(nowUs);
    if (mOwnMembership) mMembership->setSelfUpload(mConfig.uploadKbps);  // our descriptor in gossip too
  }
  dropSpentBudgets(nowUs);
  if (mOwnMembership) {
    for (auto& [to, m] : mMembership->onTick(nowUs, mRng)) emit(to, std::move(m));
  }
  if (nowUs >= mNextNeighbourRefreshUs) refreshNeighbours(nowUs);
  mScheduler->onTick(*this, nowUs);
  if (nowUs >= mNextHaveFlushUs) flushHaves(nowUs);
  if (nowUs >= mNextPullUs) pull(nowUs);
  pumpUpload(nowUs);
}

std::int64_t Node::nextTickUs() const {
  std::int64_t due = mLastTickUs + kIdleTickUs;  // lazy cleanups (timed-out pushes, the view's fullness)
  const auto soon = [&due](std::int64_t t) { due = std::min(due, t); };
  soon(mUnackedDueUs);
  // A budget past its chunk's deadline must go before the pump looks at it
  // (it stops at a stale chunk). The oldest seq's goes first.
  if (!mBudgeted.empty()) {
    if (const Held* h = findHeld(mBudgeted.front())) soon(h->injectedUs + mConfig.deadlineUs + 1);
  }
  if (!mPendingHaves.empty() || !mAcksOwed.empty()) soon(mNextHaveFlushUs);
  if (!mFirstHeardOf.empty()) soon(mNextPullUs);
  // A backlog stopped the pump at the last event: it goes on when the uplink
  // drains. (With a free uplink it sent all it could; only news moves it.)
  if (waitsForUplink() && uplinkFreeAtUs() > mNowUs) soon(uplinkFreeAtUs());
  soon(mNextNeighbourRefreshUs);
  if (mOwnMembership) soon(mMembership->nextTickUs());
  soon(mScheduler->nextTickUs(mLastTickUs));
  return due;
}

void Node::flushHaves(std::int64_t nowUs) {
  mNextHaveFlushUs = nowUs + mConfig.haveBatchUs;
  // The source's upload is for its k fresh copies: it advertises nothing, so
  // nobody pulls from it.
  if (mConfig.isSource) mPendingHaves.clear();
  if (mPendingHaves.empty() && mAcksOwed.empty()) return;
  std::sort(mPendingHaves.begin(), mPendingHaves.end());
  const bool structured = knowsWholeOverlay();
  const std::int64_t broadcastUs =
      structured ? mConfig.haveBroadcastStructuredUs : std::max(mConfig.haveBroadcastUs, mScheduler->haveBroadcastUs());
  if (broadcastUs > 0 && nowUs < mNextHaveBroadcastUs) {
    // Acknowledgements only (with what else the pusher lacks): the buffer
    // map waits for its broadcast.
    for (auto& [peer, seqs] : mAcksOwed) {
      Message m;
      m.type = MsgType::kHave;
      m.seqs = std::move(seqs);
      for (std::uint64_t s : mPendingHaves) {
        if (!peerHas(peer, s) && std::find(m.seqs.begin(), m.seqs.end(), s) == m.seqs.end()) m.seqs.push_back(s);
      }
      std::sort(m.seqs.begin(), m.seqs.end());
      emitHave(peer, std::move(m));
    }
    mAcksOwed.clear();
    return;
  }
  mNextHaveBroadcastUs = nowUs + broadcastUs;
  for (PeerId n : mNeighbours) {
    // Gathered in a scratch list, then copied once (growing each message's
    // list was a malloc a seq).
    std::vector<std::uint64_t>& seqs = mSeqScratch;
    seqs.clear();
    // What it is not known to hold (it sent us this one, or we sent it; the
    // source injected them all). One lookup per neighbour, not per seq.
    if (n != mSourceId) {
      auto known = mKnows.find(n);
      for (std::uint64_t s : mPendingHaves) {
        if (known == mKnows.end() || !known->second.has(s)) seqs.push_back(s);
      }
    }
    // Acknowledgements ride on the same HAVE.
    auto owed = mAcksOwed.find(n);
    if (owed != mAcksOwed.end()) {
      for (std::uint64_t s : owed->second) {
        if (std::find(seqs.begin(), seqs.end(), s) == seqs.end()) seqs.push_back(s);
      }
      mAcksOwed.erase(owed);
      std::sort(seqs.begin(), seqs.end());
    }
    if (seqs.empty()) continue;
    Message m;
    m.type = MsgType::kHave;
    m.seqs.assign(seqs.begin(), seqs.end());
    emitHave(n, std::move(m));
  }
  for (auto& [peer, seqs] : mAcksOwed) {  // pushers that are not our neighbours
    Message m;
    m.type = MsgType::kHave;
    m.seqs = std::move(seqs);
    std::sort(m.seqs.begin(), m.seqs.end());
    emitHave(peer, std::move(m));
  }
  mAcksOwed.clear();
  mPendingHaves.clear();
}

void Node::emitHave(PeerId to, Message m) {
  if (!mStampsOwed.empty()) {
    if (auto it = mStampsOwed.find(to); it != mStampsOwed.end()) {
      m.stampSeq = it->second.seq;
      m.stampRecvUs = it->second.recvUs;
      mStampsOwed.erase(it);
    }
  }
  emit(to, std::move(m));
}

bool Node::mayRequest(std::uint64_t seq) const {
  if (holds(seq)) return false;
  auto req = mRequested.find(seq);
  return req == mRequested.end() || mNowUs - req->second.atUs > mConfig.requestTimeoutUs;  // not asked, or long ago
}

void Node::request(PeerId peer, const std::vector<std::uint64_t>& seqs) {
  Message m;
  m.type = MsgType::kRequest;
  for (std::uint64_t seq : seqs) {
    if (!mayRequest(seq)) continue;
    Asked& asked = mRequested[seq];
    if (asked.of != 0) {  // asked before, and it never came
      Unanswered& u = mUnanswered[asked.of];
      ++u.count;
      u.lastUs = mNowUs;
    }
    asked = {mNowUs, peer};
    ++mStats.requests;
    m.seqs.push_back(seq);
  }
  if (m.seqs.empty()) return;
  std::sort(m.seqs.begin(), m.seqs.end());
  emit(peer, std::move(m));
}

void Node::pull(std::int64_t nowUs) {
  mNextPullUs = nowUs + 20'000;
  // In an overlay known whole the source is asked last: its structured push
  // sends all its k copies of every chunk, and it answers a request only
  // while short of them, so a request to it (the best provisioned, the
  // likeliest pick) went unanswered and the pull waited out its timeout.
  // (In a large overlay its tree children may be fewer than k, and it
  // answers: asking it there as any owner did better at N = 2000.)
  const bool sourceLast = knowsWholeOverlay();
  std::unordered_map<PeerId, std::vector<std::uint64_t>> asks;
  for (auto it = mFirstHeardOf.begin(); it != mFirstHeardOf.end();) {
    const std::uint64_t seq = it->first;
    if (holds(seq) || nowUs - it->second > mConfig.deadlineUs) {
      it = mFirstHeardOf.erase(it);
      continue;
    }
    if (nowUs >= mScheduler->pullAtUs(seq, it->second, mConfig.pullAfterUs) && mayRequest(seq)) {
      // Ask a random neighbour that has it (the source last, see above).
      std::vector<PeerId> owners;
      bool sourceHas = false;
      for (PeerId n : mNeighbours) {
        if (sourceLast && n == mSourceId) {
          sourceHas = true;
        } else if (peerHas(n, seq)) {
          owners.push_back(n);
        }
      }
      if (owners.empty() && sourceHas) owners.push_back(mSourceId);
      if (owners.size() > 1) {
        const auto trusted = std::partition(owners.begin(), owners.end(), [&](PeerId p) { return !avoided(p, nowUs); });
        if (trusted != owners.begin()) owners.erase(trusted, owners.end());
      }
      if (!owners.empty()) {
        // Likelier the owners that would answer soon: close and well
        // provisioned (random among them, so no one owner takes every pull).
        std::vector<double> weights;
        for (PeerId p : owners) weights.push_back(preference(uploadOf(p), rttOf(p)));
        asks[owners[weightedPick(weights, mRng)]].push_back(seq);
      }
    }
    ++it;
  }
  for (const auto& [peer, seqs] : asks) request(peer, seqs);
}

void Node::prune() {
  if (!mAnyKnown) return;
  const std::uint64_t floor = mNewestKnown > mConfig.window ? mNewestKnown - mConfig.window : 0;
  for (auto it = mRequested.begin(); it != mRequested.end();) it = it->first < floor ? mRequested.erase(it) : std::next(it);
  for (auto it = mSentTo.begin(); it != mSentTo.end();) it = it->first < floor ? mSentTo.erase(it) : std::next(it);
  // What a peer holds is asked about only within our window: a peer known
  // to hold nothing as new (one we pushed to once, long ago) is forgotten.
  // Kept, every peer a node ever pushed to stayed: at N=2000 the tables
  // grew by 2 MB per simulated second and were most of the cache misses.
  for (auto it = mKnows.begin(); it != mKnows.end();) it = it->second.top() < floor ? mKnows.erase(it) : std::next(it);
  forgetTrust();
}

}  // namespace partyhub::streamer::overlay
