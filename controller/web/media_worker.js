// One member's stream, off the page's main thread: fetch the daemon's
// records, decode video and audio with WebCodecs, draw video on the tile's
// OffscreenCanvas at capture time + D, and send decoded audio, timed for the
// same capture time + D, straight to the tile's AudioWorklet (audio_worklet.js).
// The main thread has the UI to run: drawing there made frames wait ~100 ms,
// and passing it 50 audio chunks a second per tile cost it half a core.
import { AUDIO_LAG_ALLOWED_US, CODEC_VP8, KIND_AUDIO, KIND_VIDEO, LiveEdge, RecordParser, Window, nowUs } from './media.js';

let canvas, ctx2d, url;
let shownWidth = 0, shownHeight = 0;  // the canvas element's size on the page, device pixels
let decoder = null;
let audioDecoder = null;
let delayUs = 80_000;               // D
const videoReady = new Window(90);    // capture -> decoded, µs
const videoArrival = new Window(300); // capture -> record parsed, µs (the path to the page)
const videoDecoded = new Window(300); // capture -> decoded, µs, as long a window as g2g's
const drawLate = new Window(300);     // drawn after it was due (capture + D, or decoded if later), µs
const audioReady = new Window(150);   // capture -> decoded, µs (a loaded machine decodes late too)
let audioOutUs = 0;                   // what the page's audio output adds (told by the page)
let audioPort = null;                 // to the tile's AudioWorklet
let audioClock = null;                // {heard0Us, sampleRate}: when context frame 0 is heard
const audioHeard = new Window(250);   // capture -> heard, ms
let audioDropped = 0;
let level = 0;                        // audio RMS, smoothed: the speaking indicator
const g2g = new Window(300);          // capture -> drawn, ms
let drawnLog = [];                    // since the last report
let framesDrawn = 0;
let bytes = 0;
let lastBytes = 0;
let lastMediaUs = 0;
let lastVideoUs = 0;
let running = true;
const live = new LiveEdge();          // drops what is too late to show (see media.js)

onmessage = (e) => {
  if (e.data.type === 'start') {
    ({ canvas, url } = e.data);
    ctx2d = canvas.getContext('2d');
    read();
    setInterval(report, 1000);
    setInterval(() => postMessage({ type: 'level', level }), 250);
  } else if (e.data.type === 'size') {
    shownWidth = e.data.width;
    shownHeight = e.data.height;
  } else if (e.data.type === 'audio-port') {
    audioPort = e.data.port;
    audioPort.onmessage = (m) => onHeard(m.data);
  } else if (e.data.type === 'audio-clock') {
    audioClock = e.data;
    audioOutUs = e.data.outUs;
  } else if (e.data.type === 'stop') {
    running = false;
    for (const d of due) d.frame.close();
    due.length = 0;
    for (const d of [decoder, audioDecoder]) if (d && d.state !== 'closed') d.close();
    close();
  }
};

async function read() {
  while (running) {
    const abort = new AbortController();
    let reopen = false;
    try {
      const res = await fetch(url, { cache: 'no-store', signal: abort.signal });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const reader = res.body.getReader();
      const parser = new RecordParser();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        bytes += value.length;
        for (const r of parser.push(value)) {
          lastMediaUs = nowUs();
          if (r.kind === KIND_VIDEO) {
            lastVideoUs = lastMediaUs;
            videoArrival.add(lastMediaUs - r.captureUs);
            if (live.video(r, lastMediaUs, decoder ? decoder.decodeQueueSize : 0)) onVideo(r);
            else if (live.takeKeyframeRequest(lastMediaUs)) askKeyframe();
          } else if (r.kind === KIND_AUDIO) {
            if (live.audio(r, lastMediaUs)) onAudio(r);
          }
        }
        if (live.shouldReconnect(nowUs())) {
          // Seconds behind and still falling behind: what the sockets hold is
          // stale. Reopen at the live edge.
          reopen = true;
          abort.abort();
          live.reconnected(nowUs());
          break;
        }
      }
    } catch { /* the daemon went away or the stream broke: again */ }
    if (running && !reopen) await new Promise((r) => setTimeout(r, 500));
  }
}

// The daemon passes it upstream to the member's source (see LiveEdge).
function askKeyframe() {
  fetch(url.replace(/\/media$/, '/keyframe'), { method: 'POST' }).catch(() => {});
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
  const decodedUs = nowUs();
  videoReady.add(decodedUs - captureUs);
  videoDecoded.add(decodedUs - captureUs);
  due.push({ frame, captureUs, dueUs: Math.max(decodedUs, captureUs + delayUs) });
  scheduleDraw();
}

// Decoded frames wait in `due` for capture + D. When the worker runs late
// (a loaded machine) several are due at once: only the newest is drawn, the
// others are closed (counted in framesSuperseded), so drawing catches up
// rather than falling further behind.
const due = [];
let drawTimer = null;
let framesSuperseded = 0;

