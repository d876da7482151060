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
