#!/usr/bin/env node
// Medians of several interleaved rounds: runs `bench/run.mjs` N times (each round starts both
// registries afresh and alternates the sides per workload), then prints each figure's median per
// side and the ratio of the medians, beside every round's own ratio so the spread is visible.
//
//   node bench/rounds.mjs                       # 3 rounds of the default workloads
//   BENCH_ROUNDS=5 node bench/rounds.mjs --workloads manifests,small-blobs
//
// Every argument is passed to run.mjs; BENCH_* variables apply to each round as usual.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { ratio, table } from './lib/report.mjs';

const here = import.meta.dirname;
const rounds = Number.parseInt(process.env.BENCH_ROUNDS ?? '3', 10);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error('bench: BENCH_ROUNDS must be a positive integer');
  process.exit(2);
}
const passThrough = process.argv.slice(2).filter((a, i, all) => a !== '--json' && all[i - 1] !== '--json');

const median = (xs) => {
  const s = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

const loads = [];
const runs = [];
for (let r = 1; r <= rounds; r++) {
  const json = resolve(here, 'results', `round-${r}.json`);
  loads.push(loadavg()[0]);
  console.error(`bench: round ${r} of ${rounds} (load ${loads.at(-1).toFixed(2)})`);
  const child = spawnSync(process.execPath, [resolve(here, 'run.mjs'), ...passThrough, '--json', json], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (child.status !== 0 && child.status !== 1) {
    console.error(`bench: round ${r} stopped with status ${child.status ?? child.signal}`);
    process.exit(1);
  }
  runs.push(JSON.parse(readFileSync(json, 'utf8')));
}

const labels = runs[0].targets.map((t) => t.label);
const [refLabel, cairnLabel] = labels;
/** One row per figure: the median of each side over the rounds, and each round's ratio. */
function medianRows(pick, shape = (m) => m) {
  return runs[0].results.map((first, i) => {
    const metric = shape({ key: first.key, label: first.label, unit: first.unit, better: first.better, cpuUnit: first.cpuUnit });
    const perRound = runs.map((run) => run.results[i]);
    const results = Object.fromEntries(labels.map((l) => [l, { [metric.key]: median(perRound.map((row) => pick(row.results[l], metric.key))) }]));
    const roundRatios = perRound.map((row) => ratio(metric, pick(row.results[refLabel], metric.key), pick(row.results[cairnLabel], metric.key)));
    return { workload: first.workload, metric, results, roundRatios };
  });
}
const withSpread = (rows) =>
  rows.map((row) => ({
    ...row,
    metric: { ...row.metric, label: `${row.metric.label} [${row.roundRatios.map((x) => (x === undefined ? '-' : x.toFixed(2))).join(' ')}]` },
  }));

const rates = medianRows((result, key) => result?.[key]);
console.log(`\nCairn benchmark: medians of ${rounds} interleaved rounds (each round's ratio in brackets)\n`);
console.log(table(withSpread(rates), labels));
if (cairnLabel) {
  // CPU per unit of work, as run.mjs's second table: lower is better, so the ratio is ref / cairn.
  const cpu = medianRows((result, key) => result?.cpu?.[key], (m) => ({ ...m, unit: `ms/${m.cpuUnit}`, better: 'lower' })).filter(
    (row) => row.metric.cpuUnit && Object.values(row.results).some((r) => typeof r[row.metric.key] === 'number'),
  );
  if (cpu.length) console.log(`\nserver CPU per unit of work, medians\n\n${table(withSpread(cpu), labels)}`);
}
console.log(`\nload average at each round's start: ${loads.map((l) => l.toFixed(2)).join(', ')} (${loadavg()[0].toFixed(2)} at the end)`);
console.log('ratio > 1 means Cairn is better (throughput cairn/ref, latency ref/cairn)');
