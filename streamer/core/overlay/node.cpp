#include "node.hpp"

#include <algorithm>
#include <cstdlib>

namespace partyhub::streamer::overlay {

namespace {
constexpr std::int64_t kRestartGapUs = 1'000'000;
}  // namespace

Node::Node(PeerId self, NodeConfig config, std::uint64_t seed)
    : mSelf(self), mConfig(std::move(config)), mRng(seed),
      mMembership(mConfig.sharedMembership ? mConfig.sharedMembership
                                           : std::make_shared<Membership>(self, mConfig.uploadKbps, mConfig.membership)),
      mOwnMembership(!mConfig.sharedMembership), mScheduler(makeScheduler(mConfig.scheduler, mConfig.tree)),
      mHeld(std::max<std::size_t>(1, mConfig.window)) {}

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
}

void Node::sendControl(PeerId peer, Message m) { emit(peer, std::move(m)); }

void Node::emitAnswer(PeerId to, Message m, std::int64_t nowUs) {
  // A token bucket over a share of the upload: tokens accrue at that share,
  // up to a burst's worth.
  const double ratePerUs = mConfig.answerShare * static_cast<double>(mConfig.uploadKbps) / 8000.0;  // bytes/µs
  const double burst = ratePerUs * static_cast<double>(kAnswerBurstUs);
  mAnswerTokens = mAnswerTokensAtUs < 0 ? burst
                                         : std::min(burst, mAnswerTokens + ratePerUs * static_cast<double>(nowUs - mAnswerTokensAtUs));
  mAnswerTokensAtUs = nowUs;
  const auto bytes = static_cast<double>(wireBytes(m));
  if (bytes > mAnswerTokens) {
    ++mStats.answersShed;
    return;
  }
  mAnswerTokens -= bytes;
  emit(to, std::move(m));
}

void Node::occupyUplink(std::size_t bytes) {
  mBacklogUs += static_cast<std::int64_t>(bytes) * 8 * 1000 / std::max<std::int64_t>(1, mConfig.uploadKbps);
}

void Node::drainUplink(std::int64_t nowUs) {
  mBacklogUs = std::max<std::int64_t>(0, mBacklogUs - (nowUs - mBacklogAtUs));
  mBacklogAtUs = nowUs;
}

void Node::chargeUplink(std::size_t bytes, std::int64_t nowUs) {
  drainUplink(nowUs);
  occupyUplink(bytes);
}

void Node::join(const std::vector<PeerId>& bootstrap, std::int64_t nowUs, NodeActions& out) {
  mOut = &out;
  mNowUs = nowUs;
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
    if (holds(mNewestKnown - i)) out.push_back(mNewestKnown - i);
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
  if (h.budget > 0) mBudgeted.insert(std::upper_bound(mBudgeted.begin(), mBudgeted.end(), seq), seq);
  ++mStats.chunksReceived;
  const bool pulled = mRequested.erase(seq) > 0;
  mFirstHeardOf.erase(seq);
  if (!mAnyKnown || seq > mNewestKnown) mNewestKnown = seq;
  mAnyKnown = true;
  mNewestCaptureUs = std::max(mNewestCaptureUs, h.chunk->capture_us());
  mOut->delivered.push_back({h.chunk, h.injectedUs, h.hops, pulled});
  mPendingHaves.push_back(seq);
  mScheduler->onNewChunk(*this, seq, from, nowUs);
}

