// Shared by the page and its media workers: the daemon's media records
// (controller/daemon/media_feed.hpp) and a sliding-window quantile.

export const KIND_VIDEO = 1;
export const KIND_AUDIO = 2;
export const CODEC_H264 = 1;
export const CODEC_VP8 = 2;

// Sound may trail its picture by up to this much before video is held back
// for it: lip sync tolerates sound late far better than early (EBU R37: from
// 40 ms early to 60 ms late; ITU-R BT.1359 finds 125 ms late just detectable),
// and holding video back is latency on every frame. Audio comes late twice:
// a 20 ms Opus frame is sent after its last sample, and the browser's output
// path adds its own (~40 ms in headless Chromium).
export const AUDIO_LAG_ALLOWED_US = 60_000;

export const nowUs = () => (performance.timeOrigin + performance.now()) * 1000;

// Splits the byte stream into records: {kind, codec, anchor, captureUs, seq, durationUs, frames[]}.
export class RecordParser {
  constructor() { this.buffer = new Uint8Array(0); }

  push(bytes) {
    const joined = new Uint8Array(this.buffer.length + bytes.length);
    joined.set(this.buffer);
    joined.set(bytes, this.buffer.length);
    const records = [];
    let at = 0;
    const view = new DataView(joined.buffer);
    while (joined.length - at >= 4) {
      const length = view.getUint32(at);
      if (joined.length - at - 4 < length) break;
      if (length === 0) {  // a keep-alive while no media flows
        at += 4;
        continue;
      }
      const r = at + 4;
      const count = view.getUint16(r + 20);
      let data = r + 22 + 4 * count;
      const frames = [];
      for (let i = 0; i < count; i++) {
        const size = view.getUint32(r + 22 + 4 * i);
        frames.push(joined.subarray(data, data + size));
        data += size;
      }
      records.push({
        kind: joined[r], codec: joined[r + 1], anchor: (joined[r + 2] & 1) === 1,
        captureUs: Number(view.getBigInt64(r + 4)), seq: view.getUint32(r + 12),
        durationUs: view.getUint32(r + 16), frames,
      });
      at += 4 + length;
    }
    this.buffer = joined.slice(at);
    return records;
  }
}

// A quantile over a sliding window of samples.
export class Window {
  constructor(size) { this.size = size; this.values = []; }
  add(v) { this.values.push(v); if (this.values.length > this.size) this.values.shift(); }
  quantile(q) {
    if (!this.values.length) return null;
    const sorted = [...this.values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  }
}

// Keeps a tile live when the page cannot keep up (a loaded machine, a slow
// tab): what arrives too late to be worth showing, or while the decoder is
// already behind, is not decoded. A live picture a few frames short beats a
// smooth one seconds behind, so latency stays bounded and what is dropped is
// counted. Pure (the caller passes the time); media_worker.js drives it.
//
// - Video: a frame older than `staleUs` since capture, or arriving while
//   `maxDecodeQueue` frames wait to be decoded, starts a skip; later frames
//   depend on it, so the skip lasts until a keyframe that is itself fresh.
// - Audio: a chunk older than `staleUs` is dropped (it would be heard late).
// - While it waits for a keyframe (a tile's start, or a skip), it asks for
//   one at most every `keyframeAskGapUs` (takeKeyframeRequest): the source
//   sends one at once rather than at the next periodic keyframe.
// - When everything has been stale for `reconnectAfterUs`, the backlog is in
//   the stream (socket buffers) rather than the decoder: the caller reopens
//   the stream at the live edge. If it is still late right after that, the
//   lateness is upstream, not here: `staleUs` is raised to what the first
//   second after the reconnect showed (+ `slackUs`), and comes down again as
//   fresher records arrive.
export class LiveEdge {
  constructor({ staleUs = 1_000_000, maxDecodeQueue = 5, reconnectAfterUs = 3_000_000, slackUs = 500_000,
                keyframeAskGapUs = 1_000_000 } = {}) {
    this.baseStaleUs = staleUs;
    this.staleUs = staleUs;
    this.maxDecodeQueue = maxDecodeQueue;
    this.reconnectAfterUs = reconnectAfterUs;
    this.slackUs = slackUs;
    this.started = false;        // a first keyframe decoded
    this.skipping = false;
    this.keyframeAskGapUs = keyframeAskGapUs;
    this.lastAskUs = null;
    this.keyframeRequests = 0;
    this.behindSinceUs = null;   // since when every record has been stale
    this.probe = null;           // {untilUs, minAgeUs}: the first second after a reconnect
    this.videoSkipped = 0;
    this.audioDropped = 0;
    this.reconnects = 0;
  }

  // Whether to decode this video record ({anchor, captureUs}).
  video(r, nowUs, decodeQueue) {
    const stale = this.#observe(r, nowUs);
    if (!this.started) {  // a tile starts on a fresh keyframe (not counted as skipped)
      if (!r.anchor || stale || decodeQueue > this.maxDecodeQueue) return false;
      this.started = true;
      return true;
    }
    if (this.skipping) {
      if (!r.anchor || stale || decodeQueue > this.maxDecodeQueue) {
        ++this.videoSkipped;
        return false;
      }
      this.skipping = false;
    }
    if (stale || decodeQueue > this.maxDecodeQueue) {
      this.skipping = true;
      ++this.videoSkipped;
      return false;
    }
    return true;
  }

  // Whether to decode this audio record.
  audio(r, nowUs) {
    if (!this.#observe(r, nowUs)) return true;
    ++this.audioDropped;
    return false;
  }

  // True when a keyframe should be asked for now (waiting for one, and not
  // asked for lately).
  takeKeyframeRequest(nowUs) {
    if (this.started && !this.skipping) return false;
    if (this.lastAskUs !== null && nowUs - this.lastAskUs < this.keyframeAskGapUs) return false;
    this.lastAskUs = nowUs;
    ++this.keyframeRequests;
    return true;
  }

  // True when the stream has been behind for long: reopen it, then call reconnected().
  shouldReconnect(nowUs) {
    return this.behindSinceUs !== null && nowUs - this.behindSinceUs >= this.reconnectAfterUs;
  }

  reconnected(nowUs) {
    ++this.reconnects;
    this.behindSinceUs = null;
    this.skipping = true;  // the new stream starts wherever: wait for a keyframe
    this.probe = { untilUs: nowUs + 1_000_000, minAgeUs: Infinity };
  }

  #observe(r, nowUs) {
    const age = nowUs - r.captureUs;
    if (this.probe) {
      if (nowUs < this.probe.untilUs) {
        this.probe.minAgeUs = Math.min(this.probe.minAgeUs, age);
      } else {
        if (this.probe.minAgeUs !== Infinity) {
          this.staleUs = Math.max(this.baseStaleUs, this.probe.minAgeUs + this.slackUs);
        }
        this.probe = null;
      }
    } else if (age + this.slackUs < this.staleUs) {
      this.staleUs = Math.max(this.baseStaleUs, age + this.slackUs);  // upstream got faster
    }
    const stale = age > this.staleUs;
    if (!stale) this.behindSinceUs = null;
    else if (this.behindSinceUs === null) this.behindSinceUs = nowUs;
    return stale;
  }
}
