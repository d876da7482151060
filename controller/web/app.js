// PartyHub's web GUI: join a conference through the local controller daemon
// and see and hear every member live. Each member's stream comes from the
// daemon (GET .../members/{id}/media, records framed as in
// controller/daemon/media_feed.hpp) into a worker per tile (media_worker.js),
// which decodes it with WebCodecs and draws video at capture time + D; its
// audio goes from the worker to an AudioWorklet (audio_worklet.js), timed for
// the same capture time + D.

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
    this.g2gP50 = null;
    this.audioG2gP50 = null;  // capture -> heard, median, ms
    this.avSyncMs = null;     // that minus video's capture -> drawn median: positive when sound lags
    this.g2gLog = [];         // every frame's since the last clear (benchmarks read it)
    this.delayUs = 80_000;    // D, as the worker keeps it
    this.kbps = 0;
    this.lastMediaUs = 0;
    this.level = 0;
    this.player = null;       // the controller's view of this stream

    // Decoding and drawing run in a worker, on the tile's canvas handed over.
    const element = this.el.querySelector('canvas');
    const canvas = element.transferControlToOffscreen();
    this.worker = new Worker(new URL('./media_worker.js', import.meta.url), { type: 'module' });
    this.worker.onmessage = (e) => this.onWorker(e.data);
    const url = new URL(`/v1/conferences/${encodeURIComponent(app.group)}/members/${encodeURIComponent(this.id)}/media`,
                        location.href).href;
    this.worker.postMessage({ type: 'start', canvas, url }, [canvas]);
    // Frames are drawn at the size they are shown (in device pixels), not
    // the stream's: scaling once in the draw is cheaper than copying and
    // compositing full-size frames (all in software without a GPU).
    this.resize = new ResizeObserver(([entry]) => {
      const box = entry.devicePixelContentBoxSize?.[0];
      const width = Math.round(box ? box.inlineSize : entry.contentRect.width * devicePixelRatio);
      const height = Math.round(box ? box.blockSize : entry.contentRect.height * devicePixelRatio);
      if (width > 0 && height > 0) this.worker.postMessage({ type: 'size', width, height });
    });
    this.resize.observe(element);
    // Our own sound is not played back to us (it would echo through the
    // microphone); its level still drives our speaking indicator.
    if (!this.self) app.audioReady?.then(() => this.connectAudio()).catch(() => {});
  }

  // The tile's audio: a playout node on the audio thread, fed by the worker
  // through a port of their own.
  connectAudio() {
    const ac = this.app.audio;
    if (this.closed || !ac) return;
    this.audioNode = new AudioWorkletNode(ac, 'partyhub-playout', { numberOfInputs: 0, outputChannelCount: [1] });
    this.audioNode.connect(ac.destination);
    const channel = new MessageChannel();
    this.audioNode.port.postMessage({ type: 'connect', port: channel.port1 }, [channel.port1]);
    this.worker.postMessage({ type: 'audio-port', port: channel.port2 }, [channel.port2]);
    this.sendAudioClock();
  }

  // When the context's sample frame 0 is heard, on the wall clock (the
  // output timestamp includes the output path's latency), for the worker's
  // timing; refreshed every second (the two clocks drift apart).
  sendAudioClock() {
    const ac = this.app.audio;
    if (!this.audioNode || !ac) return;
    const ts = ac.getOutputTimestamp();
    const outUs = audioOutS(ac) * 1e6;
    const heard0Us = ts.performanceTime > 0
      ? (performance.timeOrigin + ts.performanceTime) * 1000 - ts.contextTime * 1e6
      : nowUs() - ac.currentTime * 1e6 + outUs;
    this.worker.postMessage({ type: 'audio-clock', heard0Us, sampleRate: ac.sampleRate,
                              outUs: ac.state === 'running' ? outUs : 0 });
  }

  setStatus(text) { this.statusEl.textContent = text ?? ''; }

  onWorker(m) {
    if (m.type === 'level') {
      this.level = m.level;
      this.el.classList.toggle('speaking', this.level > 0.02);
    } else if (m.type === 'first-frame') this.setStatus('');
    else if (m.type === 'stats') this.onStats(m);
  }

  // Once a second from the worker: counters; the speaking indicator, stream
  // health and the report to the daemon.
  onStats(m) {
    this.framesDrawn = m.framesDrawn;
    this.g2gP95 = m.g2gP95;
    this.g2gP50 = m.g2gP50;
    this.audioG2gP50 = m.audioG2gP50;
    this.arrivalP95 = m.arrivalP95;
    this.decodedP95 = m.decodedP95;
    this.drawLateP95 = m.drawLateP95;
    this.videoSkipped = m.videoSkipped;
    this.audioSkipped = m.audioSkipped;
    this.reconnects = m.reconnects;
    this.audioDroppedLate = m.audioDropped;
    this.keyframeRequests = m.keyframeRequests;
    this.avSyncMs = m.avSyncMs;
    this.sendAudioClock();
    const ac = this.app.audio;
    const audioOutMs = this.audioNode && ac.state === 'running' ? audioOutS(ac) * 1000 : null;
    this.delayUs = m.delayUs;
    this.kbps = m.kbps;
    this.lastMediaUs = m.lastMediaUs;
    this.lastVideoUs = m.lastVideoUs;
    if (this.g2gLog.length < 100_000) this.g2gLog.push(...m.drawn);
    const since = (us) => (us ? (nowUs() - us) / 1e6 : 0);
    if (this.problem) this.setStatus(this.problem);
    else if (this.self && this.app.muted.video) this.setStatus('Your camera is off');
    else if (this.lastMediaUs && since(this.lastMediaUs) > 3) {
      this.setStatus(`Nothing from ${this.name} for ${Math.round(since(this.lastMediaUs))} s: connection lost?`);
    } else if (this.lastVideoUs && since(this.lastVideoUs) > 3) {
      this.setStatus(`${this.name}'s camera is off`);
    } else if (this.framesDrawn > 0) this.setStatus('');
    this.renderStats();
    if (this.framesDrawn > 0) {
      // p95 over the last 300 frames drawn, as the players report theirs.
      api('POST', `/v1/conferences/${encodeURIComponent(this.app.group)}/members/${encodeURIComponent(this.id)}/web-stats`, {
        g2g_p95_ms: this.g2gP95, g2g_p50_ms: this.g2gP50, audio_g2g_p50_ms: this.audioG2gP50,
        av_sync_ms: this.avSyncMs, audio_out_ms: audioOutMs,
        arrival_p95_ms: this.arrivalP95, decoded_p95_ms: this.decodedP95, draw_late_p95_ms: this.drawLateP95, frames_drawn: this.framesDrawn,
        frames_skipped_late: this.videoSkipped, audio_skipped_late: this.audioSkipped, stream_reopened: this.reconnects,
        audio_dropped_late: this.audioDroppedLate, keyframe_requests: this.keyframeRequests, delay_ms: this.delayUs / 1000, kbps: this.kbps,
      }).catch(() => {});
    }
  }

  renderStats() {
    if (this.statsEl.hidden) return;
    const p = this.player;
    const lines = [
      `latency (g2g p95)  ${fmt(this.g2gP95)} ms`,
      `playout delay      ${fmt(this.delayUs / 1000)} ms`,
      `A/V sync           ${fmt(this.avSyncMs)} ms (audio after video)`,
      `bitrate            ${this.kbps} kbit/s`,
      `frames drawn       ${this.framesDrawn}`,
      `skipped (too late) ${this.videoSkipped ?? 0} video, ${this.audioSkipped ?? 0} audio`,
    ];
    if (p) lines.push(`loss (player)      ${p.frames_lost} of ${p.frames_expected} frames`);
    this.statsEl.textContent = lines.join('\n');
  }

  close() {
    this.closed = true;
    this.resize.disconnect();
    this.audioNode?.disconnect();
    this.worker.postMessage({ type: 'stop' });
    setTimeout(() => this.worker.terminate(), 1000);
    this.el.remove();
  }
}

