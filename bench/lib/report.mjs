// The aligned table on stdout and the JSON file with every figure.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

function fmt(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '-';
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** Oriented so that >1 always means the second target (Cairn) did better. */
export function ratio(metric, ref, other) {
  if (typeof ref !== 'number' || typeof other !== 'number' || !ref || !other) return undefined;
  return metric.better === 'lower' ? ref / other : other / ref;
}

function cell(result, key) {
  if (!result) return '-';
  if (result.error) return 'error';
  return fmt(result[key]) + (result.timedOut ? '*' : '');
}

/** rows: [{ workload, metric, results: { [label]: result } }] in run order. */
export function table(rows, labels) {
  const [refLabel, otherLabel] = labels;
  const header = ['workload', 'unit', ...labels];
  if (otherLabel) header.push(`ratio ${otherLabel}/${refLabel}`);
  const lines = rows.map(({ metric, results }) => {
    const line = [metric.label, metric.unit, ...labels.map((l) => cell(results[l], metric.key))];
    if (otherLabel) {
      const r = ratio(metric, results[refLabel]?.[metric.key], results[otherLabel]?.[metric.key]);
      line.push(r === undefined ? '-' : `${r.toFixed(2)}x`);
    }
    return line;
  });
  const widths = header.map((_, i) => Math.max(...[header, ...lines].map((l) => l[i].length)));
  // Text columns left-aligned, figures right-aligned.
  const render = (l) => l.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [render(header), rule, ...lines.map(render)].join('\n');
}

/**
 * The same rows as server CPU per unit of work (lower is better). Unlike wall
 * rates this barely moves when other processes share the cores.
 */
export function cpuRows(rows) {
  return rows
    .filter(({ metric }) => metric.cpuUnit)
    .map(({ workload, metric, results }) => ({
      workload,
      metric: { key: metric.key, label: metric.label, unit: `ms/${metric.cpuUnit}`, better: 'lower' },
      results: Object.fromEntries(Object.entries(results).map(([l, r]) => [l, r.error ? r : { [metric.key]: r.cpu?.[metric.key] }])),
    }))
    .filter(({ results, metric }) => Object.values(results).some((r) => typeof r[metric.key] === 'number'));
}

export function notes(rows, labels) {
  const out = [];
  if (rows.some(({ results }) => labels.some((l) => results[l]?.timedOut))) {
    out.push('* hit the per-workload time cap: figure is from fewer operations than planned');
  }
  // One line per distinct error, naming the workloads it hit (a side that did not start hits all).
  const errors = new Map();
  for (const { workload, results } of rows) {
    for (const l of labels) {
      const err = results[l]?.error;
      if (!err) continue;
      const key = `${l}\u0000${err}`;
      const hit = errors.get(key) ?? new Set();
      errors.set(key, hit.add(workload));
    }
  }
  for (const [key, workloads] of errors) {
    const [label, err] = key.split('\u0000');
    out.push(`${label} [${[...workloads].join(', ')}]: ${err}`);
  }
  if (labels.length > 1) out.push('ratio > 1 means Cairn is better (throughput cairn/ref, latency ref/cairn)');
  return out.join('\n');
}

export function writeJson(path, data) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(data, null, 2) + '\n');
}
