// Counts and the export-mode guess for a valid config.
//
// Mode heuristic. BuildKit does not record the mode, so it is inferred from what each mode exports:
//   - mode=min exports every record but gives results only to the final image's steps, so all
//     result layers sit on ONE parent chain, and some records with inputs have no result;
//   - mode=max gives every step a result, so either results branch (several stages, as in every
//     multi-stage fixture) or no record with inputs lacks a result.
// Hence: no results → 'empty'; results on one chain and some non-root record without results →
// 'min'; otherwise 'max'. A single-stage linear build exports the same thing in both modes and is
// reported 'max'. A max export whose blobs were partly unavailable can look like 'min'. Inline
// cache is always 'min' (set by parseInlineCache).
import type { GraphFacts } from './graph-check.js';
import type { CacheConfig } from './types.js';

export type CacheMode = 'max' | 'min' | 'empty';

export interface CacheStats {
  records: number;
  layers: number;
  /** Result entries (`records[].layers`) plus chained results (`records[].chains`). */
  results: number;
  /** Records with neither results nor chains: keys only (roots, or steps min mode left out). */
  recordsWithoutResults: number;
  /** Records with no inputs (sources: images, local files, content checksums). */
  rootRecords: number;
  /** Longest layer parent chain. */
  maxLayerDepth: number;
  /** Longest path through record inputs. */
  maxRecordLevel: number;
  mode: CacheMode;
}

export function computeStats(config: CacheConfig, facts: GraphFacts): CacheStats {
  let results = 0;
  let withoutResults = 0;
  let roots = 0;
  let stepWithoutResults = false;
  for (const r of config.records) {
    const n = r.results.length + r.chains.length;
    results += n;
    if (n === 0) withoutResults++;
    if (r.inputs.length === 0) roots++;
    else if (n === 0) stepWithoutResults = true;
  }
  return {
    records: config.records.length,
    layers: config.layers.length,
    results,
    recordsWithoutResults: withoutResults,
    rootRecords: roots,
    maxLayerDepth: max(facts.layerDepth),
    maxRecordLevel: max(facts.recordLevel),
    mode: results === 0 ? 'empty' : onOneChain(config, facts) && stepWithoutResults ? 'min' : 'max',
  };
}

/** True when every result's top layer is on the parent chain of the deepest one. */
function onOneChain(config: CacheConfig, facts: GraphFacts): boolean {
  const tops = new Set<number>();
  for (const r of config.records) {
    for (const res of r.results) tops.add(res.layer);
    for (const c of r.chains) for (const l of c.layers) tops.add(l);
  }
  let deepest = -1;
  for (const t of tops) if (deepest === -1 || facts.layerDepth[t]! > facts.layerDepth[deepest]!) deepest = t;
  const chain = new Set<number>();
  for (let at = deepest; at !== -1; at = config.layers[at]!.parent) chain.add(at);
  for (const t of tops) if (!chain.has(t)) return false;
  return true;
}

function max(values: Int32Array): number {
  let m = 0;
  for (const v of values) if (v > m) m = v;
  return m;
}
