// Audio playout on the audio rendering thread. Each tile's worker sends its
// decoded audio straight here (a MessagePort of its own, past the page's main
// thread) as {frame, samples, captureUs}: mono samples to be heard starting
// at the context's sample frame `frame`. Chunks arriving a little late are
// played at once; more than 5 ms late they are dropped, as the player does.
// The start of each chunk actually played goes back to the worker, which
// turns it into capture -> heard (and so into the A/V sync figure).
const LATE_DROP_S = 0.005;
const MAX_QUEUED = 400;  // 8 s of 20 ms chunks: a suspended context does not grow without bound

class Playout extends AudioWorkletProcessor {
  constructor() {
    super();
    this.queue = [];  // ascending by frame
    this.feed = null;
    this.port.onmessage = (e) => {
      if (e.data.type !== 'connect') return;
      this.feed = e.data.port;
      this.feed.onmessage = (m) => this.push(m.data);
    };
  }

  push(c) {
    if (c.frame < currentFrame - LATE_DROP_S * sampleRate) {
      this.feed.postMessage({ captureUs: c.captureUs, dropped: true });
      return;
    }
    c.frame = Math.max(c.frame, currentFrame);
    c.started = false;
    let i = this.queue.length;
    while (i > 0 && this.queue[i - 1].frame > c.frame) i--;
    this.queue.splice(i, 0, c);
    if (this.queue.length > MAX_QUEUED) this.queue.shift();
  }

  process(_inputs, outputs) {
    const out = outputs[0];
    const first = out[0];
    const start = currentFrame;
    const end = start + first.length;
    // Overlapping chunks (D just shrank) are mixed, as overlapping sources would be.
    for (const c of this.queue) {
      if (c.frame >= end) break;
      const from = Math.max(start, c.frame);
      const to = Math.min(end, c.frame + c.samples.length);
      for (let f = from; f < to; f++) first[f - start] += c.samples[f - c.frame];
      if (!c.started && from < to) {
        c.started = true;
        this.feed?.postMessage({ captureUs: c.captureUs, frame: c.frame });
      }
    }
    while (this.queue.length && this.queue[0].frame + this.queue[0].samples.length <= end) this.queue.shift();
    for (let ch = 1; ch < out.length; ch++) out[ch].set(first);
    return true;
  }
}

registerProcessor('partyhub-playout', Playout);
