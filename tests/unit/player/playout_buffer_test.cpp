#include <doctest/doctest.h>

#include "core/playout_buffer.hpp"


using namespace partyhub;
using namespace partyhub::player;

namespace {

constexpr std::int64_t kFrame = 33'333;
constexpr std::int64_t kDelay = 50'000;

// Video chunk n captured at n * kFrame; an anchor every `gop` chunks.
v1::Chunk video(std::uint64_t n, int gop = 10) {
  v1::Chunk c;
  c.set_kind(v1::MEDIA_KIND_VIDEO);
  c.set_media_seq(n);
  c.set_anchor(n % static_cast<std::uint64_t>(gop) == 0);
  c.set_capture_us(static_cast<std::int64_t>(n) * kFrame);
  c.add_frame_sizes(1);
  c.set_payload("x");
  return c;
}

v1::Chunk audio(std::uint64_t n) {
  v1::Chunk c = video(n);
  c.set_kind(v1::MEDIA_KIND_AUDIO);
  c.set_anchor(true);
  return c;
}

std::vector<std::uint64_t> seqs(const std::vector<v1::Chunk>& v) {
  std::vector<std::uint64_t> out;
  for (const auto& c : v) out.push_back(c.media_seq());
  return out;
}

}  // namespace

TEST_CASE("in-order chunks are released at once, in order") {
  PlayoutBuffer b(v1::MEDIA_KIND_VIDEO);
  std::vector<v1::Chunk> out;
  for (std::uint64_t n = 0; n < 5; ++n) {
    const std::int64_t now = static_cast<std::int64_t>(n) * kFrame + 5'000;
    CHECK((b.push(video(n), now, kDelay) == PushResult::kAccepted));
    b.poll(now, kDelay, out);
  }
  CHECK(seqs(out) == std::vector<std::uint64_t>{0, 1, 2, 3, 4});
  CHECK(b.stats().lost == 0);
  CHECK(b.expectedSinceStart() == 5);
}

TEST_CASE("reordering within the delay is repaired") {
  PlayoutBuffer b(v1::MEDIA_KIND_VIDEO);
  std::vector<v1::Chunk> out;
  const std::int64_t now = 2 * kFrame + 1'000;
  for (std::uint64_t n : {0u, 2u, 1u}) {
    (void)b.push(video(n), now, kDelay);
    b.poll(now, kDelay, out);
  }
  CHECK(seqs(out) == std::vector<std::uint64_t>{0, 1, 2});
}

TEST_CASE("a gap is waited for until the next chunk would be late beyond tolerance, then skipped to the next anchor") {
  PlayoutBuffer b(v1::MEDIA_KIND_VIDEO);
  std::vector<v1::Chunk> out;
  // Chunk 2 never arrives; 3..12 do (anchor at 10).
  for (std::uint64_t n = 0; n <= 12; ++n) {
    if (n == 2) continue;
    const std::int64_t now = static_cast<std::int64_t>(n) * kFrame + 1'000;
    (void)b.push(video(n), now, kDelay);
    b.poll(now, kDelay, out);
    if (n == 3) {
      // Chunk 3 is due at 3*kFrame + kDelay (+ tolerance): still waiting for 2.
      CHECK(seqs(out) == std::vector<std::uint64_t>{0, 1});
      CHECK_FALSE(b.takeKeyframeRequest(now));
    }
  }
  // By the time chunk 12 arrives the gap was declared lost, 3..9 were skipped
  // (undecodable without 2), and playback resumed on anchor 10.
  CHECK(seqs(out) == std::vector<std::uint64_t>{0, 1, 10, 11, 12});
  CHECK(b.stats().lost == 1);
  CHECK(b.stats().skipped == 7);
  CHECK(b.stats().keyframeRequests == 0);
}

