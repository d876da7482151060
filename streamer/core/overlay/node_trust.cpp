// What the node (node.hpp) believes of its peers' words: which seqs can be
// the stream's, when the numbering has restarted, how many pull answers a
// peer may have from us, and whom not to ask. A member's nonsense (a bug, a
// corrupt message, or worse) must cost it, not the stream
// (overlay_hostile_test.cpp); forged chunks of plausible seqs are the
// security layer's to stop (chunks signed by their source).
#include "node.hpp"

#include <algorithm>

namespace partyhub::streamer::overlay {

namespace {
constexpr std::int64_t kRestartGapUs = 1'000'000;
// No stream numbers this far (a million years at 30 chunks/s): a seq above
// it is garbage, and keeps `seq + window` from wrapping around.
constexpr std::uint64_t kMaxSeq = std::uint64_t{1} << 50;
// A seq more than a quarter window ahead of the newest chunk we took (4 s
// of a 30 chunk/s stream; neighbours are within a second of each other) is
// believed only once no chunk has come for this long (we were cut off, and
// the stream moved on). Hearsay far ahead would otherwise move the window
// on and drop every late chunk as old.
constexpr std::int64_t kStalledUs = 2'000'000;
}  // namespace

bool Node::plausibleSeq(std::uint64_t seq, std::int64_t nowUs) const {
  if (seq > kMaxSeq) return false;
  if (mLastAcceptUs < 0 || seq <= mNewestAccepted + mConfig.window / 4) return true;
  return nowUs - mLastAcceptUs > kStalledUs;
}

bool Node::followRestart(PeerId from, const Message& m, std::int64_t nowUs, Held& after, PeerId& afterFrom) {
  // Numbered before what we have, yet captured well after it (chunks of one
  // numbering are captured within a fraction of a second of their order),
  // or far behind our window (no chunk comes that late): the channel's
  // source streamer restarted (a crash) and numbers from 0 again, or a
  // garbage seq took us far ahead before we had a chunk to judge it by.
  // Start over with the stream rather than take its chunks for old ones.
  // Believed from the source itself, or from two peers within a few
  // seconds: one peer's word would empty our buffer.
  const std::uint64_t seq = m.chunk->seq();
  if (mLastAcceptUs < 0 || seq > mNewestAccepted ||
      (seq + mConfig.window > mNewestAccepted && m.chunk->capture_us() <= mNewestCaptureUs + kRestartGapUs)) {
    return true;
  }
  const bool second = mRestartWitness != 0 && mRestartWitness != from && nowUs - mRestartWitnessUs <= 2 * kRestartGapUs;
  if (from != mSourceId && !second) {
    mRestartWitness = from;
    mRestartWitnessUs = nowUs;
    mRestartWitnessed = Held{m.chunk, m.injectedUs, m.hops + 1, 0, 0, {}};
    return true;
  }
  const Held witnessed = std::move(mRestartWitnessed);
  const PeerId witness = mRestartWitness;
  restart();
  // Of the two witnesses' chunks the lower numbered is the new numbering's
  // (garbage that passed for a witness is numbered higher); the other is
  // taken after it if it is plausible then.
  if (!witnessed.chunk || witnessed.chunk->seq() == seq) return true;
  if (witnessed.chunk->seq() > seq) {
    after = witnessed;
    afterFrom = witness;
    return true;
  }
  accept(witness, witnessed, nowUs);
  return plausibleSeq(seq, nowUs);
}

bool Node::mayAnswer(PeerId peer) {
  // Refilled by the chunks we took since (chunksReceived counts them).
  auto [it, fresh] = mAnswerAllowance.try_emplace(peer);
  AnswerAllowance& a = it->second;
  if (fresh) {
    a.left = kAnswerBurst;
    a.at = mStats.chunksReceived;
  }
  const std::uint64_t earned = (mStats.chunksReceived - a.at) / kChunksPerAnswer;
  a.left = static_cast<std::uint32_t>(std::min<std::uint64_t>(kAnswerBurst, a.left + earned));
  a.at += earned * kChunksPerAnswer;
  if (a.left == 0) return false;
  --a.left;
  return true;
}

bool Node::avoided(PeerId peer, std::int64_t nowUs) const {
  auto it = mUnanswered.find(peer);
  if (it == mUnanswered.end() || it->second.count < kUnansweredToAvoid) return false;
  const std::uint32_t doublings = std::min(it->second.count - kUnansweredToAvoid, kAvoidDoublings);
  return nowUs - it->second.lastUs < (kAvoidUnansweredUs << doublings);
}

void Node::forgetTrust() {
  for (auto it = mUnanswered.begin(); it != mUnanswered.end();) {
    it = mNowUs - it->second.lastUs > (kAvoidUnansweredUs << kAvoidDoublings) ? mUnanswered.erase(it) : std::next(it);
  }
  // An allowance refilled to the burst is what a peer never seen gets.
  for (auto it = mAnswerAllowance.begin(); it != mAnswerAllowance.end();) {
    const std::uint64_t earned = (mStats.chunksReceived - it->second.at) / kChunksPerAnswer;
    it = it->second.left + earned >= kAnswerBurst ? mAnswerAllowance.erase(it) : std::next(it);
  }
}

}  // namespace partyhub::streamer::overlay
