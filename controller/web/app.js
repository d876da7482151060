// PartyHub's web GUI: join a conference through the local controller daemon
// and see and hear every member live. Each member's stream comes from the
// daemon (GET .../members/{id}/media, records framed as in
// controller/daemon/media_feed.hpp) into a worker per tile (media_worker.js),
// which decodes it with WebCodecs and draws video at capture time + D; audio
// is played here, through Web Audio, at the same capture time + D.

import { nowUs } from './media.js';

const $ = (selector) => document.querySelector(selector);

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
    this.statusEl = this.el.querySelector('.status');
    this.statsEl = this.el.querySelector('.stats');
    this.el.querySelector('.stats-toggle').addEventListener('click', () => {
      this.statsEl.hidden = !this.statsEl.hidden;
      this.renderStats();
    });
    this.setStatus(`Connecting to ${member.name}…`);

    this.framesDrawn = 0;
    this.g2gP95 = null;       // capture -> drawn, p95 of the last 300 frames, ms
    this.g2gLog = [];         // every frame's since the last clear (benchmarks read it)
    this.delayUs = 80_000;    // D, as the worker keeps it
    this.kbps = 0;
    this.lastMediaUs = 0;
    this.level = 0;
    this.player = null;       // the controller's view of this stream

    // Decoding and drawing run in a worker, on the tile's canvas handed over.
    const canvas = this.el.querySelector('canvas').transferControlToOffscreen();
    this.worker = new Worker(new URL('./media_worker.js', import.meta.url), { type: 'module' });
    this.worker.onmessage = (e) => this.onWorker(e.data);
    const url = new URL(`/v1/conferences/${encodeURIComponent(app.group)}/members/${encodeURIComponent(this.id)}/media`,
                        location.href).href;
    this.worker.postMessage({ type: 'start', canvas, url }, [canvas]);
  }

  setStatus(text) { this.statusEl.textContent = text ?? ''; }

  onWorker(m) {
    if (m.type === 'audio') this.playAudio(m.data, m.delayUs);
    else if (m.type === 'first-frame') this.setStatus('');
    else if (m.type === 'stats') this.onStats(m);
  }

  // Decoded audio, played at its capture time + D (the worker's, as for video).
  playAudio(data, delayUs) {
    const ac = this.app.audio;
    const samples = new Float32Array(data.numberOfFrames);
    data.copyTo(samples, { planeIndex: 0, format: 'f32-planar' });
    const { timestamp, sampleRate } = data;
    data.close();
    let sum = 0;
    for (const s of samples) sum += s * s;
    this.level = 0.8 * this.level + 0.2 * Math.sqrt(sum / Math.max(1, samples.length));
    if (!ac) return;
    const at = ac.currentTime + (timestamp + delayUs - nowUs()) / 1e6;
    if (at < ac.currentTime - 0.005) return;  // too late to be in sync: drop, as the player does
    const buffer = ac.createBuffer(1, samples.length, sampleRate);
    buffer.copyToChannel(samples, 0);
    const source = ac.createBufferSource();
    source.buffer = buffer;
    source.connect(ac.destination);
    source.start(Math.max(at, ac.currentTime));
  }

  // Once a second from the worker: counters; the speaking indicator, stream
  // health and the report to the daemon.
  onStats(m) {
    this.framesDrawn = m.framesDrawn;
    this.g2gP95 = m.g2gP95;
    this.delayUs = m.delayUs;
    this.kbps = m.kbps;
    this.lastMediaUs = m.lastMediaUs;
    this.lastVideoUs = m.lastVideoUs;
    if (this.g2gLog.length < 100_000) this.g2gLog.push(...m.drawn);
    this.el.classList.toggle('speaking', this.level > 0.02);
    const since = (us) => (us ? (nowUs() - us) / 1e6 : 0);
    if (this.self && this.app.muted.video) this.setStatus('Your camera is off');
    else if (this.lastMediaUs && since(this.lastMediaUs) > 3) {
      this.setStatus(`Nothing from ${this.name} for ${Math.round(since(this.lastMediaUs))} s: connection lost?`);
    } else if (this.lastVideoUs && since(this.lastVideoUs) > 3) {
      this.setStatus(`${this.name}'s camera is off`);
    } else if (this.framesDrawn > 0) this.setStatus('');
    this.renderStats();
    if (this.framesDrawn > 0) {
      // p95 over the last 300 frames drawn, as the players report theirs.
      api('POST', `/v1/conferences/${encodeURIComponent(this.app.group)}/members/${encodeURIComponent(this.id)}/web-stats`, {
        g2g_p95_ms: this.g2gP95, frames_drawn: this.framesDrawn, delay_ms: this.delayUs / 1000, kbps: this.kbps,
      }).catch(() => {});
    }
  }

  renderStats() {
    if (this.statsEl.hidden) return;
    const p = this.player;
    const lines = [
      `latency (g2g p95)  ${fmt(this.g2gP95)} ms`,
      `playout delay      ${fmt(this.delayUs / 1000)} ms`,
      `bitrate            ${this.kbps} kbit/s`,
      `frames drawn       ${this.framesDrawn}`,
    ];
    if (p) lines.push(`loss (player)      ${p.frames_lost} of ${p.frames_expected} frames`);
    this.statsEl.textContent = lines.join('\n');
  }

  close() {
    this.worker.postMessage({ type: 'stop' });
    setTimeout(() => this.worker.terminate(), 1000);
    this.el.remove();
  }
}

const fmt = (v) => (v === null || v === undefined ? '–' : Number(v).toFixed(1));

// -------------------------------------------------------------------- app

class App {
  constructor() {
    this.group = null;
    this.tiles = new Map();
    this.muted = { video: false, audio: false };
    $('#join-form').addEventListener('submit', (e) => { e.preventDefault(); this.join(new FormData(e.target)); });
    $('#leave').addEventListener('click', () => this.leave());
    $('#camera').addEventListener('click', () => this.mute({ ...this.muted, video: !this.muted.video }));
    $('#microphone').addEventListener('click', () => this.mute({ ...this.muted, audio: !this.muted.audio }));
  }

  async start() {
    if (typeof VideoDecoder === 'undefined' || typeof OffscreenCanvas === 'undefined') {
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
    for (const b of document.querySelectorAll('.in-call')) b.hidden = view !== 'conference';
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
    if (st.muted) this.showMuted(st.muted);
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

  async mute(want) {
    try {
      this.showMuted(await api('POST', `/v1/conferences/${encodeURIComponent(this.group)}/mute`, want));
    } catch (e) {
      showError(`Could not change camera or microphone: ${e.message}`);
    }
  }

  showMuted(muted) {
    this.muted = { video: !!muted.video, audio: !!muted.audio };
    $('#camera').textContent = this.muted.video ? 'Camera on' : 'Camera off';
    $('#camera').setAttribute('aria-pressed', String(this.muted.video));
    $('#microphone').textContent = this.muted.audio ? 'Unmute' : 'Mute';
    $('#microphone').setAttribute('aria-pressed', String(this.muted.audio));
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