TEST_CASE("the next deadline: none while everything went out, the gap's give-up time while one is open") {
  PlayoutBuffer b(v1::MEDIA_KIND_VIDEO);
  std::vector<v1::Chunk> out;
  const PlayoutBufferConfig defaults;
  (void)b.push(video(0), 1'000, kDelay);
  b.poll(1'000, kDelay, out);
  CHECK_FALSE(b.nextDeadlineUs(kDelay).has_value());  // nothing held: no timer needed
  (void)b.push(video(2), 2 * kFrame + 1'000, kDelay);  // 1 is missing
  b.poll(2 * kFrame + 1'000, kDelay, out);
  const auto due = b.nextDeadlineUs(kDelay);
  REQUIRE(due.has_value());
  CHECK(*due == 2 * kFrame + kDelay + defaults.lateToleranceUs);
  // Just before it the gap is still waited for; at it, given up on.
  b.poll(*due - 1, kDelay, out);
  CHECK(b.stats().lost == 0);
  b.poll(*due, kDelay, out);
  CHECK(b.stats().lost == 1);
}

TEST_CASE("after a loss the buffer asks for a keyframe, rate-limited") {
  PlayoutBufferConfig cfg;
  cfg.keyframeRequestIntervalUs = 500'000;
  PlayoutBuffer b(v1::MEDIA_KIND_VIDEO, cfg);
  std::vector<v1::Chunk> out;
  (void)b.push(video(0), 1'000, kDelay);
  (void)b.push(video(2), 2 * kFrame, kDelay);
  const std::int64_t later = 2 * kFrame + kDelay + cfg.lateToleranceUs;  // chunk 2 now late beyond tolerance
  b.poll(later, kDelay, out);
  CHECK(b.waitingForAnchor());
  CHECK(b.takeKeyframeRequest(later));
  CHECK_FALSE(b.takeKeyframeRequest(later + 100'000));
  CHECK(b.takeKeyframeRequest(later + 500'000));
  (void)b.push(video(10), 10 * kFrame, kDelay);
  b.poll(10 * kFrame, kDelay, out);
  CHECK_FALSE(b.waitingForAnchor());
  CHECK_FALSE(b.takeKeyframeRequest(later + 2'000'000));
}

TEST_CASE("a wide hole asks for a keyframe at once, before it is given up, and a narrow one waits") {
  PlayoutBuffer b(v1::MEDIA_KIND_VIDEO);  // keyframeForHoleOf = 3
  std::vector<v1::Chunk> out;
  (void)b.push(video(0), 1'000, kDelay);
  b.poll(1'000, kDelay, out);
  // 1 and 2 missing (a hole of two): waited for, nothing asked.
  (void)b.push(video(3), 3 * kFrame, kDelay);
  b.poll(3 * kFrame, kDelay, out);
  CHECK_FALSE(b.takeKeyframeRequest(3 * kFrame));
  (void)b.push(video(1), 3 * kFrame + 1, kDelay);  // repaired
  (void)b.push(video(2), 3 * kFrame + 2, kDelay);
  b.poll(3 * kFrame + 2, kDelay, out);
  CHECK(seqs(out) == std::vector<std::uint64_t>{0, 1, 2, 3});
  // 4..6 missing (a streamer restarted): asked for at once, once.
  (void)b.push(video(7), 7 * kFrame, kDelay);
  b.poll(7 * kFrame, kDelay, out);
  CHECK_FALSE(b.waitingForAnchor());  // still waited for
  CHECK(b.takeKeyframeRequest(7 * kFrame));
  (void)b.push(video(8), 8 * kFrame, kDelay);
  b.poll(8 * kFrame, kDelay, out);
  CHECK_FALSE(b.takeKeyframeRequest(8 * kFrame));
  // The keyframe comes (as a new GOP, 9): played at once, the hole given up
  // without waiting out the late tolerance.
  v1::Chunk key = video(9);
  key.set_anchor(true);
  (void)b.push(key, 9 * kFrame, kDelay);
  out.clear();
  b.poll(9 * kFrame, kDelay, out);
  CHECK(seqs(out) == std::vector<std::uint64_t>{9});
  CHECK(b.stats().lost == 3);     // 4..6
  CHECK(b.stats().skipped == 2);  // 7, 8: not decodable without 4..6
  CHECK_FALSE(b.takeKeyframeRequest(9 * kFrame));
  CHECK(b.stats().keyframeRequests == 1);
  // Audio never asks.
  PlayoutBuffer a(v1::MEDIA_KIND_AUDIO);
  (void)a.push(audio(0), 1'000, kDelay);
  a.poll(1'000, kDelay, out);
  (void)a.push(audio(9), 9 * kFrame, kDelay);
  a.poll(9 * kFrame, kDelay, out);
  CHECK_FALSE(a.takeKeyframeRequest(9 * kFrame));
}

TEST_CASE("video starts on an anchor: a join mid-GOP asks for a keyframe") {
  PlayoutBuffer b(v1::MEDIA_KIND_VIDEO);
  std::vector<v1::Chunk> out;
  for (std::uint64_t n = 5; n < 8; ++n) {
    (void)b.push(video(n), static_cast<std::int64_t>(n) * kFrame, kDelay);
    b.poll(static_cast<std::int64_t>(n) * kFrame, kDelay, out);
  }
  CHECK(out.empty());
  CHECK(b.takeKeyframeRequest(8 * kFrame));
  (void)b.push(video(10), 10 * kFrame, kDelay);
  b.poll(10 * kFrame, kDelay, out);
  CHECK(seqs(out) == std::vector<std::uint64_t>{10});
}

TEST_CASE("the first chunks out of order: a non-anchor ahead of its anchor waits for it, nothing is skipped") {
  PlayoutBuffer b(v1::MEDIA_KIND_VIDEO);
  std::vector<v1::Chunk> out;
  (void)b.push(video(1), 1 * kFrame + 5'000, kDelay);  // overtook the anchor in the overlay
  b.poll(1 * kFrame + 5'000, kDelay, out);
  CHECK(out.empty());
  (void)b.push(video(0), 1 * kFrame + 8'000, kDelay);
  b.poll(1 * kFrame + 8'000, kDelay, out);
  CHECK(seqs(out) == std::vector<std::uint64_t>{0, 1});
  CHECK(b.stats().skipped == 0);
  CHECK(b.stats().lost == 0);
  CHECK_FALSE(b.waitingForAnchor());
}

TEST_CASE("frames expected count late chunks too: a stream that never gets going shows as 0 of N") {
  PlayoutBuffer b(v1::MEDIA_KIND_VIDEO);
  std::vector<v1::Chunk> out;
  CHECK(b.expectedSinceStart() == 0);
  // Every chunk arrives a second late: nothing plays, but the stream went on.
  for (std::uint64_t n = 0; n < 25; ++n) {
    const std::int64_t now = static_cast<std::int64_t>(n) * kFrame + 1'000'000;
    CHECK(std::string(toString(b.push(video(n), now, kDelay))) == "late");
    b.poll(now, kDelay, out);
  }
  CHECK(out.empty());
  CHECK(b.expectedSinceStart() == 25);
  // Once playing, it counts from the first chunk played, late ones included.
  PlayoutBuffer p(v1::MEDIA_KIND_VIDEO);
  (void)p.push(video(0), 0, kDelay);
  p.poll(0, kDelay, out);
  (void)p.push(video(5), 5 * kFrame + 1'000'000, kDelay);  // late
  CHECK(p.expectedSinceStart() == 6);
}

TEST_CASE("late and duplicate chunks are dropped and counted") {
  PlayoutBufferConfig cfg;
  cfg.lateToleranceUs = 100'000;
  PlayoutBuffer b(v1::MEDIA_KIND_VIDEO, cfg);
  std::vector<v1::Chunk> out;
  (void)b.push(video(0), 0, kDelay);
  b.poll(0, kDelay, out);
  CHECK((b.push(video(0), 1'000, kDelay) == PushResult::kDuplicate));
  // Chunk 1 arrives after capture + delay + tolerance.
  CHECK((b.push(video(1), kFrame + kDelay + 100'001, kDelay) == PushResult::kLate));
  CHECK(b.stats().late == 1);
  CHECK(b.stats().duplicates == 1);
}

TEST_CASE("a chunk arriving after its gap was given up is late") {
  PlayoutBuffer b(v1::MEDIA_KIND_AUDIO);
  std::vector<v1::Chunk> out;
  (void)b.push(audio(0), 0, kDelay);
  (void)b.push(audio(2), 2 * kFrame, kDelay);
  const std::int64_t givenUp = 2 * kFrame + kDelay + PlayoutBufferConfig{}.lateToleranceUs;
  b.poll(givenUp, kDelay, out);
  CHECK(seqs(out) == std::vector<std::uint64_t>{0, 2});  // audio needs no anchor
  CHECK((b.push(audio(1), givenUp + 1, kDelay) == PushResult::kDuplicate));
  CHECK(b.stats().lost == 1);
}

TEST_CASE("memory is bounded behind a gap") {
  PlayoutBufferConfig cfg;
  cfg.maxPending = 16;
  PlayoutBuffer b(v1::MEDIA_KIND_AUDIO, cfg);
  std::vector<v1::Chunk> out;
  (void)b.push(audio(0), 0, 10'000'000);
  b.poll(0, 10'000'000, out);
  for (std::uint64_t n = 2; n < 100; ++n) {
    (void)b.push(audio(n), 0, 10'000'000);  // chunk 1 missing, huge delay
    CHECK(b.pending() <= 16);
  }
}

TEST_CASE("a repair that arrives within the late tolerance fills the gap: a stall, not a loss") {
  PlayoutBuffer b(v1::MEDIA_KIND_VIDEO);
  std::vector<v1::Chunk> out;
  for (std::uint64_t n : {0u, 1u, 3u, 4u}) {
    const std::int64_t now = static_cast<std::int64_t>(n) * kFrame + 1'000;
    (void)b.push(video(n), now, kDelay);
    b.poll(now, kDelay, out);
  }
  CHECK(seqs(out) == std::vector<std::uint64_t>{0, 1});
  const std::int64_t repairAt = 3 * kFrame + kDelay + 100'000;  // 100 ms after chunk 3 was due
  CHECK((b.push(video(2), repairAt, kDelay) == PushResult::kAccepted));
  b.poll(repairAt, kDelay, out);
  CHECK(seqs(out) == std::vector<std::uint64_t>{0, 1, 2, 3, 4});
  CHECK(b.stats().lost == 0);
  CHECK(b.stats().skipped == 0);
}

TEST_CASE("video: a hole asks for a keyframe at the short tolerance and is still waited for until the long one") {
  PlayoutBufferConfig cfg;
  cfg.lateToleranceUs = 300'000;  // video's
  cfg.keyframeAfterUs = 150'000;  // where audio gives up
  std::vector<v1::Chunk> out;
  // Chunks `ns`, each pushed and polled as it comes, on time.
  auto feed = [&](PlayoutBuffer& b, std::initializer_list<std::uint64_t> ns) {
    for (std::uint64_t n : ns) {
      const std::int64_t now = static_cast<std::int64_t>(n) * kFrame + 1'000;
      (void)b.push(video(n), now, kDelay);
      b.poll(now, kDelay, out);
    }
  };
  // A keyframe (chunk n made an anchor) arriving at `at`: what goes out then.
  auto keyframeAt = [&](PlayoutBuffer& b, std::uint64_t n, std::int64_t at) {
    v1::Chunk key = video(n);
    key.set_anchor(true);
    out.clear();
    (void)b.push(key, at, kDelay);
    b.poll(at, kDelay, out);
    return seqs(out);
  };
  SUBCASE("the late frame comes: decoding goes on, nothing skipped") {
    PlayoutBuffer b(v1::MEDIA_KIND_VIDEO, cfg);
    feed(b, {0, 1, 3, 4});  // 2 is stuck on the way
    // The timer: the keyframe request's moment first, then the give-up.
    const std::int64_t slot3 = 3 * kFrame + kDelay;
    REQUIRE(b.nextDeadlineUs(kDelay).has_value());
    CHECK(*b.nextDeadlineUs(kDelay) == slot3 + 150'000);
    b.poll(slot3 + 150'000 - 1, kDelay, out);
    CHECK_FALSE(b.takeKeyframeRequest(slot3 + 150'000 - 1));
    b.poll(slot3 + 150'000, kDelay, out);
    CHECK(b.takeKeyframeRequest(slot3 + 150'000));  // asked now...
    CHECK_FALSE(b.waitingForAnchor());              // ...still waiting for 2
    CHECK(*b.nextDeadlineUs(kDelay) == slot3 + 300'000);
    const std::int64_t lateAt = slot3 + 250'000;  // 250 ms past 3's slot: beyond audio's tolerance, within video's
    CHECK((b.push(video(2), lateAt, kDelay) == PushResult::kAccepted));
    b.poll(lateAt, kDelay, out);
    CHECK(seqs(out) == std::vector<std::uint64_t>{0, 1, 2, 3, 4});
    CHECK(b.stats().lost == 0);
    CHECK(b.stats().skipped == 0);
    CHECK(b.stats().keyframeRequests == 1);
  }
  SUBCASE("it never comes: given up at the long tolerance, the keyframe already asked for") {
    PlayoutBuffer b(v1::MEDIA_KIND_VIDEO, cfg);
    feed(b, {0, 1, 3, 4});
    const std::int64_t slot3 = 3 * kFrame + kDelay;
    b.poll(slot3 + 150'000, kDelay, out);
    CHECK(b.takeKeyframeRequest(slot3 + 150'000));
    b.poll(slot3 + 300'000, kDelay, out);
    CHECK(b.stats().lost == 1);
    CHECK(b.waitingForAnchor());
    CHECK_FALSE(b.takeKeyframeRequest(slot3 + 300'000));  // once per hole: it is on its way
    // The keyframe comes (a new GOP at 5): played at once.
    CHECK(keyframeAt(b, 5, slot3 + 320'000) == std::vector<std::uint64_t>{5});
  }
  SUBCASE("a keyframe that comes while the hole is waited for ends the wait") {
    PlayoutBuffer b(v1::MEDIA_KIND_VIDEO, cfg);
    feed(b, {0, 1, 3});
    const std::int64_t slot3 = 3 * kFrame + kDelay;
    b.poll(slot3 + 150'000, kDelay, out);
    CHECK(b.takeKeyframeRequest(slot3 + 150'000));
    CHECK(keyframeAt(b, 8, slot3 + 200'000) == std::vector<std::uint64_t>{8});
  }
  SUBCASE("audio never asks") {
    PlayoutBuffer a(v1::MEDIA_KIND_AUDIO, cfg);
    (void)a.push(audio(0), 1'000, kDelay);
    a.poll(1'000, kDelay, out);
    (void)a.push(audio(3), 3 * kFrame, kDelay);
    a.poll(3 * kFrame + kDelay + 200'000, kDelay, out);
    CHECK_FALSE(a.takeKeyframeRequest(3 * kFrame + kDelay + 200'000));
  }
}
