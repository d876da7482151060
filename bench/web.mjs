// bench/run web: glass-to-glass latency in the browser against the players,
// for the same streams in the same run. A local conference of three (640x360
// at 30 fps H.264 plus Opus); alice joins from the web page in Debian's
// Chromium. After a warm-up, for --seconds, every 2 s: alice's daemon status
// gives, per remote stream, the page's report (p95 of capture -> drawn over
// its last 300 frames) and the player's (p95 of capture -> handed to the sink
// over its last 300 frames), read together. Their means over the window, and
// the mean difference, per stream; the worst stream is the headline. Also
// the p95 over every frame the page drew in the window. Writes
// build/bench/web.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { arg, joinFromPage, launchChromium, rest, startConference, until } from '../tests/web/fixture.mjs';

const root = arg('root', '.');
const seconds = Number(arg('seconds', '60'));
const warmup = Number(arg('warmup', '8'));
const bin = join(root, 'build', 'bin');
const names = ['alice', 'bob', 'carol'];
const p95 = (values) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)] : null;
};

const conf = await startConference({ bin, port: 18850, names });
const browser = await launchChromium();
let result;
try {
  for (const i of [1, 2]) {
    const r = await rest('POST', `${conf.daemon(i)}/v1/conferences`, { group: 'meet', name: names[i], manager: conf.manager });
    if (r.status !== 201) throw new Error(`${names[i]} could not join: ${JSON.stringify(r.body)}`);
  }
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(`${conf.daemon(0)}/`);
  await joinFromPage(page, { group: 'meet', name: 'alice', manager: conf.manager });
  await until('three live tiles', () => page.evaluate(() =>
    partyhub.tiles.size === 3 && [...partyhub.tiles.values()].every((t) => t.framesDrawn > 0)), 30_000);
  await page.waitForTimeout(warmup * 1000);
  await page.evaluate(() => { for (const t of partyhub.tiles.values()) t.g2gLog = []; });
  const pairs = new Map();  // member id -> [[browser, player], ...]
  for (const end = Date.now() + seconds * 1000; Date.now() < end;) {
    await page.waitForTimeout(2000);
    const now = (await rest('GET', `${conf.daemon(0)}/v1/conferences/meet`)).body;
    for (const m of now.members) {
      if (m.self || !m.web || !m.player || !m.player.g2g_recent_p95_ms) continue;
      if (!pairs.has(m.id)) pairs.set(m.id, []);
      pairs.get(m.id).push([m.web.g2g_p95_ms, m.player.g2g_recent_p95_ms]);
    }
  }
  const tiles = await page.evaluate(() => [...partyhub.tiles.values()].map((t) => ({
    id: t.id, name: t.name, self: t.self, g2g: t.g2gLog, delayMs: t.delayUs / 1000 })));
  const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
  const streams = tiles.filter((t) => !t.self).map((t) => {
    const ps = pairs.get(t.id) ?? [];
    const browserP95 = mean(ps.map((p) => p[0]));
    const playerP95 = mean(ps.map((p) => p[1]));
    return { member: t.name, samples: ps.length, frames_drawn: t.g2g.length, browser_g2g_p95_ms: browserP95,
             player_g2g_p95_ms: playerP95, browser_added_p95_ms: mean(ps.map((p) => p[0] - p[1])),
             browser_g2g_p95_ms_whole_window: p95(t.g2g), browser_delay_ms: t.delayMs };
  });
  const own = tiles.find((t) => t.self);
  const worst = streams.reduce((a, b) => ((b.browser_added_p95_ms ?? Infinity) > (a.browser_added_p95_ms ?? Infinity) ? b : a));
  result = {
    seconds, video: '640x360@30 H.264 1000 kbit/s, Opus; players with fake sinks, real decoding',
    streams, own_tile_g2g_p95_ms: own ? p95(own.g2g) : null,
    browser_g2g_p95_ms: worst.browser_g2g_p95_ms, player_g2g_p95_ms: worst.player_g2g_p95_ms,
    browser_added_p95_ms: worst.browser_added_p95_ms,
  };
  result.pass = result.browser_added_p95_ms !== null && result.browser_added_p95_ms <= 50 &&
                streams.every((s) => s.frames_drawn >= 0.95 * 30 * seconds);
} finally {
  await browser.close();
  await conf.stop();
}
const fmt = (v) => (v === null || v === undefined ? '-' : v.toFixed(1));
console.log(`${'stream'.padEnd(10)}${'frames'.padStart(8)}${'browser p95'.padStart(13)}${'player p95'.padStart(12)}${'added'.padStart(8)}`);
for (const s of result.streams) {
  console.log(`${s.member.padEnd(10)}${String(s.frames_drawn).padStart(8)}${fmt(s.browser_g2g_p95_ms).padStart(13)}` +
              `${fmt(s.player_g2g_p95_ms).padStart(12)}${fmt(s.browser_added_p95_ms).padStart(8)}`);
}
console.log(`target: browser_added_p95_ms <= 50 and >= 95 % of frames drawn: ${result.pass ? 'PASS' : 'FAIL'}`);
mkdirSync(join(root, 'build', 'bench'), { recursive: true });
writeFileSync(join(root, 'build', 'bench', 'web.json'), JSON.stringify(result, null, 2) + '\n');
console.log(`wrote ${join(root, 'build', 'bench', 'web.json')}`);
process.exit(result.pass ? 0 : 1);
