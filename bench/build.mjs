#!/usr/bin/env node
// Build benchmark: the same Dockerfile built by Cairn's worker (`cairn build` against a started
// `cairn serve`) and by buildah with `--layers --cache-to/--cache-from` against that Cairn as the
// cache registry. Cases: cold, fully cached on an empty builder, one file changed, and the overhead
// per trivial RUN. Wall-clock time of the whole command as CI sees it, and Cairn's server-side
// build time from its result. A measurement: it prints a table and asserts nothing. See
// bench/README.md.
import { execFileSync, spawn } from 'node:child_process';
import { appendFileSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';

const ROOT = resolve(import.meta.dirname, '..');
const FIXTURE = join(ROOT, 'test/fixtures/buildkit/context');
const BUSYBOX = '/bin/busybox';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.BENCH_BUILD_PORT ?? '6090' },
    runs: { type: 'string', default: '20' },
    'database-url': { type: 'string' },
    only: { type: 'string' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write('usage: node bench/build.mjs [--port P] [--runs N] [--only cairn|buildah] [--database-url URL] [--keep]\n');
  process.exit(0);
}
const RUNS = Number(values.runs);
const sides = values.only ? [values.only] : ['cairn', 'buildah'];
const work = mkdtempSync('/tmp/cairn-bench-build-');
const host = `127.0.0.1:${values.port}`;

// ------------------------------------------------------------------------------------------ processes

