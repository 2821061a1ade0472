#!/usr/bin/env node
// Start-up benchmark: how long `cairn serve` takes to answer its first `GET /v2/`, on a fresh data
// dir (first start), after a clean stop (SIGTERM), and after `kill -9` (PGlite replays its WAL).
// Prints medians of N runs of wall time (spawn to first 200) and the server's CPU time (user+sys
// from /proc/<pid>/stat when the first answer arrived), which is the figure to trust on a busy
// machine. See bench/README.md.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLOCK_TICKS_PER_S = 100; // USER_HZ on Linux
const READY_TIMEOUT_MS = 120_000;

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    'database-url': { type: 'string' },
    only: { type: 'string' }, // first,clean,kill9
    'node-arg': { type: 'string', multiple: true, default: [] },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(
    'usage: node bench/startup.mjs [--runs N] [--database-url URL] [--only first,clean,kill9] [--node-arg ARG]... [--keep]\n',
  );
  process.exit(0);
}
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) {
  process.stderr.write('startup: --runs must be a positive integer\n');
  process.exit(2);
}
const scenarios = (values.only ?? 'first,clean,kill9').split(',');
for (const s of scenarios) {
  if (!['first', 'clean', 'kill9'].includes(s)) {
    process.stderr.write(`startup: unknown scenario "${s}" (first, clean, kill9)\n`);
    process.exit(2);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** user+sys CPU ms of a live process, from /proc (Linux). */
async function cpuMsOf(pid) {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After the comm field: state is index 0, utime 11, stime 12.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
}

/** Starts a server on `dataDir` and resolves when GET /v2/ first answers 200. */
async function start(dataDir) {
  const port = await freePort();
  const args = [...values['node-arg'], join(ROOT, 'bin/cairn.js'), 'serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir];
  if (values['database-url']) args.push('--database-url', values['database-url']);
  const t0 = performance.now();
  const child = spawn(process.execPath, args, {
    env: { ...process.env, CAIRN_LOG_LEVEL: process.env.CAIRN_LOG_LEVEL ?? 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let gone = false;
  exited.then(() => (gone = true));
  const url = `http://127.0.0.1:${port}/v2/`;
  for (;;) {
    if (gone) throw new Error(`server exited before answering:\n${log}`);
    if (performance.now() - t0 > READY_TIMEOUT_MS) {
      child.kill('SIGKILL');
      throw new Error(`no answer within ${READY_TIMEOUT_MS} ms:\n${log}`);
    }
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const wallMs = performance.now() - t0;
  const cpuMs = await cpuMsOf(child.pid);
  const listening = log.split('\n').find((l) => l.includes('"listening"'));
  const startupMs = listening ? JSON.parse(listening).startupMs : undefined;
  return {
    wallMs,
    cpuMs,
    startupMs,
    async stop(signal) {
      child.kill(signal);
      const { code } = await exited;
      if (signal === 'SIGTERM' && code !== 0) throw new Error(`server did not stop cleanly (exit ${code}):\n${log}`);
    },
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function scenario(name, base) {
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const dataDir = join(base, `${name}-${i}`);
    if (name !== 'first') await (await start(dataDir)).stop('SIGTERM'); // create the data dir
    if (name === 'kill9') await (await start(dataDir)).stop('SIGKILL');
    const run = await start(dataDir);
    samples.push(run);
    await run.stop('SIGTERM');
  }
  return {
    name,
    wallMs: median(samples.map((s) => s.wallMs)),
    cpuMs: median(samples.map((s) => s.cpuMs)),
    startupMs: samples.every((s) => s.startupMs !== undefined) ? median(samples.map((s) => s.startupMs)) : undefined,
    all: samples.map((s) => `${Math.round(s.wallMs)}/${Math.round(s.cpuMs)}`),
  };
}

const base = await mkdtemp(join(tmpdir(), 'cairn-bench-startup-'));
try {
  const before = loadavg()[0];
  const results = [];
  for (const name of scenarios) results.push(await scenario(name, base));
  const after = loadavg()[0];
  const db = values['database-url'] ? 'postgres' : 'pglite';
  process.stdout.write(`cairn start-up to first GET /v2/ (${db}, median of ${runs}, load average ${before.toFixed(2)} → ${after.toFixed(2)})\n`);
  process.stdout.write('scenario   wall ms   server CPU ms   startupMs (logged)   runs (wall/cpu)\n');
  for (const r of results) {
    process.stdout.write(
      `${r.name.padEnd(10)} ${String(Math.round(r.wallMs)).padStart(7)}   ${String(Math.round(r.cpuMs)).padStart(13)}   ${String(r.startupMs ?? '-').padStart(18)}   ${r.all.join(' ')}\n`,
    );
  }
} finally {
  if (!values.keep) await rm(base, { recursive: true, force: true });
  else process.stdout.write(`kept ${base}\n`);
}
