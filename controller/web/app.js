// PartyHub's web GUI: join a conference through the local controller daemon
// and see and hear every member live. Each member's stream comes from the
// daemon (GET .../members/{id}/media, records framed as in
// controller/daemon/media_feed.hpp), is decoded here with WebCodecs and
// presented at capture time + D, audio and video alike, so they stay in sync.

const $ = (selector) => document.querySelector(selector);
const nowUs = () => (performance.timeOrigin + performance.now()) * 1000;

const KIND_VIDEO = 1;
const KIND_AUDIO = 2;
const CODEC_H264 = 1;
const CODEC_VP8 = 2;

// ---------------------------------------------------------------- REST calls

async function api(method, path, body) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: body ? { 'Content-Type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
  } catch (e) {
    throw new Error('The PartyHub controller is not reachable (is partyhub-controller daemon running?)');
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  if (!res.ok) throw new Error(data?.error ?? `HTTP ${res.status}`);
  return data;
}

function showError(message) {
  const el = $('#error');
  el.textContent = message ?? '';
  el.hidden = !message;
}

// ------------------------------------------------------- the media records

// Splits the byte stream into records: {kind, codec, anchor, captureUs, seq, frames[]}.
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
        durationUs: view.getUint32(r + 16), frames, bytes: length + 4,
      });
      at += 4 + length;
    }
    this.buffer = joined.slice(at);
    return records;
  }
}

// A high quantile over a sliding window of samples.
class Window {
  constructor(size) { this.size = size; this.values = []; }
  add(v) { this.values.push(v); if (this.values.length > this.size) this.values.shift(); }
  quantile(q) {
    if (!this.values.length) return null;
    const sorted = [...this.values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  }
}

// ------------------------------------------------------------------- a tile

class Tile {
  constructor(app, member) {
    this.app = app;
    this.id = member.id;
    this.name = member.name;
    this.self = member.self;
    this.el = document.createElement('div');
    this.el.className = 'tile';
    this.el.dataset.member = member.id;
    this.el.innerHTML = `<canvas width="640" height="360"></canvas><div class="status"></div>
      <span class="name"></span><button class="stats-toggle" title="Statistics">stats</button>
      <pre class="stats" hidden></pre>`;
    this.el.querySelector('.name').textContent = member.self ? `${member.name} (you)` : member.name;
    this.canvas = this.el.querySelector('canvas');
    this.ctx2d = this.canvas.getContext('2d');
    this.statusEl = this.el.querySelector('.status');
    this.statsEl = this.el.querySelector('.stats');
    this.el.querySelector('.stats-toggle').addEventListener('click', () => {
      this.statsEl.hidden = !this.statsEl.hidden;
      this.renderStats();
    });
    this.setStatus(`Connecting to ${member.name}…`);

    this.delayUs = 80_000;               // D: presentation at capture + D
    this.readyLatency = new Window(90);  // capture -> decoded (video) / arrived (audio), µs
    this.g2g = new Window(300);          // capture -> drawn, ms
    this.g2gLog = [];                    // every one since the last clear (benchmarks read it)
    this.framesDrawn = 0;
    this.bytes = 0;
    this.lastMediaUs = 0;
    this.level = 0;
    this.player = null;                  // the controller's view of this stream
    this.running = true;
    this.abort = new AbortController();
    this.read();
    this.timer = setInterval(() => this.everySecond(), 1000);
  }

  setStatus(text) { this.statusEl.textContent = text ?? ''; }

  async read() {
    const url = `/v1/conferences/${encodeURIComponent(this.app.group)}/members/${encodeURIComponent(this.id)}/media`;
    while (this.running) {
      try {
        const res = await fetch(url, { signal: this.abort.signal, cache: 'no-store' });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const reader = res.body.getReader();
        const parser = new RecordParser();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          this.bytes += value.length;
          for (const r of parser.push(value)) this.onRecord(r);
        }
      } catch (e) {
        if (!this.running) return;
      }
      if (this.running) await new Promise((r) => setTimeout(r, 500));  // the stream ended: again
    }
  }

  onRecord(r) {
    this.lastMediaUs = nowUs();
    if (r.kind === KIND_VIDEO) this.onVideo(r);
    else if (r.kind === KIND_AUDIO) this.onAudio(r);
  }

  // ---- video: WebCodecs, presented at capture + D

