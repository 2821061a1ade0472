// The "pool": one or more configs turned into index-free nodes, ready to be coalesced and emitted.
//
// A layer is identified by its whole chain, not its blob: the same blob on another parent is
// another snapshot, and conflating the two would hand a build the wrong filesystem. The key is a
// hash over the chain (like OCI's ChainID, but over blob digests), so it does not depend on where
// the layer sits in `layers[]`, and identical chains from different configs get the same key.
import { createHash } from 'node:crypto';
import type { GraphFacts } from './graph-check.js';
import type { CacheConfig, LayerAnnotations } from './types.js';

export interface PoolLayer {
  key: string;
  blob: string;
  parentKey: string | null;
  annotations?: LayerAnnotations;
}

export interface PoolAlt { selector: string; link: number }

export interface PoolRecord {
  digest: string;
  /** Links are indexes into the pool's records (configs are concatenated). */
  inputs: PoolAlt[][];
  results: Array<{ layerKey: string; createdAt?: string }>;
  chains: Array<{ layerKeys: string[]; createdAt?: string }>;
}

export interface Pool {
  layers: Map<string, PoolLayer>;
  records: PoolRecord[];
  /** Record levels (longest input path), for processing inputs before their dependents. */
  levels: number[];
}

/** Concatenate configs; `facts[i]` must come from checkGraph on `configs[i]`. Later configs' layer
 *  annotations win over earlier ones for the same chain. */
export function buildPool(configs: readonly CacheConfig[], facts: readonly GraphFacts[]): Pool {
  const pool: Pool = { layers: new Map(), records: [], levels: [] };
  configs.forEach((config, i) => addConfig(pool, config, facts[i] as GraphFacts));
  return pool;
}

function addConfig(pool: Pool, config: CacheConfig, facts: GraphFacts): void {
  const keys = layerKeys(config, facts);
  config.layers.forEach((l, i) => {
    const key = keys[i] as string;
    const parentKey = l.parent === -1 ? null : (keys[l.parent] as string);
    const previous = pool.layers.get(key);
    const annotations = l.annotations ?? previous?.annotations;
    pool.layers.set(key, annotations ? { key, blob: l.blob, parentKey, annotations } : { key, blob: l.blob, parentKey });
  });
  const offset = pool.records.length;
  config.records.forEach((r, i) => {
    pool.records.push({
      digest: r.digest,
      inputs: r.inputs.map((alts) => alts.map((a) => ({ selector: a.selector ?? '', link: a.link + offset }))),
      results: r.results.map((res) => withTime({ layerKey: keys[res.layer] as string }, res.createdAt)),
      chains: r.chains.map((c) => withTime({ layerKeys: c.layers.map((l) => keys[l] as string) }, c.createdAt)),
    });
    pool.levels.push(facts.recordLevel[i] as number);
  });
}

/** Chain key of every layer, parents first (ordered by depth, so no recursion is needed). */
function layerKeys(config: CacheConfig, facts: GraphFacts): string[] {
  const keys: string[] = new Array<string>(config.layers.length);
  const order = [...config.layers.keys()].sort((a, b) => facts.layerDepth[a]! - facts.layerDepth[b]!);
  for (const i of order) {
    const layer = config.layers[i]!;
    const parentKey = layer.parent === -1 ? '' : keys[layer.parent];
    keys[i] = createHash('sha256').update(`${parentKey}\n${layer.blob}`).digest('hex');
  }
  return keys;
}

function withTime<T extends object>(base: T, createdAt: string | undefined): T & { createdAt?: string } {
  return createdAt === undefined ? base : { ...base, createdAt };
}
