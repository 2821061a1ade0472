// Union + normal form of one or more configs: layers de-duplicated by chain, records coalesced by
// BuildKit's matching rule (coalesce.ts), results united, everything sorted as BuildKit's exporter
// sorts (emit.ts). The output is re-checked with the graph rules before it is returned.
import { coalesce } from './coalesce.js';
import type { LoopRepairs } from './cycles.js';
import { emitConfig } from './emit.js';
import { checkGraph, type GraphFacts } from './graph-check.js';
import { DEFAULT_LIMITS, resolveLimits, type ParseLimits } from './limits.js';
import { checkCacheConfig } from './parse.js';
import { buildPool } from './pool.js';
import type { CacheConfig } from './types.js';

export type Normalized =
  | { ok: true; config: CacheConfig; facts: GraphFacts; loops: LoopRepairs }
  | { ok: false; reason: string };

/**
 * Union of `configs` in normal form. Each input is validated first (same rules as pushed bytes).
 * Where inputs disagree on a layer's cacheconfig annotations, the later input wins.
 */
export function combineConfigs(configs: readonly CacheConfig[], limits?: Partial<ParseLimits>): Normalized {
  const checked: CacheConfig[] = [];
  const facts: GraphFacts[] = [];
  for (const [i, config] of configs.entries()) {
    const result = checkCacheConfig(config, limits);
    if (!result.ok) return { ok: false, reason: configs.length > 1 ? `input ${i}: ${result.reason}` : result.reason };
    checked.push(result.config);
    facts.push(result.facts);
  }
  return combineChecked(checked, facts, resolveLimits(limits).maxChainDepth);
}

/** `combineConfigs` for inputs already validated, with their graph facts. */
export function combineChecked(
  configs: readonly CacheConfig[], facts: readonly GraphFacts[], maxDepth = DEFAULT_LIMITS.maxChainDepth,
): Normalized {
  const pool = buildPool(configs, facts);
  const roots = coalesce(pool.records, pool.levels);
  if (typeof roots === 'string') return { ok: false, reason: roots };
  const emitted = emitConfig(pool, roots);
  if (typeof emitted === 'string') return { ok: false, reason: emitted };
  const { config, loops } = emitted;
  // Coalescing can lengthen input paths, so the depth bound scales with the number of inputs.
  const graph = checkGraph(config, maxDepth * Math.max(1, configs.length));
  if (!graph.ok) return { ok: false, reason: `normalised config is invalid: ${graph.reason}` };
  return { ok: true, config, facts: graph.facts, loops };
}