  onVideo(r) {
    if (!this.decoder || this.decoder.state === 'closed') {
      if (!r.anchor) return;  // start on a keyframe
      this.decoder = new VideoDecoder({
        output: (frame) => this.onDecoded(frame),
        error: () => { this.decoder = null; },  // a bad frame: start again at the next keyframe
      });
      this.decoder.configure({
        codec: r.codec === CODEC_VP8 ? 'vp8' : 'avc1.42E01F',  // H.264 constrained baseline, Annex B
        optimizeForLatency: true,
      });
    }
    for (const data of r.frames) {
      this.decoder.decode(new EncodedVideoChunk({ type: r.anchor ? 'key' : 'delta', timestamp: r.captureUs, data }));
    }
  }

  onDecoded(frame) {
    const captureUs = frame.timestamp;
    this.readyLatency.add(nowUs() - captureUs);
    const wait = (captureUs + this.delayUs - nowUs()) / 1000;
    const draw = () => {
      if (this.canvas.width !== frame.displayWidth) {
        this.canvas.width = frame.displayWidth;
        this.canvas.height = frame.displayHeight;
      }
      this.ctx2d.drawImage(frame, 0, 0);
      frame.close();
      const g2gMs = (nowUs() - captureUs) / 1000;
      this.g2g.add(g2gMs);
      if (this.g2gLog.length < 100_000) this.g2gLog.push(g2gMs);
      this.framesDrawn++;
      if (this.framesDrawn === 1) this.setStatus('');
    };
    if (wait <= 0) draw(); else setTimeout(draw, wait);
  }

  // ---- audio: WebCodecs Opus, Web Audio at the same capture + D

  onAudio(r) {
    const ac = this.app.audio;
    if (!ac || typeof AudioDecoder === 'undefined') return;
    this.readyLatency.add(nowUs() - r.captureUs);
    if (!this.audioDecoder || this.audioDecoder.state === 'closed') {
      this.audioDecoder = new AudioDecoder({
        output: (data) => this.onAudioData(data),
        error: () => { this.audioDecoder = null; },
      });
      this.audioDecoder.configure({ codec: 'opus', sampleRate: 48000, numberOfChannels: 1 });
    }
    const frameUs = r.frames.length ? r.durationUs / r.frames.length || 20_000 : 20_000;
    r.frames.forEach((data, i) => {
      this.audioDecoder.decode(new EncodedAudioChunk({ type: 'key', timestamp: r.captureUs + i * frameUs, data }));
    });
  }

  onAudioData(data) {
    const ac = this.app.audio;
    const samples = new Float32Array(data.numberOfFrames);
    data.copyTo(samples, { planeIndex: 0, format: 'f32-planar' });
    let sum = 0;
    for (const s of samples) sum += s * s;
    this.level = 0.8 * this.level + 0.2 * Math.sqrt(sum / Math.max(1, samples.length));
    const buffer = ac.createBuffer(1, samples.length, data.sampleRate);
    buffer.copyToChannel(samples, 0);
    const at = ac.currentTime + (data.timestamp + this.delayUs - nowUs()) / 1e6;
    data.close();
    if (at < ac.currentTime - 0.005) return;  // too late to be in sync: drop, as the player does
    const source = ac.createBufferSource();
    source.buffer = buffer;
    source.connect(ac.destination);
    source.start(Math.max(at, ac.currentTime));
  }

  // ---- once a second: D, the speaking indicator, stream health, reports

  everySecond() {
    const p95 = this.readyLatency.quantile(0.95);
    if (p95 !== null) this.delayUs = Math.min(1_000_000, Math.max(20_000, p95 + 5_000));
    this.el.classList.toggle('speaking', this.level > 0.02);
    const silentS = this.lastMediaUs ? (nowUs() - this.lastMediaUs) / 1e6 : 0;
    if (this.lastMediaUs && silentS > 3) this.setStatus(`No media from ${this.name} for ${Math.round(silentS)} s`);
    else if (this.framesDrawn > 0) this.setStatus('');
    this.kbps = Math.round((this.bytes - (this.lastBytes ?? 0)) * 8 / 1000);
    this.lastBytes = this.bytes;
    this.renderStats();
    if (this.framesDrawn > 0) {
      // p95 over the last 300 frames drawn, as the players report theirs.
      api('POST', `/v1/conferences/${encodeURIComponent(this.app.group)}/members/${encodeURIComponent(this.id)}/web-stats`, {
        g2g_p95_ms: this.g2g.quantile(0.95), frames_drawn: this.framesDrawn, delay_ms: this.delayUs / 1000,
        kbps: this.kbps,
      }).catch(() => {});
    }
  }

