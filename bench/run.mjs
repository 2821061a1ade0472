#!/usr/bin/env node
// Cairn vs. the reference registry (CNCF distribution 2.8, Debian's
// docker-registry), same workloads side by side. See bench/README.md.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { RegistryClient } from './lib/client.mjs';
import { cpuRows, notes, table, writeJson } from './lib/report.mjs';
import { cpuSeconds, external, killAllSync, memoryMiB, restartServer, startCairn, startReference, stopAll } from './lib/servers.mjs';
import { setTimeout as sleep } from 'node:timers/promises';
import { WORKLOADS } from './lib/workloads.mjs';

const USAGE = `usage: node bench/run.mjs [--only reference|cairn] [--target URL]
                          [--workloads id,id] [--json FILE]
  --only reference|cairn   bench one side only
  --target URL             bench an already-running registry in Cairn's place
  --workloads ids          subset of: ${WORKLOADS.map((w) => w.id).join(', ')}
  --json FILE              results file (default bench/results/latest.json)
env: BENCH_QUICK=1 (~30 s smoke run), BENCH_LARGE_MB, BENCH_CHUNK_MB, BENCH_LARGE_REPS,
     BENCH_FULL_TAGS, BENCH_WALK_TAGS, BENCH_CATALOG_REPOS,
     BENCH_DATABASE_URL, BENCH_REF_PORT, BENCH_CAIRN_PORT, BENCH_MAX_SECONDS, BENCH_KEEP=1,
     BENCH_IDLE_SECONDS, BENCH_CAIRN_NODE_ARGS`;

