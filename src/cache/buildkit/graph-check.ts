// Graph rules for a shape-valid config: no loops through layer parents or record inputs (BuildKit:
// "invalid looping layer" / "invalid looping record") and bounded depth. Everything here is
// iterative — a 100,000-deep chain must not blow the stack — and linear in the config size.
import type { CacheConfig, CacheLayer } from './types.js';

export interface GraphFacts {
  /** Length of each layer's chain, counting itself (a base layer has depth 1). */
  layerDepth: Int32Array;
  /** Longest path from a root record (0 for records without inputs). */
  recordLevel: Int32Array;
}

/** Check loops and depth; return per-layer depths and per-record levels, or a reason. */
export function checkGraph(
  config: CacheConfig, maxDepth: number,
): { ok: true; facts: GraphFacts } | { ok: false; reason: string } {
  const layers = layerDepths(config.layers, maxDepth);
  if (typeof layers === 'string') return { ok: false, reason: layers };
  const records = recordLevels(config, maxDepth);
  if (typeof records === 'string') return { ok: false, reason: records };
  return { ok: true, facts: { layerDepth: layers, recordLevel: records } };
}

function layerDepths(layers: readonly CacheLayer[], maxDepth: number): Int32Array | string {
  const depth = new Int32Array(layers.length); // 0 = not yet known
  const onPath = new Uint8Array(layers.length);
  const path: number[] = [];
  for (let start = 0; start < layers.length; start++) {
    let at = start;
    // Walk up until a known depth or a base layer, remembering the path to fill it in after.
    while (at !== -1 && depth[at] === 0) {
      if (onPath[at]) return `layers[${at}]: looping layer (its parent chain leads back to it)`;
      onPath[at] = 1;
      path.push(at);
      at = (layers[at] as CacheLayer).parent;
    }
    let d = at === -1 ? 0 : (depth[at] as number);
    while (path.length > 0) {
      const i = path.pop() as number;
      onPath[i] = 0;
      depth[i] = ++d;
      if (d > maxDepth) return `layers[${i}]: parent chain is deeper than the limit of ${maxDepth}`;
    }
  }
  return depth;
}

function recordLevels(config: CacheConfig, maxDepth: number): Int32Array | string {
  const n = config.records.length;
  const { offsets, targets } = dependents(config);
  const pending = new Int32Array(n); // unprocessed input edges per record
  const level = new Int32Array(n);
  const queue: number[] = [];
  config.records.forEach((r, i) => {
    const count = r.inputs.reduce((sum, alts) => sum + alts.length, 0);
    pending[i] = count;
    if (count === 0) queue.push(i);
  });
  // Kahn's algorithm: a record is processed once all its inputs are, so its level is final.
  for (let head = 0; head < queue.length; head++) {
    const from = queue[head] as number;
    for (let e = offsets[from] as number; e < (offsets[from + 1] as number); e++) {
      const to = targets[e] as number;
      level[to] = Math.max(level[to] as number, (level[from] as number) + 1);
      if (level[to]! > maxDepth) return `records[${to}]: input chain is deeper than the limit of ${maxDepth}`;
      pending[to] = pending[to]! - 1;
      if (pending[to] === 0) queue.push(to);
    }
  }
  if (queue.length < n) return `records[${findLoop(config, pending)}]: looping record (its inputs lead back to it)`;
  return level;
}

/** Compressed adjacency: for each record, the records that list it as an input (one per link). */
function dependents(config: CacheConfig): { offsets: Int32Array; targets: Int32Array } {
  const n = config.records.length;
  const offsets = new Int32Array(n + 1);
  for (const r of config.records) for (const alts of r.inputs) for (const a of alts) offsets[a.link + 1]! += 1;
  for (let i = 0; i < n; i++) offsets[i + 1]! += offsets[i]!;
  const fill = offsets.slice(0, n);
  const targets = new Int32Array(offsets[n] as number);
  config.records.forEach((r, i) => {
    for (const alts of r.inputs) {
      for (const a of alts) {
        targets[fill[a.link]!] = i;
        fill[a.link]! += 1;
      }
    }
  });
  return { offsets, targets };
}

/** A record on a loop: from any unprocessed record, unprocessed inputs lead round a cycle. */
function findLoop(config: CacheConfig, pending: Int32Array): number {
  let at = pending.findIndex((p) => p > 0);
  const seen = new Uint8Array(config.records.length);
  while (!seen[at]) {
    seen[at] = 1;
    const next = config.records[at]!.inputs.flat().find((a) => pending[a.link]! > 0);
    if (next === undefined) break; // cannot happen: an unprocessed record has an unprocessed input
    at = next.link;
  }
  return at;
}