function scheduleDraw() {
  if (drawTimer !== null || !due.length) return;
  drawTimer = setTimeout(drawDue, Math.max(0, (due[0].dueUs - nowUs()) / 1000));
}

function drawDue() {
  drawTimer = null;
  const now = nowUs();
  let newest = -1;
  for (let i = 0; i < due.length && due[i].dueUs <= now; i++) newest = i;
  if (newest >= 0) {
    for (let i = 0; i < newest; i++) due[i].frame.close();
    framesSuperseded += newest;
    draw(due[newest]);
    due.splice(0, newest + 1);
  }
  scheduleDraw();
}

function draw({ frame, captureUs, dueUs }) {
  // The frame's aspect at the shown size (never larger than the frame):
  // the element letterboxes it (object-fit: contain).
  const fw = frame.displayWidth, fh = frame.displayHeight;
  const scale = shownWidth > 0 ? Math.min(1, shownWidth / fw, shownHeight / fh) : 1;
  const w = Math.max(1, Math.round(fw * scale)), h = Math.max(1, Math.round(fh * scale));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  drawLate.add(nowUs() - dueUs);
  ctx2d.drawImage(frame, 0, 0, w, h);
  frame.close();
  const ms = (nowUs() - captureUs) / 1000;
  g2g.add(ms);
  drawnLog.push(ms);
  if (++framesDrawn === 1) postMessage({ type: 'first-frame' });
}

function onAudio(r) {
  if (typeof AudioDecoder === 'undefined') return;
  if (!audioDecoder || audioDecoder.state === 'closed') {
    audioDecoder = new AudioDecoder({
      output: onAudioDecoded,
      error: () => { audioDecoder = null; },
    });
    audioDecoder.configure({ codec: 'opus', sampleRate: 48000, numberOfChannels: 1 });
  }
  const frameUs = (r.frames.length && r.durationUs / r.frames.length) || 20_000;
  r.frames.forEach((data, i) => {
    audioDecoder.decode(new EncodedAudioChunk({ type: 'key', timestamp: r.captureUs + i * frameUs, data }));
  });
}

// Heard at capture + D, as its picture is drawn, or up to the allowed lag
// after it when the output path adds that much (D covers any more).
function onAudioDecoded(data) {
  const samples = new Float32Array(data.numberOfFrames);
  data.copyTo(samples, { planeIndex: 0, format: 'f32-planar' });
  const captureUs = data.timestamp;
  data.close();
  audioReady.add(nowUs() - captureUs);
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
  level = 0.8 * level + 0.2 * Math.sqrt(sum / Math.max(1, samples.length));
  if (!audioPort || !audioClock) return;
  const heardUs = captureUs + delayUs + Math.min(audioOutUs, AUDIO_LAG_ALLOWED_US);
  const frame = Math.round((heardUs - audioClock.heard0Us) * audioClock.sampleRate / 1e6);
  audioPort.postMessage({ frame, samples, captureUs }, [samples.buffer]);
}

function onHeard(m) {
  if (m.dropped) ++audioDropped;
  else if (audioClock) audioHeard.add((audioClock.heard0Us + m.frame * 1e6 / audioClock.sampleRate - m.captureUs) / 1000);
}

function report() {
  // D covers the slower of the two paths: video decoded, or audio decoded
  // and through the audio output beyond the lag allowed (the page starts
  // sound that much earlier).
  const video = videoReady.quantile(0.95);
  const audio = audioReady.quantile(0.95);
  if (video !== null || audio !== null) {
    const need = Math.max(video ?? 0, audio === null ? 0 : audio + Math.max(0, audioOutUs - AUDIO_LAG_ALLOWED_US));
    delayUs = Math.min(1_000_000, Math.max(20_000, need + 5_000));
  }
  const videoP50 = g2g.quantile(0.5);
  const audioP50 = audioHeard.quantile(0.5);
  postMessage({ type: 'stats', framesDrawn, g2gP95: g2g.quantile(0.95), g2gP50: videoP50, audioG2gP50: audioP50,
                arrivalP95: videoArrival.quantile(0.95) / 1000, decodedP95: videoDecoded.quantile(0.95) / 1000,
                drawLateP95: drawLate.quantile(0.95) / 1000,
                videoSkipped: live.videoSkipped + framesSuperseded, keyframeRequests: live.keyframeRequests, audioSkipped: live.audioDropped, reconnects: live.reconnects,
                avSyncMs: audioP50 !== null && videoP50 !== null ? audioP50 - videoP50 : null, audioDropped, delayUs, lastMediaUs, lastVideoUs,
                kbps: Math.round((bytes - lastBytes) * 8 / 1000), drawn: drawnLog });
  lastBytes = bytes;
  drawnLog = [];
}
