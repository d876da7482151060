// The web GUI end to end in Debian's Chromium (playwright-core; never a
// downloaded browser): a real local conference of three (group manager, three
// controller daemons, sources, streamers, players), alice joins from the page.
// Asserts: three tiles whose pixels change (H.264 and VP8 both decoded),
// stats on demand, camera off and on, the page's latency reports reach the
// daemon, a member leaving vanishes live, a wrong password is explained in
// words, leave works. Saves a screenshot. Exit status 0 when everything holds.
//
//   node tests/web/conference.test.mjs --bin build/bin --out build [--port 18750] [--layout per-source|shared]
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { arg, joinFromPage, launchChromium, rest, startConference, until } from './fixture.mjs';

const bin = arg('bin', 'build/bin');
const out = arg('out', 'build');
const port = Number(arg('port', '18750'));
const layout = arg('layout', 'per-source');
const names = ['alice', 'bob', 'carol'];
let failures = 0;

function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}

let browser;
let conf;
let diagnose = async () => {};
try {
  conf = await startConference({ bin, port, names });
  const { manager, daemon } = conf;
  for (const i of [1, 2]) {
    // bob sends H.264, carol VP8: the page decodes both.
    const r = await rest('POST', `${daemon(i)}/v1/conferences`, { group: 'meet', name: names[i], manager, width: 320, height: 180,
                                                                  fps: 15, codec: i === 1 ? 'h264' : 'vp8', layout });
    check(r.status === 201, `${names[i]} joins through its daemon (${r.status}${r.status === 201 ? "" : ": " + JSON.stringify(r.body)})`);
  }
  // A password-protected group, for the wrong-password case.
  await rest('POST', `${daemon(1)}/v1/conferences`, { group: 'secret', name: 'bob', password: 'right', manager, video: 'none', audio: 'test' });

  browser = await launchChromium();
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  const consoleLog = [];
  page.on('console', (m) => consoleLog.push(`${m.type()}: ${m.text()}`));
  diagnose = async () => {
    const tiles = await page.$$eval('.tile', (ts) => ts.map((t) => `${t.querySelector('.name').textContent}: ` +
      `"${t.querySelector('.status').textContent}"`)).catch(() => []);
    console.log(`     tiles: ${tiles.join(' | ')}`);
    for (const line of consoleLog.slice(-20)) console.log(`     console ${line}`);
  };
  await page.goto(`${daemon(0)}/`);
  // The page asks the daemon whether it is in a conference before it shows the form.
  const form = await page.waitForSelector('#join-form', { state: 'visible', timeout: 10_000 }).catch(() => null);
  check(form !== null, 'the start page shows the join form');
  check(await page.evaluate(() => typeof VideoDecoder === 'function' && typeof AudioDecoder === 'function'),
        'this Chromium has WebCodecs');

  // A wrong password is explained, in words.
  await joinFromPage(page, { group: 'secret', name: 'alice', password: 'wrong', manager });
  await until('the wrong-password message', async () => page.isVisible('#error'), 10_000);
  const message = await page.textContent('#error');
  check(/password/i.test(message), `a wrong password reads: "${message}"`);

  // Join the conference for real.
  await joinFromPage(page, { group: 'meet', name: 'alice', manager, layout });
  await until('three tiles', async () => (await page.$$('.tile')).length === 3, 15_000).catch(() => null);
  check((await page.$$('.tile')).length === 3, 'three tiles: alice (you), bob and carol');
  const names_ = await page.$$eval('.tile .name', (els) => els.map((e) => e.textContent));
  check(names.every((n) => names_.some((t) => t.startsWith(n))), `tiles are named ${names_.join(', ')}`);

  // Every tile is live: frames drawn, and its pixels change from one second
  // to the next (the tiles draw in workers: compare screenshots of them).
  await until('frames on every tile', () => page.evaluate(() =>
    [...partyhub.tiles.values()].every((t) => t.framesDrawn > 0)), 20_000);
  const shots = () => Promise.all([0, 1, 2].map((i) => page.locator('.tile canvas').nth(i).screenshot()));
  const first = await shots();
  await page.waitForTimeout(1200);
  const second = await shots();
  first.forEach((img, i) => check(!img.equals(second[i]), `tile ${i + 1}'s pixels change between frames`));

  // Stats on demand.
  await page.click('.tile:nth-child(2) .stats-toggle');
  const stats = await page.textContent('.tile:nth-child(2) .stats');
  check(/latency/.test(stats) && /bitrate/.test(stats), 'stats show latency and bitrate');

  // Camera off: our own video stops at the source (the tile says so), and
  // comes back when the camera is on again; the daemon knows the state.
  const ownFrames = () => page.evaluate(() => [...partyhub.tiles.values()].find((t) => t.self).framesDrawn);
  await page.click('#camera');
  await until('the camera off', async () => (await rest('GET', `${daemon(0)}/v1/conferences/meet`)).body.muted.video, 5_000);
  await until('the own tile saying so', () => page.evaluate(() =>
    /camera is off/.test([...partyhub.tiles.values()].find((t) => t.self).statusEl.textContent)), 5_000);
  await page.waitForTimeout(1500);  // what was under way is drawn
  const frozen = await ownFrames();
  await page.waitForTimeout(2000);
  check(await ownFrames() - frozen <= 2, `camera off: our own video stops (${await ownFrames() - frozen} frames in 2 s)`);
  await page.click('#camera');
  const resumed = await until('our video back', async () => ((await ownFrames()) > frozen + 15 ? ownFrames() : null), 10_000)
    .catch(() => null);
  check(resumed !== null, 'camera on again: our own video comes back');

  // The page reports each tile's glass-to-glass latency to the daemon, and
  // it is under a second once the tiles have settled (a p95 over the last 300
  // frames: a loaded machine's first seconds, and for our own tile the time
  // before the camera went off, can still be in it for a while).
  const settled = (m) => m.web && m.web.frames_drawn > 0 && m.web.g2g_p95_ms > 0 && m.web.g2g_p95_ms < 1000;
  const st = await until('the page\'s reports, settled', async () => {
    const r = await rest('GET', `${daemon(0)}/v1/conferences/meet`);
    return r.body.members.every(settled) ? r.body : null;
  }, 20_000).catch(async () => (await rest('GET', `${daemon(0)}/v1/conferences/meet`)).body);
  for (const m of st.members) {
    check(settled(m),
          `${m.name}: browser g2g p95 ${m.web?.g2g_p95_ms?.toFixed(1)} ms (arrived p95 ${m.web?.arrival_p95_ms?.toFixed(1)}, ` +
          `decoded p95 ${m.web?.decoded_p95_ms?.toFixed(1)}, drawn late p95 ${m.web?.draw_late_p95_ms?.toFixed(1)}, ` +
          `native player's p95 ${m.player?.g2g_recent_p95_ms?.toFixed?.(1) ?? '-'}, skipped to stay live ${m.web?.frames_skipped_late} frames, ` +
          `stream reopened ${m.web?.stream_reopened}x, keyframes asked for ${m.web?.keyframe_requests})`);
    if (m.self) check(m.web?.audio_g2g_p50_ms === null, 'our own sound is not played back to us');
  }
  // Sound heard through the AudioWorklet, and (once the stream has settled: a
  // loaded machine's first seconds can decode video late) in sync with the
  // picture within what lip sync tolerates (ITU-R BT.1359: 45 ms early to
  // 125 ms late).
  const inSync = (w) => typeof w.audio_g2g_p50_ms === 'number' && w.audio_g2g_p50_ms > 0 &&
                        typeof w.av_sync_ms === 'number' && w.av_sync_ms > -45 && w.av_sync_ms < 125;
  const synced = await until('sound in sync', async () => {
    const r = await rest('GET', `${daemon(0)}/v1/conferences/meet`);
    return r.body.members.every((m) => m.self || (m.web && inSync(m.web))) ? r.body : null;
  }, 15_000).catch(async () => (await rest('GET', `${daemon(0)}/v1/conferences/meet`)).body);
  for (const m of synced.members.filter((x) => !x.self)) {
    check(typeof m.web?.audio_g2g_p50_ms === 'number' && m.web.audio_g2g_p50_ms > 0,
          `${m.name}: audio heard ${m.web?.audio_g2g_p50_ms?.toFixed(1)} ms after capture (median; ` +
          `${m.web?.audio_dropped_late} chunks reached the worklet too late, ${m.web?.audio_skipped_late} were too old on arrival, ` +
          `playout delay ${m.web?.delay_ms?.toFixed(1)} ms, audio output ${m.web?.audio_out_ms?.toFixed(1)} ms)`);
    check(m.web && inSync(m.web), `${m.name}: A/V sync ${m.web?.av_sync_ms?.toFixed(1)} ms (sound after picture)`);
  }
  mkdirSync(out, { recursive: true });
  await page.screenshot({ path: join(out, 'web-conference.png') });
  console.log(`     screenshot: ${join(out, 'web-conference.png')}`);

  // A member leaving: its tile goes, live, and the daemon ends the streams of
  // it it was serving (each holds one of its threads).
  const carolId = st.members.find((m) => m.name === 'carol').id;
  const stream = await fetch(`${daemon(0)}/v1/conferences/meet/members/${carolId}/media`);
  const reader = stream.body.getReader();
  check(!(await reader.read()).done, 'a media stream opened outside the page delivers');
  await rest('DELETE', `${daemon(2)}/v1/conferences/meet`);
  const ended = (async () => { while (!(await reader.read()).done); return true; })().catch((e) => `aborted (${e.message})`);
  const streamEnded = await Promise.race([ended, new Promise((r) => setTimeout(() => r(false), 5_000))]);
  check(streamEnded === true, `carol leaves: the daemon ends the stream of her it was serving (${streamEnded})`);
  const t0 = Date.now();
  await until('carol\'s tile gone', async () => (await page.$$('.tile')).length === 2, 5_000).catch(() => null);
  const gone = (await page.$$('.tile')).length === 2;
  check(gone, `carol leaves: her tile is gone from the page${gone ? ` after ${Date.now() - t0} ms` : ''}`);

  // Leave: back to the start page, and the daemon is in no conference.
  await page.click('#leave');
  await until('the start page', async () => page.isVisible('#join-form'), 10_000);
  const left = await until('the leave', async () => {
    const r = await rest('GET', `${daemon(0)}/v1/conferences`);
    return r.body.length === 0 ? r : null;
  }, 10_000);
  check(left.body.length === 0, 'leave: the daemon is in no conference');
  check(consoleErrors.length === 0, `no uncaught errors in the page${consoleErrors.length ? ': ' + consoleErrors.join('; ') : ''}`);
} catch (e) {
  console.log(`FAIL ${e.message}`);
  failures++;
  await diagnose();
} finally {
  await browser?.close();
  await conf?.stop();
}
console.log(failures ? `${failures} check(s) failed` : 'all checks passed');
process.exit(failures ? 1 : 0);
