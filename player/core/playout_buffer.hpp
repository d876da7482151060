// Playout buffer for one elementary stream (video or audio). Chunks come in
// any order; they leave in media-sequence order, each when it is its turn.
//
// Deadlines: a chunk is presented at (capture + D); it must reach us before
// its deadline (capture + D + lateTolerance) or it is dropped as late. A gap
// (a missing chunk) is waited for until the next chunk present after it
// reaches that deadline; then it is declared lost. After a loss inside a video GOP
// nothing decodes until the next anchor, so the buffer skips to it and asks
// the source for a keyframe. Video also starts on an anchor.
// Pure: every call takes `now` (wall clock µs) and the current delay D.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <unordered_set>
#include <vector>

#include "partyhub/v1/chunk.pb.h"

namespace partyhub::player {

struct PlayoutBufferConfig {
  std::int64_t lateToleranceUs = 150'000;
  std::int64_t keyframeRequestIntervalUs = 500'000;  // while still waiting
  // Video: a hole of this many chunks or more asks for a keyframe at once,
  // while it is still waited for (a restarted streamer, an outage: repairs
  // rarely fill so many in time, and giving the hole up first would add the
  // late tolerance to the freeze). 0: only once a hole is given up.
  std::uint64_t keyframeForHoleOf = 3;
  // Video: a hole still open this long past the next present chunk's slot
  // asks for a keyframe while it is still waited for (up to lateToleranceUs,
  // longer for video): if the missing frame comes, decoding goes on and the
  // picture catches up; if not, the keyframe is already on its way, asked
  // for when it would have been with a tolerance this short. >= the late
  // tolerance: only once the hole is given up.
  std::int64_t keyframeAfterUs = 150'000;
  std::size_t maxPending = 1024;
};

enum class PushResult { kAccepted, kDuplicate, kLate };
const char* toString(PushResult r);

struct PlayoutStats {
  std::uint64_t accepted = 0;
  std::uint64_t released = 0;       // chunks handed to the decoder
  std::uint64_t releasedFrames = 0;
  std::uint64_t late = 0;           // chunks
  std::uint64_t lost = 0;           // chunks declared missing
  std::uint64_t skipped = 0;        // chunks dropped waiting for an anchor
  std::uint64_t duplicates = 0;
  std::uint64_t keyframeRequests = 0;
};

class PlayoutBuffer {
 public:
  PlayoutBuffer(v1::MediaKind kind, PlayoutBufferConfig config = {});

  PushResult push(v1::Chunk chunk, std::int64_t nowUs, std::int64_t delayUs);
  /// Appends the chunks that may go to the decoder now, in order.
  void poll(std::int64_t nowUs, std::int64_t delayUs, std::vector<v1::Chunk>& out);
  /// When poll() next has something to decide without a new chunk arriving:
  /// the front chunk's lateness deadline (a gap given up on, stale chunks
  /// dropped while waiting for an anchor). Chunks that can go are released
  /// as they arrive, so this is the only timer a player needs.
  [[nodiscard]] std::optional<std::int64_t> nextDeadlineUs(std::int64_t delayUs) const;
  /// True once per needed keyframe request (join, loss, a wide hole);
  /// rate-limited.
  bool takeKeyframeRequest(std::int64_t nowUs);

  [[nodiscard]] const PlayoutStats& stats() const { return mStats; }
  [[nodiscard]] std::size_t pending() const { return mPending.size(); }
  [[nodiscard]] bool waitingForAnchor() const { return mWaitAnchor; }
  /// Media sequence numbers the stream spanned since playback began (for the
  /// rendered ratio): newest seen - first released + 1; before playback
  /// began, newest seen - first seen + 1.
  [[nodiscard]] std::uint64_t expectedSinceStart() const;

 private:
  void declareLost(std::uint64_t upTo);
  void remember(std::uint64_t seq);

  v1::MediaKind mKind;
  PlayoutBufferConfig mConfig;
  PlayoutStats mStats;
  std::map<std::uint64_t, v1::Chunk> mPending;
  bool mHaveNext = false;
  std::uint64_t mNext = 0;
  bool mWaitAnchor;
  bool mWantKeyframe = false;
  bool mHoleKeyframe = false;         // a wide hole wants a keyframe before it is given up
  std::uint64_t mHoleAskedAt = 0;     // the hole (its first seq + 1) already asked for
  std::int64_t mLastKeyframeRequestUs = 0;
  bool mStarted = false;
  std::uint64_t mFirstSeq = 0;
  std::uint64_t mNewestSeq = 0;     // newest seq seen (late ones too)
  bool mSeenAny = false;
  std::uint64_t mFirstSeenSeq = 0;
  std::unordered_set<std::uint64_t> mDone;   // released or declared lost, recent
  std::deque<std::uint64_t> mDoneOrder;
};

}  // namespace partyhub::player