void Node::restart() {
  ++mStats.restarts;
  for (Held& h : mHeld) h = Held{};
  mNewestKnown = 0;
  mAnyKnown = false;
  mNewestCaptureUs = 0;
  mSourceId = 0;
  mKnows.clear();
  mFirstHeardOf.clear();
  mRequested.clear();
  mSentTo.clear();
  mBudgeted.clear();
  mQueue.clear();
  mUnacked.clear();
  mTimedOut.clear();
  mAcksOwed.clear();
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
    mNeighbours.erase(std::remove(mNeighbours.begin(), mNeighbours.end(), from), mNeighbours.end());
    mInbound.erase(from);
    mKnows.erase(from);
    return;
  }
  if (m.type != MsgType::kGossip && m.type != MsgType::kGossipReply) {
    // Whoever trades with us becomes a neighbour too (we answer with our
    // buffer map), up to twice the target: a popular peer, the source above
    // all, must not end up advertising to everyone.
    mInbound[from] = nowUs;
    if (mNeighbours.size() < 2 * mConfig.neighbours &&
        std::find(mNeighbours.begin(), mNeighbours.end(), from) == mNeighbours.end()) {
      mNeighbours.push_back(from);
    }
  }
  switch (m.type) {
    case MsgType::kChunk: {
      if (!m.chunk) break;
      mLastChunkUs = nowUs;
      const std::uint64_t seq = m.chunk->seq();
      // Numbered before what we have, yet captured well after it (chunks of
      // one numbering are captured within a fraction of a second of their
      // order), or far behind our window yet captured after anything we had:
      // the channel's source streamer restarted (a crash) and numbers from 0
      // again. Start over with it rather than take its chunks for old ones.
      if (mAnyKnown && seq <= mNewestKnown && m.chunk->capture_us() > mNewestCaptureUs &&
          (seq + mConfig.window <= mNewestKnown || m.chunk->capture_us() > mNewestCaptureUs + kRestartGapUs)) {
        restart();
      }
      if (m.hops == 0) mSourceId = from;  // only the source sends a chunk on its first hop
      markHas(from, seq);
      acknowledged(from, seq, nowUs);
      for (PeerId p : m.alsoSentTo) markHas(p, seq);
      // Every chunk is acknowledged (see checkAcks), even a duplicate, so
      // its sender knows we are alive and does not send it again.
      mAcksOwed[from].push_back(seq);
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
      } else if (!mAnyKnown || seq + mConfig.window > mNewestKnown) {
        // Our copy counts for us: the rest of its budget is ours to hand on.
        accept(from, Held{m.chunk, m.injectedUs, m.hops + 1, m.budget > 0 ? m.budget - 1 : 0, 0, m.delegates},
               nowUs);
      }
      break;
    }
    case MsgType::kHave: {
      // One lookup for the sender's buffer map, not one per seq; and most
      // HAVEs acknowledge nothing of ours (they are buffer maps).
      SeqWindow* knows = from != 0 ? &mKnows[from] : nullptr;
      const bool awaited = awaitsAck(from);
      for (std::uint64_t s : m.seqs) {
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
        if (holds(s)) enqueueChunk(from, s, SendClass::kRequested);
      }
      break;
    case MsgType::kOffer:
      for (std::uint64_t s : m.seqs) markHas(from, s);
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
      emitAnswer(from, std::move(pong), nowUs);
      break;
    }
    case MsgType::kPong:
      if (m.echoUs > 0 && m.echoUs <= nowUs) mRtt[from] = nowUs - m.echoUs;
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

std::size_t Node::copiesSent(std::uint64_t seq) const {
  auto it = mSentTo.find(seq);
  return it == mSentTo.end() ? 0 : it->second.size();
}

bool Node::sentTo(PeerId peer, std::uint64_t seq) const {
  auto it = mSentTo.find(seq);
  return it != mSentTo.end() && std::find(it->second.begin(), it->second.end(), peer) != it->second.end();
}

std::uint32_t Node::budget(std::uint64_t seq) const {
  const Held* h = findHeld(seq);
  return h == nullptr ? 0 : h->budget;
}

