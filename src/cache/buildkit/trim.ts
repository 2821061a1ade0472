// Fit a normalised config into a byte budget (BuildKit refuses cacheconfigs over 1 MiB, and a
// refused import silently runs every step uncached — worse than a smaller cache).
//
// 1. Keep only each record's newest result, as BuildKit's own exporter does.
// 2. Drop whole records, least recently useful first. A record's "recency" is the newest creation
//    time of its own results or of anything downstream of it (a key-only FROM record is as recent
//    as the newest build that used it). Recency never decreases towards the inputs, so dependents
//    are dropped before — never after — what they depend on, and a newer build's chain is never cut
//    off by dropping an old shared ancestor. Ties (a build's steps share its newest time) drop
//    deeper records first, so what stays of a build is a usable prefix: its early, expensive steps
//    (dependency installs) stay cached. Records without any known time (results without
//    createdAt and no layer annotation) count as oldest.
//    The number dropped is found by binary search on the serialised size; compact.ts keeps the
//    graph valid for every candidate.
import { compact, topologicalOrder } from './compact.js';
import { checkGraph, type GraphFacts } from './graph-check.js';
import { combineChecked } from './normalize.js';
import { knownTimeNs } from './time.js';
import type { CacheConfig, CacheRecord } from './types.js';
import { serializeCacheConfig } from './wire.js';

export interface BudgetOptions {
  /** Largest serialised cacheconfig allowed. */
  maxBytes?: number;
  /** Layer creation times by blob digest (`buildkit/createdat`), used when a result has no createdAt. */
  layerCreatedAt?: ReadonlyMap<string, string>;
  /** Additional rule a candidate must satisfy (e.g. the manifest listing its layers must fit too). */
  fits?: (bytes: Uint8Array, config: CacheConfig) => boolean;
}

export interface TrimReport { records: number; results: number; layers: number }

type Fitted = { ok: true; config: CacheConfig; facts: GraphFacts; bytes: Uint8Array } | { ok: false; reason: string };

const NO_TIME = -(2n ** 127n);

/** `config` must be normalised (as returned by combineChecked) with its facts. */
export function fitToBudget(config: CacheConfig, facts: GraphFacts, options: BudgetOptions): Fitted {
  const fits = (bytes: Uint8Array, c: CacheConfig): boolean =>
    (options.maxBytes === undefined || bytes.byteLength <= options.maxBytes) && (options.fits?.(bytes, c) ?? true);
  const bytes = serializeCacheConfig(config);
  if (fits(bytes, config)) return { ok: true, config, facts, bytes };
  const time = resultTimes(config, options.layerCreatedAt);
  const order = topologicalOrder(facts.recordLevel);
  const newest = renormalize(compact(newestResultOnly(config, time), allOnes(config), order, false));
  if (!newest.ok || fits(newest.bytes, newest.config)) return newest;
  return dropRecords(newest, fits, time);
}

function dropRecords(base: Fitted & { ok: true }, fits: (b: Uint8Array, c: CacheConfig) => boolean, time: TimeOf): Fitted {
  const { config, facts } = base;
  const order = dropOrder(config, facts, time);
  const topological = topologicalOrder(facts.recordLevel);
  const compacted = (k: number): CacheConfig => {
    const keep = allOnes(config);
    for (let i = 0; i < k; i++) keep[order[i]!] = 0;
    return compact(config, keep, topological, true);
  };
  // Search on the compacted (unsorted) form: sorting again is the expensive part, and it only
  // reorders records that share a digest, which moves the size by a few bytes at most.
  const roughFit = (k: number): boolean => {
    const c = compacted(k);
    return fits(serializeCacheConfig(c), c);
  };
  const exact = (k: number): Fitted => renormalize(compacted(k));
  if (!roughFit(order.length)) return { ok: false, reason: 'the byte budget is too small even for an empty cacheconfig' };
  const rough = smallestFitting(0, order.length, roughFit);
  const first = exact(rough);
  if (!first.ok || fits(first.bytes, first.config)) return first;
  // Rare: the sorted form is a little larger. Finish with exact candidates.
  let best: Fitted = exact(order.length);
  smallestFitting(rough, order.length, (n) => {
    const candidate = exact(n);
    const ok = candidate.ok && fits(candidate.bytes, candidate.config);
    if (ok) best = candidate; // the last success is the smallest n that fits
    return ok;
  });
  return best;
}

/** Smallest k in (lo, hi] with fit(k), given fit(hi) holds and fit(lo) does not (binary search). */
function smallestFitting(lo: number, hi: number, fit: (k: number) => boolean): number {
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (fit(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}

type TimeOf = (record: CacheRecord) => bigint[];

/** Creation time of each result then each chain of a record (NO_TIME when unknown). */
function resultTimes(config: CacheConfig, layerCreatedAt: ReadonlyMap<string, string> | undefined): TimeOf {
  const ofLayer = (layer: number | undefined, createdAt: string | undefined): bigint => {
    const blob = layer === undefined ? undefined : config.layers[layer]?.blob;
    const fallback = blob === undefined ? undefined : layerCreatedAt?.get(blob);
    return knownTimeNs(createdAt) ?? knownTimeNs(fallback) ?? NO_TIME;
  };
  return (r) => [
    ...r.results.map((res) => ofLayer(res.layer, res.createdAt)),
    ...r.chains.map((c) => ofLayer(c.layers[c.layers.length - 1], c.createdAt)),
  ];
}

function newestResultOnly(config: CacheConfig, time: TimeOf): CacheConfig {
  const records = config.records.map((r): CacheRecord => {
    const times = time(r);
    if (times.length <= 1) return r;
    let best = 0;
    times.forEach((t, i) => { if (t > times[best]!) best = i; });
    return best < r.results.length
      ? { ...r, results: [r.results[best]!], chains: [] }
      : { ...r, results: [], chains: [r.chains[best - r.results.length]!] };
  });
  return { layers: config.layers, records };
}

/** Records ordered by recency (see top), oldest first; ties: deeper first, then index. */
function dropOrder(config: CacheConfig, facts: GraphFacts, time: TimeOf): number[] {
  const n = config.records.length;
  const recency = config.records.map((r) => time(r).reduce((a, b) => (b > a ? b : a), NO_TIME));
  const byLevelDesc = [...Array(n).keys()].sort((a, b) => facts.recordLevel[b]! - facts.recordLevel[a]!);
  for (const r of byLevelDesc) {
    for (const alts of config.records[r]!.inputs) {
      for (const a of alts) if (recency[r]! > recency[a.link]!) recency[a.link] = recency[r]!;
    }
  }
  return [...Array(n).keys()].sort((a, b) =>
    recency[a]! < recency[b]! ? -1 : recency[a]! > recency[b]! ? 1
      : facts.recordLevel[b]! - facts.recordLevel[a]! || a - b);
}

/** Sort a compacted config again: dropping sources changes the keys records are sorted by. */
function renormalize(config: CacheConfig): Fitted {
  // Compaction only removes entries, so it cannot create a loop or lengthen a path: no depth bound.
  const graph = checkGraph(config, Number.MAX_SAFE_INTEGER);
  if (!graph.ok) return { ok: false, reason: `compacted config is invalid: ${graph.reason}` };
  const result = combineChecked([config], [graph.facts], Number.MAX_SAFE_INTEGER);
  return result.ok ? { ...result, bytes: serializeCacheConfig(result.config) } : result;
}

function allOnes(config: CacheConfig): Uint8Array {
  return new Uint8Array(config.records.length).fill(1);
}
