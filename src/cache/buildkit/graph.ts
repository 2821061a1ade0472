// Read-only questions the cache index and admin API ask of a (validated) config. Walks are
// iterative and guarded, so even an unvalidated config cannot make them loop forever.
import type { CacheConfig, Descriptor } from './types.js';

/** Layer indexes a result at `layer` brings, base first (BuildKit's Remote.Descriptors order). */
export function layerChain(config: CacheConfig, layer: number): number[] {
  const chain: number[] = [];
  for (let at = layer; at !== -1 && chain.length <= config.layers.length; at = config.layers[at]?.parent ?? -1) {
    chain.push(at);
  }
  return chain.reverse();
}

export interface RecordChains {
  record: number;
  digest: string;
  /** One entry per result then per chained result: blob digests, base first. */
  chains: string[][];
}

/** The resolved layer chains of one record. */
export function recordChains(config: CacheConfig, record: number): RecordChains {
  const r = config.records[record];
  if (!r) return { record, digest: '', chains: [] };
  const blobs = (indexes: number[]): string[] => indexes.map((i) => config.layers[i]?.blob ?? '');
  return {
    record,
    digest: r.digest,
    chains: [
      ...r.results.map((res) => blobs(layerChain(config, res.layer))),
      ...r.chains.map((c) => blobs(c.layers)),
    ],
  };
}

/** The resolved layer chains of every record, in record order. */
export function allRecordChains(config: CacheConfig): RecordChains[] {
  return config.records.map((_, i) => recordChains(config, i));
}

/** Indexes of records with neither results nor chains (keys only). */
export function recordsWithoutResults(config: CacheConfig): number[] {
  return config.records.flatMap((r, i) => (r.results.length + r.chains.length === 0 ? [i] : []));
}

/** Blob digests some result can hand out (result layers, their parents, chained layers). */
export function reachableLayerDigests(config: CacheConfig): Set<string> {
  const seen = new Uint8Array(config.layers.length);
  const out = new Set<string>();
  const visit = (start: number, followParents: boolean): void => {
    for (let at = start; at !== -1 && at < seen.length && !seen[at];) {
      seen[at] = 1;
      out.add(config.layers[at]!.blob);
      at = followParents ? config.layers[at]!.parent : -1;
    }
  };
  for (const r of config.records) {
    for (const res of r.results) visit(res.layer, true);
    for (const c of r.chains) for (const l of c.layers) visit(l, false);
  }
  return out;
}

export interface SetDiff { onlyInA: string[]; onlyInB: string[]; common: string[] }
export interface ConfigDiff { records: SetDiff; layers: SetDiff }

/** Records (by cache-key digest) and layers (by blob digest) in one config but not the other. */
export function diffConfigs(a: CacheConfig, b: CacheConfig): ConfigDiff {
  return {
    records: diffSets(new Set(a.records.map((r) => r.digest)), new Set(b.records.map((r) => r.digest))),
    layers: diffSets(new Set(a.layers.map((l) => l.blob)), new Set(b.layers.map((l) => l.blob))),
  };
}

function diffSets(a: Set<string>, b: Set<string>): SetDiff {
  const sorted = (xs: Iterable<string>): string[] => [...xs].sort();
  return {
    onlyInA: sorted([...a].filter((x) => !b.has(x))),
    onlyInB: sorted([...b].filter((x) => !a.has(x))),
    common: sorted([...a].filter((x) => b.has(x))),
  };
}

/** Sizes by digest from descriptors (e.g. a cache manifest's layers). */
export function sizeMap(descriptors: Iterable<Descriptor>): Map<string, number> {
  return new Map([...descriptors].map((d) => [d.digest, d.size]));
}

/** Total bytes of distinct digests; digests without a known size are listed, not guessed. */
export function sumBytes(digests: Iterable<string>, sizes: ReadonlyMap<string, number>): { bytes: number; missing: string[] } {
  let bytes = 0;
  const missing: string[] = [];
  for (const d of new Set(digests)) {
    const size = sizes.get(d);
    if (size === undefined) missing.push(d);
    else bytes += size;
  }
  return { bytes, missing: missing.sort() };
}