void Node::sendChunk(PeerId peer, std::uint64_t seq, std::int64_t nowUs, std::int64_t answersRequestOfUs) {
  Held& held = *findHeld(seq);  // callers checked
  // (Not mSentTo: a push given up on leaves it, and its resend is no first copy.)
  if (answersRequestOfUs >= 0) {
    mStats.answerWaitUs += nowUs - answersRequestOfUs;
    ++mStats.answers;
  } else if (held.copies == 0) {
    mStats.firstCopyWaitUs += nowUs - held.arrivedUs;
    ++mStats.firstCopies;
  } else {
    mStats.laterCopyWaitUs += nowUs - held.arrivedUs;
    ++mStats.laterCopies;
  }
  ++held.copies;
  const std::uint32_t budgetBefore = held.budget;
  const std::uint32_t give = std::min(mNextGive, held.budget);
  held.budget -= give;
  mNextGive = 0;
  if (held.budget == 0 && give > 0) mBudgeted.erase(std::remove(mBudgeted.begin(), mBudgeted.end(), seq), mBudgeted.end());
  Message m;
  m.type = MsgType::kChunk;
  m.chunk = held.chunk;
  m.injectedUs = held.injectedUs;
  m.hops = held.hops;
  m.budget = give;
  // Structured push: the receiver's share of our delegates, in proportion to
  // the budget it takes (it reaches the rest of its budget as it likes).
  std::vector<PeerId> handed;
  if (!held.delegates.empty()) {
    held.delegates.erase(std::remove(held.delegates.begin(), held.delegates.end(), peer), held.delegates.end());
    const std::size_t share = std::min<std::size_t>(
        give > 0 ? give - 1 : 0, (held.delegates.size() * give + budgetBefore - 1) / std::max(1u, budgetBefore));
    for (auto it = held.delegates.begin(); it != held.delegates.end() && m.delegates.size() < share;) {
      if (peerHas(*it, seq)) {
        ++it;
        continue;
      }
      m.delegates.push_back(*it);
      it = held.delegates.erase(it);
    }
    handed = m.delegates;
    handed.push_back(peer);
  }
  // Tell the receiver who else already got this chunk from us, so it does not
  // send it there too: the cheapest duplicate suppression there is. (Not
  // needed where delegation says who pushes to whom.)
  auto& sent = mSentTo[seq];
  if (!knowsWholeOverlay()) {
    for (auto it = sent.rbegin(); it != sent.rend() && m.alsoSentTo.size() < 4; ++it) m.alsoSentTo.push_back(*it);
  }
  markHas(peer, seq);
  sent.push_back(peer);
  ++mStats.chunksSent;
  emit(peer, std::move(m));
  // It has left our uplink once the backlog drains; its HAVE is due after
  // the peer's usual acknowledgement delay.
  const std::int64_t sentUs = nowUs + mBacklogUs;
  mUnacked.push_back({peer, seq, give, sentUs, ackDueUs(peer, sentUs), std::move(handed)});
}

std::int64_t Node::ackDueUs(PeerId peer, std::int64_t sentUs) const {
  auto it = mAckDelay.find(peer);
  if (it != mAckDelay.end()) return sentUs + it->second.srttUs + 4 * it->second.rttvarUs + mConfig.ackSlackUs;
  // Not measured yet: a probe's round trip plus the receiver's batching.
  const std::int64_t rtt = rttOf(peer);
  return sentUs + (rtt > 0 ? rtt : mConfig.defaultRttUs) + mConfig.haveBatchUs + mConfig.ackSlackUs;
}

void Node::sampleAckDelay(PeerId peer, std::int64_t delayUs) {
  delayUs = std::max<std::int64_t>(0, delayUs);
  auto [it, fresh] = mAckDelay.try_emplace(peer);
  AckDelay& d = it->second;
  if (fresh) {
    d.srttUs = delayUs;
    d.rttvarUs = delayUs / 2;
    return;
  }
  d.rttvarUs = (3 * d.rttvarUs + std::abs(d.srttUs - delayUs)) / 4;
  d.srttUs = (7 * d.srttUs + delayUs) / 8;
}

void Node::acknowledged(PeerId peer, std::uint64_t seq, std::int64_t nowUs) {
  for (auto it = mUnacked.begin(); it != mUnacked.end(); ++it) {
    if (it->peer == peer && it->seq == seq) {
      sampleAckDelay(peer, nowUs - it->sentUs);
      *it = mUnacked.back();
      mUnacked.pop_back();
      return;
    }
  }
  // Given up on already: it was late, not lost. Learn from it. (Most HAVEs
  // acknowledge nothing of ours; this list is empty unless pushes time out.)
  for (auto it = mTimedOut.begin(); it != mTimedOut.end(); ++it) {
    if (it->peer == peer && it->seq == seq) {
      ++mStats.lateAcks;
      sampleAckDelay(peer, nowUs - it->sentUs);
      mTimedOut.erase(it);
      return;
    }
  }
}

