// Remove records from a config and keep the graph valid: a record loses sources that were removed,
// and is removed itself when one of its inputs has no source left (BuildKit rejects an empty
// inputs[k], and such a record could never match anyway); optionally, records that have no result
// and no remaining dependents go too (they can no longer lead a build to any layer). Layers that no
// remaining result reaches are dropped. The output is NOT sorted; normalise it afterwards.
import type { CacheConfig, CacheInput, CacheRecord } from './types.js';

/** Record indexes with inputs before dependents, from checkGraph's levels. Reusable. */
export function topologicalOrder(levels: Int32Array): number[] {
  return [...levels.keys()].sort((a, b) => levels[a]! - levels[b]! || a - b);
}

/** `keep[r]` says which records the caller wants; `order` comes from topologicalOrder. */
export function compact(config: CacheConfig, keep: Uint8Array, order: readonly number[], pruneKeyOnly: boolean): CacheConfig {
  const alive = Uint8Array.from(keep);
  const inputs: CacheInput[][][] = config.records.map((r) => r.inputs);
  for (const r of order) {
    if (!alive[r] || inputs[r]!.every((alts) => alts.every((a) => alive[a.link]))) continue;
    const filtered = inputs[r]!.map((alts) => alts.filter((a) => alive[a.link]));
    if (filtered.some((alts) => alts.length === 0)) alive[r] = 0;
    else inputs[r] = filtered;
  }
  if (pruneKeyOnly) pruneUseless(config.records, inputs, alive, order);
  return rebuild(config, inputs, alive);
}

/** Dependents first (reverse level order), so a record knows whether anything still uses it. */
function pruneUseless(records: CacheRecord[], inputs: CacheInput[][][], alive: Uint8Array, order: readonly number[]): void {
  const used = new Uint8Array(records.length);
  for (let i = order.length - 1; i >= 0; i--) {
    const r = order[i]!;
    if (!alive[r]) continue;
    const rec = records[r]!;
    if (rec.results.length + rec.chains.length === 0 && !used[r]) {
      alive[r] = 0;
      continue;
    }
    for (const alts of inputs[r]!) for (const a of alts) used[a.link] = 1;
  }
}

function rebuild(config: CacheConfig, inputs: CacheInput[][][], alive: Uint8Array): CacheConfig {
  const recordIndex = indexMap(alive);
  const layerAlive = reachableLayers(config, alive);
  const layerIndex = indexMap(layerAlive);
  const layers = config.layers
    .filter((_, i) => layerAlive[i])
    .map((l) => ({ ...l, parent: l.parent === -1 ? -1 : layerIndex[l.parent]! }));
  const records = config.records
    .map((r, i): CacheRecord => ({
      digest: r.digest,
      results: r.results.map((res) => ({ ...res, layer: layerIndex[res.layer]! })),
      chains: r.chains.map((c) => ({ ...c, layers: c.layers.map((l) => layerIndex[l]!) })),
      inputs: inputs[i]!.map((alts) => alts.map((a) => ({ ...a, link: recordIndex[a.link]! }))),
    }))
    .filter((_, i) => alive[i]);
  return { layers, records };
}

/** Layers used by the results and chains of alive records, with their parents. */
export function reachableLayers(config: CacheConfig, alive: Uint8Array): Uint8Array {
  const mark = new Uint8Array(config.layers.length);
  const walk = (start: number): void => {
    for (let at = start; at !== -1 && !mark[at]; at = config.layers[at]!.parent) mark[at] = 1;
  };
  config.records.forEach((r, i) => {
    if (!alive[i]) return;
    for (const res of r.results) walk(res.layer);
    // Chains do not follow parents, but a layer entry keeps its parent index, so keep those too.
    for (const c of r.chains) for (const l of c.layers) walk(l);
  });
  return mark;
}

/** Old index → new index for the kept entries (-1 for dropped ones). */
function indexMap(alive: Uint8Array): Int32Array {
  const map = new Int32Array(alive.length).fill(-1);
  let next = 0;
  alive.forEach((a, i) => {
    if (a) map[i] = next++;
  });
  return map;
}