/** Runs a command to completion; resolves with its wall time (ms) and output, rejects on failure. */
function timed(cmd, args, options = {}) {
  return new Promise((resolvePromise, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('close', (code) => {
      const ms = performance.now() - t0;
      if (code === 0) resolvePromise({ ms, out });
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out.slice(-4000)}`));
    });
  });
}

let server;
async function startCairn(dataDir) {
  const args = ['bin/cairn.js', 'serve', '--listen', host, '--data-dir', dataDir];
  if (values['database-url']) args.push('--database-url', values['database-url']);
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, CAIRN_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d) => ((log += d), appendFileSync(join(work, 'server.log'), d)));
  child.stderr.on('data', (d) => ((log += d), appendFileSync(join(work, 'server.log'), d)));
  server = child;
  for (let i = 0; i < 1200; i++) {
    if (log.includes('build worker ready')) return;
    if (child.exitCode !== null) throw new Error(`cairn exited:\n${log}`);
    await sleep(100);
  }
  throw new Error(`cairn's build worker did not start:\n${log}`);
}
async function stopCairn() {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await exited;
}

// ------------------------------------------------------------------------------------------ contexts

/** busybox-static with an applet symlink each, and a passwd: the base image, built FROM scratch. */
function baseContext() {
  const dir = join(work, 'base');
  const rootfs = join(dir, 'rootfs');
  for (const d of ['bin', 'etc', 'tmp', 'root']) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync(BUSYBOX, join(rootfs, 'bin/busybox'));
  for (const applet of execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n')) {
    if (applet && applet !== 'busybox') symlinkSync('busybox', join(rootfs, 'bin', applet));
  }
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\n');
  copyFileSync(join(FIXTURE, 'base.Dockerfile'), join(dir, 'Dockerfile'));
  return dir;
}

/** A fresh copy of the 3-stage fixture for one side. */
function fixtureContext(side) {
  const dir = join(work, `fixture-${side}`);
  cpSync(FIXTURE, dir, { recursive: true });
  return dir;
}

/** FROM the base and `runs` trivial RUNs (unique per side, so each is cold); runs = 0 is the baseline. */
function runsContext(side, runs) {
  const dir = join(work, `runs-${side}-${runs}`);
  mkdirSync(dir, { recursive: true });
  const lines = [`FROM ${host}/base/busybox:latest`];
  for (let i = 0; i < runs; i++) lines.push(`RUN echo ${side}-${process.pid}-${i} > /dev/null`);
  if (runs === 0) lines.push(`LABEL bench=${side}-${process.pid}`);
  writeFileSync(join(dir, 'Dockerfile'), `${lines.join('\n')}\n`);
  return dir;
}

// ------------------------------------------------------------------------------------------ builders

const BASE_ARG = ['--build-arg', `BASE=${host}/base/busybox:latest`];

const cairn = {
  async build(context, tag, extra = []) {
    const { ms, out } = await timed(process.execPath, ['bin/cairn.js', 'build', '--progress', 'plain', ...extra, '-t', `${host}/${tag}`, context], {
      env: { DOCKER_CONFIG: join(work, 'docker-config') },
    });
    const server = /build succeeded in (\d+\.\d+)s \(server-side\)/.exec(out);
    if (!server) throw new Error(`no server-side time in:\n${out}`);
    const cached = /cache: (\d+) of (\d+) steps cached/.exec(out);
    return { ms, serverMs: Number(server[1]) * 1000, cached: cached ? `${cached[1]}/${cached[2]}` : '' };
  },
  /** An empty builder: the server restarted with DATA_DIR/worker removed (its snapshot cache). */
  async emptyBuilder(dataDir) {
    await stopCairn();
    rmSync(join(dataDir, 'worker'), { recursive: true, force: true });
    await startCairn(dataDir);
  },
};

const buildahStore = join(work, 'buildah');
const buildahArgs = () => ['--root', join(buildahStore, 'root'), '--runroot', join(buildahStore, 'run'), '--storage-driver', 'overlay'];
const buildah = {
  async build(context, tag, extra = []) {
    const cache = `${host}/bench/buildah-cache`;
    const { ms, out } = await timed('buildah', [
      ...buildahArgs(), 'bud', '--layers', '--tls-verify=false', '--network', 'none', '--cache-to', cache, '--cache-from', cache,
      ...extra, '-t', `${host}/${tag}`, context,
    ]);
    const steps = out.match(/^(?:\[\d+\/\d+\] )?STEP \d+\/\d+/gm)?.length ?? 0;
    const hits = out.match(/^--> Using cache/gm)?.length ?? 0;
    return { ms, serverMs: undefined, cached: `${hits}/${steps}` };
  },
  /** An empty builder: buildah's whole local storage removed (images, layers, its own cache). */
  async emptyBuilder() {
    await timed('buildah', [...buildahArgs(), 'rmi', '--all', '--force']).catch(() => undefined);
    execFileSync('bash', ['-c', `grep -o " ${buildahStore}[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`], { stdio: 'ignore' });
    rmSync(buildahStore, { recursive: true, force: true });
  },
};

// ------------------------------------------------------------------------------------------ the run

const results = {};
async function measure(side, builder, dataDir) {
  const r = (results[side] = {});
  const context = fixtureContext(side);
  const repo = `bench/${side}`;
  r.cold = await builder.build(context, `${repo}:cold`, BASE_ARG);
  await builder.emptyBuilder(dataDir);
  r.cached = await builder.build(context, `${repo}:cached`, BASE_ARG);
  r.warm = await builder.build(context, `${repo}:warm`, BASE_ARG);
  writeFileSync(join(context, 'src/main.txt'), `hello from main ${process.pid}\n`);
  r.changed = await builder.build(context, `${repo}:changed`, BASE_ARG);
  const zero = await builder.build(runsContext(side, 0), `${repo}-runs:zero`);
  const many = await builder.build(runsContext(side, RUNS), `${repo}-runs:many`);
  r.perRun = {
    ms: (many.ms - zero.ms) / RUNS,
    serverMs: many.serverMs === undefined ? undefined : (many.serverMs - zero.serverMs) / RUNS,
    cached: many.cached,
  };
}

const uptime = execFileSync('uptime', { encoding: 'utf8' }).trim();
let failed = false;
try {
  const dataDir = join(work, 'cairn-data');
  await startCairn(dataDir);
  await cairn.build(baseContext(), 'base/busybox:latest');
  for (const side of sides) {
    try {
      await measure(side, side === 'cairn' ? cairn : buildah, dataDir);
    } catch (error) {
      failed = true;
      console.error(`${side}: ${error.message}`);
    }
  }
} finally {
  await stopCairn();
  await buildah.emptyBuilder().catch(() => undefined);
  if (!values.keep) rmSync(work, { recursive: true, force: true });
}

// ------------------------------------------------------------------------------------------ the table

const fmt = (ms) => (ms === undefined ? '' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const rows = [
  ['cold (3-stage fixture)', 'cold', 'cold build, empty caches'],
  ['fully cached, empty builder', 'cached', '≤ 0.1×, server ≤ 20 ms'],
  ['fully cached, same builder again', 'warm', ''],
  ['one file changed', 'changed', '≤ 0.5×'],
  [`per trivial RUN (${RUNS} cold RUNs)`, 'perRun', '≤ 30 ms'],
];
console.log(`build benchmark  ${uptime}  (load ${loadavg().map((l) => l.toFixed(2)).join(' ')} at the end)`);
console.log(`${'case'.padEnd(32)}${'cairn wall'.padStart(12)}${'cairn server'.padStart(14)}${'cairn hits'.padStart(12)}${'buildah wall'.padStart(14)}${'buildah hits'.padStart(14)}${'ratio'.padStart(8)}  target`);
for (const [label, key, target] of rows) {
  const c = results.cairn?.[key];
  const b = results.buildah?.[key];
  const ratio = c && b ? `${(c.ms / b.ms).toFixed(2)}×` : '';
  console.log(`${label.padEnd(32)}${fmt(c?.ms).padStart(12)}${fmt(c?.serverMs).padStart(14)}${(c?.cached ?? '').padStart(12)}${fmt(b?.ms).padStart(14)}${(b?.cached ?? '').padStart(14)}${ratio.padStart(8)}  ${target}`);
}
console.log('wall: the whole command (cairn build incl. upload and push; buildah bud incl. cache push, without pushing the image).');
console.log('per RUN: (N RUNs − the same Dockerfile with none) / N, cold. hits: cairn steps cached / steps; buildah "Using cache" / STEPs.');
process.exit(failed ? 1 : 0);
