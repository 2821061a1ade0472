// Pool + record classes → one sorted CacheConfig, ordered the way BuildKit's exporter orders it
// (`sortConfig` in cache/remotecache/v1/utils.go), so that a BuildKit config comes back byte for
// byte and equal caches get equal digests:
//   layers   by blob digest, then by parent: BuildKit compares parent indexes (-1 first); where
//            one blob has several parents we put the base layer first, then order by the
//            parent's chain key — BuildKit compares pre-sort indexes there, which are not stable.
//   records  by digest, then number of inputs, then per input the number of sources, then per
//            source its selector and the digest of the record it links to (BuildKit's keys);
//            remaining ties (same digest on different inputs) by a hash of the record's whole
//            input graph, which is independent of input order.
//   sources  within each inputs[k]: by link index (as BuildKit), then selector.
//   results  by layer index; chains by their index lists. (BuildKit writes one result per record.)
import { breakCycles, type LoopRepairs } from './cycles.js';
import { recordIdentities } from './identity.js';
import type { Pool, PoolAlt, PoolLayer } from './pool.js';
import { laterTime } from './time.js';
import type { CacheConfig, CacheInput, CacheLayer, CacheRecord } from './types.js';

/** A coalesced record: sources point at classes (representative record indexes). */
export interface ClassRecord {
  id: number;
  digest: string;
  inputs: Array<Map<string, PoolAlt>>;
  results: Map<string, string | undefined>;
  chains: Map<string, { layerKeys: string[]; createdAt?: string }>;
}

export function emitConfig(pool: Pool, roots: Int32Array): { config: CacheConfig; loops: LoopRepairs } | string {
  const layers = sortLayers(pool.layers);
  const layerIndex = new Map(layers.map((l, i) => [l.key, i]));
  const classes = collectClasses(pool, roots);
  const loops = breakCycles(classes);
  const identity = recordIdentities(classes);
  if (typeof identity === 'string') return identity;
  const sorted = sortRecords(classes, identity);
  const recordIndex = new Map(sorted.map((c, i) => [c.id, i]));
  const config = {
    layers: layers.map((l) => toLayer(l, layerIndex)),
    records: sorted.map((c) => toRecord(c, layerIndex, recordIndex)),
  };
  return { config, loops };
}

function sortLayers(pool: Map<string, PoolLayer>): PoolLayer[] {
  return [...pool.values()].sort(
    (a, b) => cmp(a.blob, b.blob) || cmp(a.parentKey ?? '', b.parentKey ?? '') || cmp(a.key, b.key),
  );
}

function collectClasses(pool: Pool, roots: Int32Array): Map<number, ClassRecord> {
  const classes = new Map<number, ClassRecord>();
  pool.records.forEach((r, i) => {
    const id = roots[i]!;
    let c = classes.get(id);
    if (!c) {
      c = { id, digest: r.digest, inputs: r.inputs.map(() => new Map()), results: new Map(), chains: new Map() };
      classes.set(id, c);
    }
    r.inputs.forEach((alts, k) => {
      for (const a of alts) {
        const alt = { selector: a.selector, link: roots[a.link]! };
        c.inputs[k]!.set(`${alt.selector}\u0000${alt.link}`, alt);
      }
    });
    for (const res of r.results) c.results.set(res.layerKey, laterTime(c.results.get(res.layerKey), res.createdAt));
    for (const ch of r.chains) addChain(c, ch);
  });
  return classes;
}

function addChain(c: ClassRecord, chain: { layerKeys: string[]; createdAt?: string }): void {
  const key = chain.layerKeys.join(',');
  const createdAt = laterTime(c.chains.get(key)?.createdAt, chain.createdAt);
  c.chains.set(key, createdAt === undefined ? { layerKeys: chain.layerKeys } : { layerKeys: chain.layerKeys, createdAt });
}

function sortRecords(classes: Map<number, ClassRecord>, identity: Map<number, string>): ClassRecord[] {
  // BuildKit compares sources in their pre-sort order, which is arbitrary; a canonical order
  // (selector, then linked digest, then linked identity) gives the same result whenever it matters.
  const canon = new Map<number, Array<Array<[string, string]>>>();
  for (const c of classes.values()) {
    canon.set(c.id, c.inputs.map((slot) =>
      [...slot.values()]
        .map((a): [string, string, string] => [a.selector, classes.get(a.link)!.digest, identity.get(a.link)!])
        .sort((x, y) => cmp(x[0], y[0]) || cmp(x[1], y[1]) || cmp(x[2], y[2]))
        .map(([sel, digest]): [string, string] => [sel, digest])));
  }
  return [...classes.values()].sort((a, b) =>
    cmp(a.digest, b.digest) || compareInputs(canon.get(a.id)!, canon.get(b.id)!) || cmp(identity.get(a.id)!, identity.get(b.id)!));
}

function compareInputs(a: Array<Array<[string, string]>>, b: Array<Array<[string, string]>>): number {
  if (a.length !== b.length) return a.length - b.length;
  for (let k = 0; k < a.length; k++) {
    if (a[k]!.length !== b[k]!.length) return a[k]!.length - b[k]!.length;
  }
  for (let k = 0; k < a.length; k++) {
    for (let j = 0; j < a[k]!.length; j++) {
      const [x, y] = [a[k]![j]!, b[k]![j]!];
      const d = cmp(x[0], y[0]) || cmp(x[1], y[1]);
      if (d !== 0) return d;
    }
  }
  return 0;
}

function toLayer(l: PoolLayer, index: Map<string, number>): CacheLayer {
  const parent = l.parentKey === null ? -1 : index.get(l.parentKey)!;
  return l.annotations ? { blob: l.blob, parent, annotations: l.annotations } : { blob: l.blob, parent };
}

function toRecord(c: ClassRecord, layerIndex: Map<string, number>, recordIndex: Map<number, number>): CacheRecord {
  const inputs = c.inputs.map((slot) =>
    [...slot.values()]
      .map((a): CacheInput => (a.selector ? { selector: a.selector, link: recordIndex.get(a.link)! } : { link: recordIndex.get(a.link)! }))
      .sort((x, y) => x.link - y.link || cmp(x.selector ?? '', y.selector ?? '')));
  const results = [...c.results].map(([key, createdAt]) => withTime({ layer: layerIndex.get(key)! }, createdAt))
    .sort((x, y) => x.layer - y.layer);
  const chains = [...c.chains.values()]
    .map((ch) => withTime({ layers: ch.layerKeys.map((k) => layerIndex.get(k)!) }, ch.createdAt))
    .sort((x, y) => compareLists(x.layers, y.layers));
  return { digest: c.digest, results, chains, inputs };
}

function compareLists(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

function withTime<T extends object>(base: T, createdAt: string | undefined): T & { createdAt?: string } {
  return createdAt === undefined ? base : { ...base, createdAt };
}

/** Plain code-unit comparison, like Go's byte-wise string comparison for ASCII (every record key is ASCII). */
export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
