// Public merge/normalise API over normalize.ts (union + order) and trim.ts (byte budget).
//
// What a merge keeps: every layer chain and every record of both inputs; records BuildKit would
// treat as one (same digest, a shared source for every input) become one record with the union
// of sources and results. Results are de-duplicated by layer chain (keeping the later createdAt)
// and, unlike BuildKit's exporter, a record may keep several: the importer accepts that, and a
// merge should not lose a layer some build can still use. The budget, when given, is what bounds
// growth (trim.ts).
//
// Deterministic: the output depends only on the inputs' content (not their order), so equal
// inputs give equal bytes, merge(A, B) = merge(B, A), and merge(A, A) is A's normal form —
// byte-identical to a BuildKit export. Also associative and idempotent ((A∪B)∪B = A∪B) unless
// joining records closes a loop (`loops` > 0; seen only with synthetic, heavily colliding keys):
// the loop's sources are dropped, and re-adding an input can bring some of them back.
import type { LoopRepairs } from './cycles.js';
import type { ParseLimits } from './limits.js';
import { combineConfigs } from './normalize.js';
import { computeStats, type CacheStats } from './stats.js';
import { fitToBudget, type BudgetOptions, type TrimReport } from './trim.js';
import type { CacheConfig } from './types.js';

export type { BudgetOptions, TrimReport } from './trim.js';
export type { LoopRepairs } from './cycles.js';

export interface MergeOptions extends BudgetOptions {
  /** Bounds applied when re-validating the inputs. */
  limits?: Partial<ParseLimits>;
}

export type MergeResult =
  | {
    ok: true;
    config: CacheConfig;
    bytes: Uint8Array;
    stats: CacheStats;
    /** What the byte budget cost. */
    dropped: TrimReport;
    /** Sources dropped because joined records formed a loop (cycles.ts); 0 for real exports. */
    loops: LoopRepairs;
  }
  | { ok: false; reason: string };

/** Union of two configs in normal form; `b` wins where cacheconfig layer annotations differ. */
export function mergeCacheConfigs(a: CacheConfig, b: CacheConfig, options: MergeOptions = {}): MergeResult {
  return mergeConfigList([a, b], options);
}

/** Union of any number of configs (later ones win annotation conflicts). */
export function mergeConfigList(configs: readonly CacheConfig[], options: MergeOptions = {}): MergeResult {
  const union = combineConfigs(configs, options.limits);
  if (!union.ok) return union;
  const fitted = fitToBudget(union.config, union.facts, options);
  if (!fitted.ok) return fitted;
  const dropped: TrimReport = {
    records: union.config.records.length - fitted.config.records.length,
    results: countResults(union.config) - countResults(fitted.config),
    layers: union.config.layers.length - fitted.config.layers.length,
  };
  const stats = computeStats(fitted.config, fitted.facts);
  return { ok: true, config: fitted.config, bytes: fitted.bytes, stats, dropped, loops: union.loops };
}

/** BuildKit's normal form of one config: sorted, de-duplicated, indexes rewritten. */
export function normalizeCacheConfig(config: CacheConfig, options: MergeOptions = {}): MergeResult {
  return mergeConfigList([config], options);
}

function countResults(config: CacheConfig): number {
  return config.records.reduce((n, r) => n + r.results.length + r.chains.length, 0);
}
