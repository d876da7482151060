// The web page's live-edge policy (controller/web/media.js), without a
// browser: what it decodes, skips and when it reopens the stream.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LiveEdge } from '../../controller/web/media.js';

const MS = 1000;
const frame = (captureMs, anchor = false) => ({ captureUs: captureMs * MS, anchor });

test('fresh frames are all decoded', () => {
  const live = new LiveEdge();
  for (let i = 0; i < 100; i++) {
    assert.equal(live.video(frame(i * 33, i % 60 === 0), (i * 33 + 80) * MS, 1), true);
  }
  assert.equal(live.videoSkipped, 0);
  assert.equal(live.shouldReconnect(3400 * MS), false);
});

test('a stale frame starts a skip that ends on the next fresh keyframe only', () => {
  const live = new LiveEdge({ staleUs: 1000 * MS });
  assert.equal(live.video(frame(0, true), 50 * MS, 0), true);
  assert.equal(live.video(frame(33), 1200 * MS, 0), false);         // 1167 ms old
  assert.equal(live.video(frame(1300), 1350 * MS, 0), false);       // fresh, but it depends on what was skipped
  assert.equal(live.video(frame(1400, true), 2600 * MS, 0), false); // a keyframe, but stale
  assert.equal(live.video(frame(2600, true), 2650 * MS, 0), true);  // a fresh keyframe: live again
  assert.equal(live.video(frame(2633), 2700 * MS, 0), true);
  assert.equal(live.videoSkipped, 3);
});

test('a decoder that is behind makes the page skip to the next keyframe', () => {
  const live = new LiveEdge({ maxDecodeQueue: 5 });
  assert.equal(live.video(frame(0, true), 40 * MS, 5), true);
  assert.equal(live.video(frame(33), 73 * MS, 6), false);
  assert.equal(live.video(frame(66, true), 106 * MS, 6), false);  // still behind
  assert.equal(live.video(frame(99, true), 139 * MS, 0), true);
});

test('audio too old to be heard in time is dropped and counted', () => {
  const live = new LiveEdge({ staleUs: 1000 * MS });
  assert.equal(live.audio(frame(0), 100 * MS), true);
  assert.equal(live.audio(frame(20), 1500 * MS), false);
  assert.equal(live.audioDropped, 1);
});

test('seconds of stale records ask for a reopened stream; fresh ones in between do not', () => {
  const live = new LiveEdge({ staleUs: 1000 * MS, reconnectAfterUs: 3000 * MS });
  live.video(frame(0), 1500 * MS, 0);
  assert.equal(live.shouldReconnect(4000 * MS), false);
  live.video(frame(3000, true), 3100 * MS, 0);  // a fresh one resets the clock
  live.video(frame(3100), 4200 * MS, 0);
  assert.equal(live.shouldReconnect(7000 * MS), false);
  live.video(frame(6000), 7300 * MS, 0);
  assert.equal(live.shouldReconnect(7300 * MS), true);
});

test('lateness that survives a reopened stream is upstream: the page then shows it rather than skip forever', () => {
  const live = new LiveEdge({ staleUs: 1000 * MS, slackUs: 500 * MS });
  live.reconnected(0);
  assert.equal(live.reconnects, 1);
  // The first second after the reopen: everything 1.6 s old.
  for (let t = 0; t < 1000; t += 33) live.video(frame(t - 1600, t % 990 === 0), t * MS, 0);
  // After it the threshold is 1.6 + 0.5 s: a keyframe 1.6 s old is shown.
  assert.equal(live.video(frame(1100 - 1600, true), 1100 * MS, 0), true);
  assert.equal(live.staleUs, 2100 * MS);
  // Upstream recovers: the threshold follows it down, never under the base.
  live.video(frame(1200 - 100), 1200 * MS, 0);
  assert.equal(live.staleUs, 1000 * MS);
  assert.equal(live.video(frame(1300 - 1500), 1300 * MS, 0), false);
});

test('a tile starts on a keyframe, asking for one at most once a second while it waits, and again after a skip', () => {
  const live = new LiveEdge({ staleUs: 1000 * MS, keyframeAskGapUs: 1000 * MS });
  assert.equal(live.video(frame(0), 40 * MS, 0), false);  // mid-GOP: wait (not a skip)
  assert.equal(live.videoSkipped, 0);
  assert.equal(live.takeKeyframeRequest(40 * MS), true);
  assert.equal(live.takeKeyframeRequest(500 * MS), false);
  assert.equal(live.takeKeyframeRequest(1040 * MS), true);
  assert.equal(live.video(frame(1100, true), 1150 * MS, 0), true);
  assert.equal(live.takeKeyframeRequest(2200 * MS), false);  // playing: nothing to ask for
  assert.equal(live.video(frame(1133), 2300 * MS, 0), false);  // stale: a skip
  assert.equal(live.takeKeyframeRequest(2300 * MS), true);
  assert.equal(live.keyframeRequests, 3);
});