bool Node::awaitsAck(PeerId peer) const {
  const auto to = [peer](const auto& p) { return p.peer == peer; };
  return std::any_of(mUnacked.begin(), mUnacked.end(), to) || std::any_of(mTimedOut.begin(), mTimedOut.end(), to);
}

void Node::addBudget(std::uint64_t seq, std::uint32_t extra) {
  Held* h = findHeld(seq);
  if (h == nullptr || extra == 0) return;
  if (h->budget == 0) mBudgeted.insert(std::upper_bound(mBudgeted.begin(), mBudgeted.end(), seq), seq);
  h->budget += extra;
}

void Node::checkAcks(std::int64_t nowUs) {
  // A push never acknowledged was lost (or its receiver died): the subtree
  // it was to reach is ours again. Forget that the peer has it, so it may be
  // chosen again (if it is alive), and send the budget out anew.
  // A late acknowledgement is looked for among the pushes given up in the
  // last 2 s (and the list is empty again 2 s after the last one).
  while (!mTimedOut.empty() && nowUs - mTimedOut.front().sentUs > 2'000'000) mTimedOut.pop_front();
  for (std::size_t i = 0; i < mUnacked.size();) {
    if (nowUs < mUnacked[i].dueUs) {
      ++i;
      continue;
    }
    const Unacked u = std::move(mUnacked[i]);
    mUnacked[i] = std::move(mUnacked.back());
    mUnacked.pop_back();
    if (++mMisses[u.peer] == kMissesBeforeSuspect) ++mSuspects;
    mTimedOut.push_back({u.peer, u.seq, u.sentUs});
    if (mTimedOut.size() > 256) mTimedOut.pop_front();
    const Held* held = findHeld(u.seq);
    if (held == nullptr || nowUs - held->injectedUs > mConfig.deadlineUs) continue;
    auto k = mKnows.find(u.peer);
    if (k != mKnows.end()) k->second.unmark(u.seq);
    auto& sent = mSentTo[u.seq];
    sent.erase(std::remove(sent.begin(), sent.end(), u.peer), sent.end());
    addBudget(u.seq, u.give);
    Held* h = findHeld(u.seq);
    h->delegates.insert(h->delegates.end(), u.delegates.begin(), u.delegates.end());
    ++mStats.repushes;
  }
}

void Node::dropSpentBudgets(std::int64_t nowUs) {
  // Budgets of chunks past their deadline (or gone from the buffer) are void.
  mBudgeted.erase(std::remove_if(mBudgeted.begin(), mBudgeted.end(),
                                 [&](std::uint64_t s) {
                                   const Held* h = findHeld(s);
                                   return h == nullptr || h->budget == 0 ||
                                          nowUs - h->injectedUs > mConfig.deadlineUs;
                                 }),
                  mBudgeted.end());
}