  renderStats() {
    if (this.statsEl.hidden) return;
    const p = this.player;
    const lines = [
      `latency (g2g p95)  ${fmt(this.g2g.quantile(0.95))} ms`,
      `playout delay      ${fmt(this.delayUs / 1000)} ms`,
      `bitrate            ${this.kbps ?? 0} kbit/s`,
      `frames drawn       ${this.framesDrawn}`,
    ];
    if (p) lines.push(`loss (player)      ${p.frames_lost} of ${p.frames_expected} frames`);
    this.statsEl.textContent = lines.join('\n');
  }

  close() {
    this.running = false;
    clearInterval(this.timer);
    this.abort.abort();
    for (const d of [this.decoder, this.audioDecoder]) {
      if (d && d.state !== 'closed') d.close();
    }
    this.el.remove();
  }
}

const fmt = (v) => (v === null || v === undefined ? '–' : Number(v).toFixed(1));

// -------------------------------------------------------------------- app

class App {
  constructor() {
    this.group = null;
    this.tiles = new Map();
    $('#join-form').addEventListener('submit', (e) => { e.preventDefault(); this.join(new FormData(e.target)); });
    $('#leave').addEventListener('click', () => this.leave());
  }

  async start() {
    if (typeof VideoDecoder === 'undefined') {
      showError('This browser cannot decode video here: it lacks WebCodecs. Use a current Chromium, Chrome or Edge.');
    }
    try {
      const conferences = await api('GET', '/v1/conferences');
      if (conferences.length) return this.enter(conferences[0].group);
    } catch (e) {
      showError(e.message);
    }
    this.show('start');
  }

  show(view) {
    $('#start').hidden = view !== 'start';
    $('#conference').hidden = view !== 'conference';
    $('#leave').hidden = view !== 'conference';
  }

  async join(form) {
    showError(null);
    this.unlockAudio();
    const body = { group: form.get('group').trim(), name: form.get('name').trim(),
                   video: form.get('video'), audio: form.get('audio') };
    if (form.get('password')) body.password = form.get('password');
    if (form.get('manager')) body.manager = form.get('manager').trim();
    $('#join').disabled = true;
    try {
      await api('POST', '/v1/conferences', body);
      await this.enter(body.group);
    } catch (e) {
      showError(`Could not join “${body.group}”: ${e.message}`);
    } finally {
      $('#join').disabled = false;
    }
  }

  unlockAudio() {
    // Browsers start audio only from a user's gesture: this is one.
    if (!this.audio && typeof AudioContext !== 'undefined') this.audio = new AudioContext({ latencyHint: 'interactive' });
    this.audio?.resume();
  }

  async enter(group) {
    this.group = group;
    this.show('conference');
    await this.refresh();
    this.poll = setInterval(() => this.refresh(), 1000);
  }

  async refresh() {
    let st;
    try {
      st = await api('GET', `/v1/conferences/${encodeURIComponent(this.group)}`);
      showError(null);
    } catch (e) {
      showError(`Lost the conference: ${e.message}`);
      return;
    }
    $('#where').textContent = `${st.group} — you are ${st.name}`;
    const ids = new Set(st.members.map((m) => m.id));
    for (const [id, tile] of this.tiles) {
      if (!ids.has(id)) { tile.close(); this.tiles.delete(id); }
    }
    for (const m of st.members) {
      if (!this.tiles.has(m.id)) {
        const tile = new Tile(this, m);
        this.tiles.set(m.id, tile);
        $('#tiles').append(tile.el);
      }
      this.tiles.get(m.id).player = m.player;
    }
    $('#tiles').dataset.count = String(this.tiles.size);
  }

  async leave() {
    clearInterval(this.poll);
    for (const tile of this.tiles.values()) tile.close();
    this.tiles.clear();
    try {
      await api('DELETE', `/v1/conferences/${encodeURIComponent(this.group)}`);
    } catch (e) {
      showError(`Leaving failed: ${e.message}`);
    }
    this.group = null;
    $('#where').textContent = '';
    this.show('start');
  }
}

if (typeof document !== 'undefined') {
  const app = new App();
  globalThis.partyhub = app;  // for the console and tests: tiles, their counters
  app.start();
}