function envInt(name, fallback) {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${v}`);
  return n;
}

function port(name, fallback) {
  const p = envInt(name, fallback);
  if (p < 1024 || p > 65535) throw new Error(`${name} must be an unprivileged port (1024-65535)`);
  return p;
}

/** Sizes chosen so a default run of both targets stays around 3 minutes on 2 cores. */
function config() {
  const quick = Boolean(process.env.BENCH_QUICK && process.env.BENCH_QUICK !== '0');
  const q = (full, small) => (quick ? small : full);
  const cfg = {
    quick,
    runId: Date.now().toString(36),
    largeMiB: envInt('BENCH_LARGE_MB', q(256, 64)),
    chunkMiB: envInt('BENCH_CHUNK_MB', 16),
    largeReps: envInt('BENCH_LARGE_REPS', q(3, 1)),
    warmup: q(200, 100),
    headCount: q(20_000, 2_000),
    headConcurrency: 16,
    manifestPuts: q(1_000, 200),
    manifestGets: q(5_000, 1_000),
    manifestConcurrency: 8,
    smallCount: q(2_000, 300),
    smallConcurrency: 8,
    cacheLayers: 50,
    cacheImports: q(200, 30),
    cacheConcurrency: 4,
    cacheHeadConcurrency: 8,
    // Listings (bench/lib/listings.mjs).
    fullTags: envInt('BENCH_FULL_TAGS', q(5_000, 1_000)),
    walkTags: envInt('BENCH_WALK_TAGS', q(100_000, 10_000)),
    walkRepository: process.env.BENCH_WALK_REPOSITORY,
    catalogRepos: envInt('BENCH_CATALOG_REPOS', q(2_000, 300)),
    pageSize: 100,
    pageReps: q(50, 20),
    listReps: q(30, 10),
    catalogWalks: q(3, 1),
    maxMs: q(10_000, 3_000), // cap per measured loop: bounds a slow target's run time
    // Idle RSS is read this long after the first answer: V8 finishes compiling (PGlite's
    // WebAssembly tiers up in the background) and the figure stops moving.
    idleSeconds: envInt('BENCH_IDLE_SECONDS', q(5, 2)),
    refPort: port('BENCH_REF_PORT', 5601),
    cairnPort: port('BENCH_CAIRN_PORT', 5602),
  };
  if (cfg.chunkMiB > cfg.largeMiB) cfg.chunkMiB = cfg.largeMiB;
  return cfg;
}

function parseCli() {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      target: { type: 'string' },
      workloads: { type: 'string' },
      json: { type: 'string', default: resolve(import.meta.dirname, 'results', 'latest.json') },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (values.only && !['reference', 'cairn'].includes(values.only)) throw new Error(`--only ${values.only}?\n${USAGE}`);
  const ids = values.workloads?.split(',').map((s) => s.trim());
  const unknown = ids?.filter((id) => !WORKLOADS.some((w) => w.id === id));
  if (unknown?.length) throw new Error(`unknown workloads: ${unknown.join(', ')}\n${USAGE}`);
  return { ...values, workloads: ids ? WORKLOADS.filter((w) => ids.includes(w.id)) : WORKLOADS };
}

/** Per-side state the workloads share: a fresh namespace, and how to read the server's CPU. */
function targetContext(label, server, cfg) {
  return { label, ns: `bench-${cfg.runId}`, cpu: () => cpuSeconds(server) };
}

/** Starts (or attaches to) each side; a side that fails to start is reported, not fatal. */
async function startTargets(opts, cfg) {
  const wanted = [];
  if (opts.only !== 'cairn') wanted.push(['reference', () => startReference(cfg.refPort)]);
  if (opts.only !== 'reference') {
    wanted.push(['cairn', () => (opts.target ? external('cairn', opts.target) : startCairn(cfg.cairnPort))]);
  }
  const targets = [];
  for (const [label, start] of wanted) {
    try {
      const server = await start();
      targets.push({ label, server, client: new RegistryClient(server.url), ctx: targetContext(label, server, cfg) });
      console.error(`${label}: ready at ${server.url}`);
    } catch (err) {
      console.error(`${label}: failed to start: ${err.message}`);
      targets.push({ label, startError: err.message });
    }
  }
  return targets;
}

/** One workload on one side; failures become an error result so the other side still runs. */
async function runOne(workload, target, cfg) {
  if (target.startError) return { error: `not started: ${target.startError.split('\n')[0]}` };
  // Each side starts from the same page-cache state: the reference never fsyncs, so the kernel
  // would write its pushes back (and, under memory pressure, reclaim its cached pages) while the
  // other side is being measured, charging that side for the work.
  resetPageCache();
  const t0 = performance.now();
  const cpu0 = cpuSeconds(target.server);
  const client0 = process.cpuUsage();
  let result;
  try {
    result = await workload.run(target.client, target.ctx, cfg);
  } catch (err) {
    result = { error: err.message.split('\n')[0] };
  }
  result.wallSeconds = (performance.now() - t0) / 1000;
  // CPU for the whole workload, setup and warm-up included: the client shares the cores.
  const { user, system } = process.cpuUsage(client0);
  result.clientCpuSeconds = (user + system) / 1e6;
  if (cpu0 !== undefined) result.serverCpuSeconds = cpuSeconds(target.server) - cpu0;
  const status = result.error ? `ERROR ${result.error}` : 'ok';
  const cpu = result.serverCpuSeconds?.toFixed(1) ?? '?';
  const client = result.clientCpuSeconds.toFixed(1);
  console.error(`  ${workload.id} on ${target.label}: ${status} (${result.wallSeconds.toFixed(1)} s; CPU server ${cpu} s, client ${client} s)`);
  return result;
}

/** sync(1), then drop clean cached pages when allowed (root): both are untimed. */
function resetPageCache() {
  try {
    execFileSync('sync', [], { stdio: 'ignore' });
    writeFileSync('/proc/sys/vm/drop_caches', '1');
  } catch {
    // not root, or no /proc: measure as is
  }
}

async function runWorkloads(workloads, targets, cfg) {
  const rows = [];
  for (const workload of workloads) {
    const results = {};
    // Sides alternate per workload so slow drift (page cache, other load) hits both alike.
    for (const t of targets) results[t.label] = await runOne(workload, t, cfg);
    for (const metric of workload.metrics) rows.push({ workload: workload.id, metric, results });
  }
  return rows;
}

const lowerIs = (key, label, unit) => ({ key, label, unit, better: 'lower' });
const FOOTPRINT = {
  firstWall: lowerIs('firstWall', 'first start to GET /v2/', 's'),
  firstCpu: lowerIs('firstCpu', 'first start, server CPU', 's'),
  idleRss: lowerIs('idleRss', 'idle RSS after start', 'MiB'),
  afterRss: lowerIs('afterRss', 'RSS after the workloads', 'MiB'),
  peakRss: lowerIs('peakRss', 'peak RSS (VmHWM)', 'MiB'),
  restartWall: lowerIs('restartWall', 'restart to GET /v2/', 's'),
  restartCpu: lowerIs('restartCpu', 'restart, server CPU', 's'),
  restartIdleRss: lowerIs('restartIdleRss', 'idle RSS after restart', 'MiB'),
};

/** Start-up and memory of each side the harness started, gathered around the workloads. */
function footprintRecorder(targets, cfg) {
  const figures = Object.fromEntries(targets.map((t) => [t.label, t.startError ? { error: 'not started' } : {}]));
  const started = () => targets.filter((t) => !t.startError && t.server.child);
  return {
    /** Right after start: the first start's times, and RSS once the process has settled. */
    async afterStart() {
      for (const t of started()) {
        Object.assign(figures[t.label], { firstWall: t.server.firstStart.wallSeconds, firstCpu: t.server.firstStart.cpuSeconds });
      }
      await sleep(cfg.idleSeconds * 1000);
      for (const t of started()) figures[t.label].idleRss = memoryMiB(t.server)?.rss;
    },
    /** After the workloads: RSS now and at its peak, then a SIGTERM restart on the same data. */
    async afterWorkloads() {
      for (const t of started()) {
        const mem = memoryMiB(t.server);
        Object.assign(figures[t.label], { afterRss: mem?.rss, peakRss: mem?.peak });
      }
      for (const t of started()) {
        try {
          const restart = await restartServer(t.server);
          Object.assign(figures[t.label], { restartWall: restart.wallSeconds, restartCpu: restart.cpuSeconds });
        } catch (err) {
          // Logged, not an error cell: the figures gathered before the restart still stand.
          console.error(`${t.label}: restart failed: ${err.message}`);
        }
      }
      await sleep(cfg.idleSeconds * 1000);
      for (const t of started()) if (figures[t.label].restartWall !== undefined) figures[t.label].restartIdleRss = memoryMiB(t.server)?.rss;
    },
    rows() {
      if (started().length === 0) return [];
      return Object.values(FOOTPRINT).map((metric) => ({ workload: 'footprint', metric, results: figures }));
    },
  };
}

function versions() {
  const tryRun = (cmd, args) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return undefined;
    }
  };
  return {
    node: process.version,
    reference: tryRun('/usr/bin/docker-registry', ['--version']),
    cairnCommit: tryRun('git', ['-C', resolve(import.meta.dirname, '..'), 'rev-parse', '--short', 'HEAD']),
  };
}

async function main() {
  const opts = parseCli();
  const cfg = config();
  // Hard stop so an unattended run can never hang: kill what we started and exit.
  const maxSeconds = envInt('BENCH_MAX_SECONDS', cfg.quick ? 300 : 900);
  setTimeout(() => {
    console.error(`bench: exceeded BENCH_MAX_SECONDS=${maxSeconds}, aborting`);
    killAllSync();
    process.exit(2);
  }, maxSeconds * 1000).unref();

  const started = performance.now();
  const loadBefore = loadavg()[0];
  const targets = await startTargets(opts, cfg);
  const footprint = footprintRecorder(targets, cfg);
  let rows;
  try {
    await footprint.afterStart();
    rows = await runWorkloads(opts.workloads, targets, cfg);
    await footprint.afterWorkloads();
  } finally {
    await Promise.all(targets.map((t) => t.client?.close()));
    await stopAll();
  }
  const labels = targets.map((t) => t.label);
  console.log(`\nCairn benchmark (${cfg.quick ? 'quick' : 'full'}; large blob ${cfg.largeMiB} MiB, chunk ${cfg.chunkMiB} MiB, ${cfg.largeReps} rep(s))\n`);
  console.log(table(rows, labels));
  const cpu = cpuRows(rows);
  if (cpu.length) console.log(`\nserver CPU per unit of work (measured phase only)\n\n${table(cpu, labels)}`);
  const footprintRows = footprint.rows();
  if (footprintRows.length) console.log(`\nfootprint and start-up (lower is better)\n\n${table(footprintRows, labels)}`);
  const footer = notes(rows, labels);
  if (footer) console.log(`\n${footer}`);
  // The bench shares 2 cores with whatever else runs; say so when it is not idle.
  if (loadBefore > 0.5) console.log(`note: load average was ${loadBefore.toFixed(2)} at start (${loadavg()[0].toFixed(2)} at the end): figures are noisy`);
  writeJson(opts.json, {
    date: new Date().toISOString(),
    seconds: (performance.now() - started) / 1000,
    loadavgAtStart: loadBefore,
    versions: versions(),
    targets: targets.map(({ label, server, startError }) => ({ label, url: server?.url, external: !!server?.external, startError })),
    config: cfg,
    results: [...rows, ...footprintRows].map(({ workload, metric, results }) => ({ workload, ...metric, results })),
  });
  console.log(`\nresults: ${opts.json}`);
  const failed = rows.some(({ results }) => Object.values(results).some((r) => r.error));
  process.exitCode = failed ? 1 : 0;
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAllSync();
    process.exit(130);
  });
}
process.on('exit', killAllSync);

main().catch((err) => {
  console.error(`bench: ${err.message}`);
  killAllSync();
  process.exit(1);
});
