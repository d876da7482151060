// One member's stream, off the page's main thread: fetch the daemon's
// records, decode video and audio with WebCodecs, draw video on the tile's
// OffscreenCanvas at capture time + D, and hand decoded audio (with D) to the
// page, which plays it through Web Audio at the same capture time + D. The
// main thread has the UI to run: drawing there made frames wait ~100 ms.
import { CODEC_VP8, KIND_AUDIO, KIND_VIDEO, RecordParser, Window, nowUs } from './media.js';

let canvas, ctx2d, url;
let decoder = null;
let audioDecoder = null;
let delayUs = 80_000;               // D
const readyLatency = new Window(90);  // capture -> decoded (video) / arrived (audio), µs
const g2g = new Window(300);          // capture -> drawn, ms
let drawnLog = [];                    // since the last report
let framesDrawn = 0;
let bytes = 0;
let lastBytes = 0;
let lastMediaUs = 0;
let lastVideoUs = 0;
let running = true;

onmessage = (e) => {
  if (e.data.type === 'start') {
    ({ canvas, url } = e.data);
    ctx2d = canvas.getContext('2d');
    read();
    setInterval(report, 1000);
  } else if (e.data.type === 'stop') {
    running = false;
    for (const d of [decoder, audioDecoder]) if (d && d.state !== 'closed') d.close();
    close();
  }
};

async function read() {
  while (running) {
    try {
      const res = await fetch(url, { cache: 'no-store' });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const reader = res.body.getReader();
      const parser = new RecordParser();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        bytes += value.length;
        for (const r of parser.push(value)) {
          lastMediaUs = nowUs();
          if (r.kind === KIND_VIDEO) lastVideoUs = lastMediaUs;
          if (r.kind === KIND_VIDEO) onVideo(r);
          else if (r.kind === KIND_AUDIO) onAudio(r);
        }
      }
    } catch { /* the daemon went away or the stream broke: again */ }
    if (running) await new Promise((r) => setTimeout(r, 500));
  }
}

function onVideo(r) {
  if (!decoder || decoder.state === 'closed') {
    if (!r.anchor) return;  // start on a keyframe
    decoder = new VideoDecoder({ output: onDecoded, error: () => { decoder = null; } });
    decoder.configure({ codec: r.codec === CODEC_VP8 ? 'vp8' : 'avc1.42E01F', optimizeForLatency: true });
  }
  for (const data of r.frames) {
    decoder.decode(new EncodedVideoChunk({ type: r.anchor ? 'key' : 'delta', timestamp: r.captureUs, data }));
  }
}

function onDecoded(frame) {
  const captureUs = frame.timestamp;
  readyLatency.add(nowUs() - captureUs);
  const draw = () => {
    if (canvas.width !== frame.displayWidth || canvas.height !== frame.displayHeight) {
      canvas.width = frame.displayWidth;
      canvas.height = frame.displayHeight;
    }
    ctx2d.drawImage(frame, 0, 0);
    frame.close();
    const ms = (nowUs() - captureUs) / 1000;
    g2g.add(ms);
    drawnLog.push(ms);
    if (++framesDrawn === 1) postMessage({ type: 'first-frame' });
  };
  const wait = (captureUs + delayUs - nowUs()) / 1000;
  if (wait <= 0) draw(); else setTimeout(draw, wait);
}

function onAudio(r) {
  readyLatency.add(nowUs() - r.captureUs);
  if (typeof AudioDecoder === 'undefined') return;
  if (!audioDecoder || audioDecoder.state === 'closed') {
    audioDecoder = new AudioDecoder({
      output: (data) => {
        postMessage({ type: 'audio', data, delayUs });  // AudioData is serialisable
        data.close();
      },
      error: () => { audioDecoder = null; },
    });
    audioDecoder.configure({ codec: 'opus', sampleRate: 48000, numberOfChannels: 1 });
  }
  const frameUs = (r.frames.length && r.durationUs / r.frames.length) || 20_000;
  r.frames.forEach((data, i) => {
    audioDecoder.decode(new EncodedAudioChunk({ type: 'key', timestamp: r.captureUs + i * frameUs, data }));
  });
}

function report() {
  const p95 = readyLatency.quantile(0.95);
  if (p95 !== null) delayUs = Math.min(1_000_000, Math.max(20_000, p95 + 5_000));
  postMessage({ type: 'stats', framesDrawn, g2gP95: g2g.quantile(0.95), delayUs, lastMediaUs, lastVideoUs,
                kbps: Math.round((bytes - lastBytes) * 8 / 1000), drawn: drawnLog });
  lastBytes = bytes;
  drawnLog = [];
}