// Seconds between starting a sound on the context's clock and hearing it.
const audioOutS = (ac) => (ac.baseLatency || 0) + (ac.outputLatency || 0);

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
    if (form.get('layout')) body.layout = form.get('layout');
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
    // Browsers start audio only from a user's gesture: a join is one. A page
    // opened on a running conference has had none yet: its audio starts at
    // the first click or key press (or at once where policy allows it).
    if (!this.audio && typeof AudioWorkletNode !== 'undefined') {
      // At the streams' rate (Opus decodes at 48 kHz): the worklet does not resample.
      this.audio = new AudioContext({ latencyHint: 'interactive', sampleRate: 48000 });
      this.audioReady = this.audio.audioWorklet.addModule(new URL('./audio_worklet.js', import.meta.url));
      this.audioReady.catch(() => showError('Audio cannot play in this browser (no AudioWorklet).'));
    }
    this.audio?.resume();
    if (this.audio && this.audio.state !== 'running' && !this.waitingForGesture) {
      this.waitingForGesture = true;
      const resume = () => this.audio.resume();
      for (const ev of ['click', 'keydown']) document.addEventListener(ev, resume, { once: true });
    }
  }

  async enter(group) {
    this.group = group;
    this.unlockAudio();
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
      this.tiles.get(m.id).problem = m.problem;
    }
    const problems = st.members.filter((m) => m.problem).map((m) => `${m.name} cannot be shown: ${m.problem}.`);
    if (problems.length) showError(problems.join(' '));
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