void Node::pumpUpload(std::int64_t nowUs) {
  // HRC's idea: keep the queueing delay low and throughput follows. We model
  // the uplink as draining at the upload budget and hand it a new chunk only
  // when it is (nearly) empty, so every decision is taken as late, and with
  // as fresh a knowledge of who has what, as possible.
  drainUplink(nowUs);
  // At most the queueing delay, inclusive: uplinkFreeAtUs() is the moment
  // the backlog is down to it, and a wake-up then must send (with `<` it
  // sent nothing, and the next copy waited for the next tick, up to 10 ms).
  while (mBacklogUs <= mConfig.maxQueueDelayUs) {
    // What is queued first, by class (SendClass); then the scheduler's choice.
    bool sent = false;
    while (!mQueue.empty() && !sent) {
      auto best = mQueue.begin();
      for (auto it = mQueue.begin(); it != mQueue.end(); ++it) {
        // Subscriptions in order (oldest first: every child wants them all,
        // and a chunk held back behind fresher ones is pulled late); the
        // rest freshest first.
        if (it->cls != best->cls ? it->cls > best->cls
                                 : (it->cls == SendClass::kSubscribed ? it->seq < best->seq : it->seq > best->seq)) {
          best = it;
        }
      }
      // Erased in place: among equals the first queued goes first (the tree
      // scheduler queues a chunk for its best-provisioned children first).
      const Queued q = *best;
      mQueue.erase(best);
      const Held* held = findHeld(q.seq);
      const bool requested = q.cls == SendClass::kRequested;
      if (held == nullptr || (!requested && peerHas(q.peer, q.seq))) continue;
      if (nowUs - held->injectedUs > mConfig.deadlineUs) {
        ++mStats.staleDropped;
        continue;
      }
      // The source injects k copies, never more, whoever asks.
      if (mConfig.isSource && copiesSent(q.seq) >= mConfig.sourceCopies) continue;
      sendChunk(q.peer, q.seq, nowUs, requested ? q.queuedUs : -1);
      sent = true;
    }
    if (sent) continue;
    auto next = mScheduler->nextSend(*this, nowUs);
    if (!next) break;
    const Held* held = findHeld(next->second);
    if (held == nullptr || nowUs - held->injectedUs > mConfig.deadlineUs) break;
    sendChunk(next->first, next->second, nowUs);
  }
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
      emit(peer, std::move(m));
    }
    mAcksOwed.clear();
    return;
  }
  mNextHaveBroadcastUs = nowUs + broadcastUs;
  for (PeerId n : mNeighbours) {
    Message m;
    m.type = MsgType::kHave;
    // What it is not known to hold (it sent us this one, or we sent it; the
    // source injected them all). One lookup per neighbour, not per seq.
    if (n != mSourceId) {
      auto known = mKnows.find(n);
      for (std::uint64_t s : mPendingHaves) {
        if (known == mKnows.end() || !known->second.has(s)) m.seqs.push_back(s);
      }
    }
    // Acknowledgements ride on the same HAVE.
    auto owed = mAcksOwed.find(n);
    if (owed != mAcksOwed.end()) {
      for (std::uint64_t s : owed->second) {
        if (std::find(m.seqs.begin(), m.seqs.end(), s) == m.seqs.end()) m.seqs.push_back(s);
      }
      mAcksOwed.erase(owed);
      std::sort(m.seqs.begin(), m.seqs.end());
    }
    if (!m.seqs.empty()) emit(n, std::move(m));
  }
  for (auto& [peer, seqs] : mAcksOwed) {  // pushers that are not our neighbours
    Message m;
    m.type = MsgType::kHave;
    m.seqs = std::move(seqs);
    std::sort(m.seqs.begin(), m.seqs.end());
    emit(peer, std::move(m));
  }
  mAcksOwed.clear();
  mPendingHaves.clear();
}

bool Node::mayRequest(std::uint64_t seq) const {
  if (holds(seq)) return false;
  auto req = mRequested.find(seq);
  return req == mRequested.end() || mNowUs - req->second > mConfig.requestTimeoutUs;  // not asked, or long ago
}

void Node::request(PeerId peer, const std::vector<std::uint64_t>& seqs) {
  Message m;
  m.type = MsgType::kRequest;
  for (std::uint64_t seq : seqs) {
    if (!mayRequest(seq)) continue;
    mRequested[seq] = mNowUs;
    ++mStats.requests;
    m.seqs.push_back(seq);
  }
  if (m.seqs.empty()) return;
  std::sort(m.seqs.begin(), m.seqs.end());
  emit(peer, std::move(m));
}

void Node::pull(std::int64_t nowUs) {
  mNextPullUs = nowUs + 20'000;
  std::unordered_map<PeerId, std::vector<std::uint64_t>> asks;
  for (auto it = mFirstHeardOf.begin(); it != mFirstHeardOf.end();) {
    const std::uint64_t seq = it->first;
    if (holds(seq) || nowUs - it->second > mConfig.deadlineUs) {
      it = mFirstHeardOf.erase(it);
      continue;
    }
    if (nowUs >= mScheduler->pullAtUs(seq, it->second, mConfig.pullAfterUs) && mayRequest(seq)) {
      // Ask a random neighbour that has it.
      std::vector<PeerId> owners;
      for (PeerId n : mNeighbours) {
        if (peerHas(n, seq)) owners.push_back(n);
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
}

}  // namespace partyhub::streamer::overlay
