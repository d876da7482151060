#include "playout_buffer.hpp"

#include <algorithm>
#include <utility>

namespace partyhub::player {

const char* toString(PushResult r) {
  switch (r) {
    case PushResult::kAccepted: return "accepted";
    case PushResult::kDuplicate: return "duplicate";
    case PushResult::kLate: return "late";
  }
  return "?";
}

PlayoutBuffer::PlayoutBuffer(v1::MediaKind kind, PlayoutBufferConfig config)
    : mKind(kind), mConfig(config), mWaitAnchor(kind == v1::MEDIA_KIND_VIDEO) {}

void PlayoutBuffer::remember(std::uint64_t seq) {
  if (!mDone.insert(seq).second) return;
  mDoneOrder.push_back(seq);
  while (mDoneOrder.size() > 4096) {
    mDone.erase(mDoneOrder.front());
    mDoneOrder.pop_front();
  }
}

PushResult PlayoutBuffer::push(v1::Chunk chunk, std::int64_t nowUs, std::int64_t delayUs) {
  const std::uint64_t seq = chunk.media_seq();
  if (mDone.count(seq) != 0 || mPending.count(seq) != 0) {
    ++mStats.duplicates;
    return PushResult::kDuplicate;
  }
  // Every chunk that arrives, late or not, shows how far the stream has got.
  if (!mSeenAny) {
    mSeenAny = true;
    mFirstSeenSeq = seq;
  }
  mNewestSeq = std::max(mNewestSeq, seq);
  if ((mHaveNext && seq < mNext) || nowUs > chunk.capture_us() + delayUs + mConfig.lateToleranceUs) {
    // Its slot is gone: either we already moved past it, or it can no longer
    // be shown anywhere near its time.
    ++mStats.late;
    return PushResult::kLate;
  }
  mPending.emplace(seq, std::move(chunk));
  ++mStats.accepted;
  while (mPending.size() > mConfig.maxPending) {
    // Far too much waiting behind a gap: give the gap up.
    declareLost(mPending.begin()->first + 1);
  }
  return PushResult::kAccepted;
}

void PlayoutBuffer::declareLost(std::uint64_t upTo) {
  // Everything below `upTo` that is not here is lost; what is here but below
  // it is dropped as well (used only when the buffer overflows).
  if (!mHaveNext) {
    mHaveNext = true;
    mNext = mPending.empty() ? upTo : mPending.begin()->first;
  }
  while (mNext < upTo) {
    auto it = mPending.find(mNext);
    if (it != mPending.end()) {
      mPending.erase(it);
      ++mStats.skipped;
    } else {
      ++mStats.lost;
    }
    remember(mNext);
    ++mNext;
  }
  if (mKind == v1::MEDIA_KIND_VIDEO) {
    mWaitAnchor = true;
    mWantKeyframe = true;
  }
}

void PlayoutBuffer::poll(std::int64_t nowUs, std::int64_t delayUs, std::vector<v1::Chunk>& out) {
  while (!mPending.empty()) {
    if (!mHaveNext) {
      // Start of playback: video must begin on an anchor.
      auto first = mPending.begin();
      if (mWaitAnchor) {
        // Chunks may come out of order: a non-anchor at the front may have
        // its anchor still on the way. Start on the first anchor held and
        // drop what is below it; without one, drop only chunks whose
        // deadline has passed and ask for a keyframe (a join mid-GOP).
        auto anchor = std::find_if(mPending.begin(), mPending.end(), [](const auto& p) { return p.second.anchor(); });
        while (first != anchor &&
               (anchor != mPending.end() || nowUs >= first->second.capture_us() + delayUs + mConfig.lateToleranceUs)) {
          remember(first->first);
          ++mStats.skipped;
          first = mPending.erase(first);
        }
        if (anchor == mPending.end()) {
          mWantKeyframe = true;
          return;
        }
      }
      mHaveNext = true;
      mNext = first->first;
    }
    auto it = mPending.find(mNext);
    if (it == mPending.end()) {
      // A gap. Already waiting for an anchor, or a wide hole we asked a
      // keyframe for? Nothing before the next anchor could be decoded
      // anyway (or is likely to come in time), so jump straight to it.
      if (mWaitAnchor || mHoleAskedAt == mNext + 1) {
        auto anchor = std::find_if(mPending.begin(), mPending.end(), [](const auto& p) { return p.second.anchor(); });
        if (anchor != mPending.end()) {
          declareLost(anchor->first);
          continue;
        }
      }
      // Wait for the missing chunk (a retransmission or an overlay repair may
      // bring it) until the next present one would be late beyond tolerance:
      // a short stall beats skipping to the next anchor, which freezes video
      // until a keyframe comes.
      const v1::Chunk& after = mPending.begin()->second;
      const std::uint64_t hole = mPending.begin()->first - mNext;
      const bool wide = mConfig.keyframeForHoleOf > 0 && hole >= mConfig.keyframeForHoleOf;
      const bool waitedLong = nowUs >= after.capture_us() + delayUs + mConfig.keyframeAfterUs;
      if (mKind == v1::MEDIA_KIND_VIDEO && (wide || waitedLong) && mHoleAskedAt != mNext + 1) {
        mHoleKeyframe = true;  // once per hole
        mHoleAskedAt = mNext + 1;
      }
      if (nowUs < after.capture_us() + delayUs + mConfig.lateToleranceUs) return;
      declareLost(mPending.begin()->first);
      continue;
    }
    v1::Chunk chunk = std::move(it->second);
    mPending.erase(it);
    remember(mNext);
    ++mNext;
    if (mWaitAnchor) {
      if (!chunk.anchor()) {
        ++mStats.skipped;
        continue;
      }
      mWaitAnchor = false;
      mWantKeyframe = false;
    }
    if (!mStarted) {
      mStarted = true;
      mFirstSeq = chunk.media_seq();
      mNewestSeq = std::max(mNewestSeq, mFirstSeq);
    }
    ++mStats.released;
    mStats.releasedFrames += static_cast<std::uint64_t>(std::max(1, chunk.frame_sizes_size()));
    out.push_back(std::move(chunk));
  }
  if (!mHaveNext && mWaitAnchor) mWantKeyframe = true;
}

std::optional<std::int64_t> PlayoutBuffer::nextDeadlineUs(std::int64_t delayUs) const {
  if (mPending.empty()) return std::nullopt;
  const std::int64_t slot = mPending.begin()->second.capture_us() + delayUs;
  // A video hole not asked a keyframe for yet: when it is to be asked.
  if (mKind == v1::MEDIA_KIND_VIDEO && mHaveNext && mPending.begin()->first != mNext && mHoleAskedAt != mNext + 1 &&
      mConfig.keyframeAfterUs < mConfig.lateToleranceUs) {
    return slot + mConfig.keyframeAfterUs;
  }
  return slot + mConfig.lateToleranceUs;
}

bool PlayoutBuffer::takeKeyframeRequest(std::int64_t nowUs) {
  const bool forHole = std::exchange(mHoleKeyframe, false);  // asked once per hole, even if rate-limited
  if (!forHole && (!mWantKeyframe || !mWaitAnchor)) return false;
  if (mLastKeyframeRequestUs != 0 && nowUs - mLastKeyframeRequestUs < mConfig.keyframeRequestIntervalUs) {
    return false;
  }
  mLastKeyframeRequestUs = nowUs;
  ++mStats.keyframeRequests;
  return true;
}

std::uint64_t PlayoutBuffer::expectedSinceStart() const {
  // From the first chunk played; before anything played, from the first one
  // seen, so a stream that never gets going shows as such (0 of N).
  if (mStarted) return mNewestSeq >= mFirstSeq ? mNewestSeq - mFirstSeq + 1 : 0;
  return mSeenAny && mNewestSeq >= mFirstSeenSeq ? mNewestSeq - mFirstSeenSeq + 1 : 0;
}

}  // namespace partyhub::player
