// A real local conference for the web GUI's test and benchmark: a group
// manager and one controller daemon per participant (real processes), and
// Debian's Chromium through playwright-core (never a downloaded browser).
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};

export async function rest(method, url, body) {
  const res = await fetch(url, { method, headers: { 'Content-Type': 'application/json' },
                                  body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

export async function until(what, predicate, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await predicate();
      if (v) return v;
    } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/// Group manager on `port`, daemons for `names` on port+1, port+2, ...
export async function startConference({ bin, port, names }) {
  const run = mkdtempSync(join(tmpdir(), 'partyhub-web-'));
  const procs = [];
  const start = (args) => procs.push(spawn(args[0], args.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] }));
  const conf = {
    run,
    manager: `http://127.0.0.1:${port}`,
    daemon: (i) => `http://127.0.0.1:${port + 1 + i}`,
    async stop() {
      // The daemons first (they leave their groups at the manager), then the manager.
      const exited = (p) => new Promise((r) => (p.exitCode !== null ? r() : p.on('exit', r)));
      for (const p of procs.slice(1)) p.kill('SIGTERM');
      await Promise.all(procs.slice(1).map(exited));
      procs[0].kill('SIGTERM');
      await exited(procs[0]);
    },
  };
  start([`${bin}/partyhub-groupmgr`, '--listen', `127.0.0.1:${port}`, '--db', `${run}/groups.db`, '--log-level', 'warn']);
  names.forEach((name, i) => start([`${bin}/partyhub-controller`, 'daemon', '--listen', `127.0.0.1:${port + 1 + i}`,
    '--run-dir', `${run}/${name}`, '--port-base', String(27000 + 1000 * i), '--sink', 'fake', '--log-level', 'warn']));
  // The manager too: a daemon asked to join before its manager listens answers 502 (as it should).
  await until('the group manager', async () => (await rest('GET', `${conf.manager}/v1/health`)).status === 200, 10_000);
  for (let i = 0; i < names.length; i++) {
    await until(`daemon ${names[i]}`, async () => (await rest('GET', `${conf.daemon(i)}/v1/health`)).status === 200, 10_000);
  }
  return conf;
}

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--autoplay-policy=no-user-gesture-required'];

export function launchChromium() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
}

/// Joins `group` as `name` from the page's form.
export async function joinFromPage(page, { group, name, password = '', manager, layout = 'per-source' }) {
  await page.fill('input[name=group]', group);
  await page.fill('input[name=name]', name);
  await page.fill('input[name=password]', password);
  if (!(await page.isVisible('input[name=manager]'))) await page.click('details summary');
  await page.fill('input[name=manager]', manager);
  await page.selectOption('select[name=layout]', layout);
  await page.click('#join');
}
