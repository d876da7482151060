// What a node sends of its own accord: chunk copies, chosen from the upload
// queue and the scheduler as the paced uplink drains (HRC: a low queueing
// delay, throughput follows); the acknowledgements those pushes await, with
// their timeouts learnt per peer; and the push budgets they hand on.
#include "node.hpp"

#include <algorithm>

namespace partyhub::streamer::overlay {

void Node::occupyUplink(std::size_t bytes) {
  if (mUploadEstimate) mUploadEstimate->onSent(bytes);
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
  m.payloadBytes = held.bytes;
  m.injectedUs = held.injectedUs;
  m.hops = held.hops;
  m.budget = give;
  m.stamp = mUploadEstimate.has_value();
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
  const std::int64_t firstByteUs = nowUs + mBacklogUs;
  emit(peer, std::move(m));
  // It has left our uplink once the backlog drains; its HAVE is due after
  // the peer's usual acknowledgement delay.
  const std::int64_t sentUs = nowUs + mBacklogUs;
  mUnacked.push_back({peer, seq, give, sentUs, ackDueUs(peer, sentUs), std::move(handed)});
  if (mUploadEstimate) {
    mDepartures.push_back({peer, seq, firstByteUs});
    if (mDepartures.size() > kDeparturesKept) mDepartures.pop_front();
  }
  mUnackedDueUs = std::min(mUnackedDueUs, mUnacked.back().dueUs);
}

std::int64_t Node::ackDueUs(PeerId peer, std::int64_t sentUs) const {
  auto it = mAckDelay.find(peer);
  if (it != mAckDelay.end()) {
    const AckDelay& d = it->second;
    return sentUs + ((d.srttUs + 4 * d.rttvarUs + mConfig.ackSlackUs) << d.backoff);
  }
  // Not measured yet: a probe's round trip plus the receiver's batching.
  const std::int64_t rtt = rttOf(peer);
  return sentUs + (rtt > 0 ? rtt : mConfig.defaultRttUs) + mConfig.haveBatchUs + mConfig.ackSlackUs;
}

void Node::backOffAcks(PeerId peer) {
  auto it = mAckDelay.find(peer);
  if (it == mAckDelay.end() || it->second.backoff >= kMaxAckBackoff) return;
  ++it->second.backoff;
  // The pushes to it still waiting wait as long: the burst's others are
  // likely held up behind the same queue (checkAcks looks at them later in
  // its pass, or at its next).
  for (Unacked& u : mUnacked) {
    if (u.peer == peer) u.dueUs = std::max(u.dueUs, ackDueUs(peer, u.sentUs));
  }
}

Node::AckDelay& Node::sampleAckDelay(PeerId peer, std::int64_t delayUs) {
  delayUs = std::max<std::int64_t>(0, delayUs);
  auto [it, fresh] = mAckDelay.try_emplace(peer);
  AckDelay& d = it->second;
  if (fresh) {
    d.srttUs = delayUs;
    d.rttvarUs = delayUs / 2;
    return d;
  }
  d.rttvarUs = (3 * d.rttvarUs + std::abs(d.srttUs - delayUs)) / 4;
  d.srttUs = (7 * d.srttUs + delayUs) / 8;
  return d;
}

void Node::acknowledged(PeerId peer, std::uint64_t seq, std::int64_t nowUs) {
  for (auto it = mUnacked.begin(); it != mUnacked.end(); ++it) {
    if (it->peer == peer && it->seq == seq) {
      sampleAckDelay(peer, nowUs - it->sentUs).backoff = 0;  // in time: the timer is the estimate's again
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

void Node::stamped(PeerId peer, std::uint64_t seq, std::int64_t recvUs, std::int64_t nowUs) {
  if (!mUploadEstimate) return;
  // Its first datagram's arrival on the peer's clock against its first
  // byte's departure on ours (not its size over the link): the two
  // clocks' offset is in every sample of the peer's, and the estimate looks
  // only at the excess over the least of them. Not a round trip: the
  // acknowledgement's way back (the peer's own uplink queue) is not in it.
  // The peer stamps a chunk's first arrival; sent to it twice (a push that
  // timed out went again, or it asked for the chunk too), which copy came
  // first is unknown: no sample. (Taking the later copy's departure gave
  // samples 200 ms below the path's delay, and a base that made every
  // later sample look queued.)
  const std::int64_t* sentUs = nullptr;
  int sends = 0;
  for (const Departure& d : mDepartures) {
    if (d.peer == peer && d.seq == seq && ++sends == 1) sentUs = &d.firstByteUs;
  }
  if (sends != 1) return;
  mUploadEstimate->onSample(peer, recvUs - *sentUs, nowUs);
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
  mUnackedDueUs = std::numeric_limits<std::int64_t>::max();
  for (std::size_t i = 0; i < mUnacked.size();) {
    if (nowUs < mUnacked[i].dueUs) {
      mUnackedDueUs = std::min(mUnackedDueUs, mUnacked[i].dueUs);
      ++i;
      continue;
    }
    const Unacked u = std::move(mUnacked[i]);
    mUnacked[i] = std::move(mUnacked.back());
    mUnacked.pop_back();
    // A push whose budget goes out again backs the timer off: if its
    // acknowledgement was only late, so are its burst's others, and
    // resending them all would add to the queue that delays them. (A
    // tree's push carries no budget: its timeout resends nothing, and only
    // counts towards the child's suspicion.)
    if (u.give > 0) backOffAcks(u.peer);
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

bool Node::queued(SendClass cls) const {
  return std::any_of(mQueue.begin(), mQueue.end(), [cls](const Queued& q) { return q.cls == cls; });
}

bool Node::sendScheduled(std::int64_t nowUs) {
  auto next = mScheduler->nextSend(*this, nowUs);
  if (!next) return false;
  const Held* held = findHeld(next->second);
  if (held == nullptr || nowUs - held->injectedUs > mConfig.deadlineUs) return false;
  sendChunk(next->first, next->second, nowUs);
  return true;
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
    // The source's own pushes go before answers: its k copies are the
    // stream's only way in, and requests (anyone may send them) must not
    // hold them up past their deadline nor take them.
    if (mConfig.isSource && !queued(SendClass::kSubscribed) && sendScheduled(nowUs)) continue;
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
    if (!sendScheduled(nowUs)) break;
  }
  // Copies left waiting for the budget: it holds us back (UploadEstimator).
  if (mUploadEstimate && !mQueue.empty() && mBacklogUs > mConfig.maxQueueDelayUs) mUploadEstimate->onPaced();
}

}  // namespace partyhub::streamer::overlay
