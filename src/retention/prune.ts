/**
 * The pruning rule (opt-in, `prune.unusedDays`): a cache the policy keeps is rewritten without
 * the layers no one used for D days. Pure, like every rule: the clock comes in as `now`.
 *
 * "Used" is read from the layer fetches the registry records per cache (src/cache/layer-usage.ts),
 * with one inference: a layer counts as used when it *or a layer stacked on it* was fetched. A
 * build can only use a layer on top of its parents, and BuildKit fetches a parent from the cache
 * repository only when it does not have it already — a base layer usually comes with the FROM
 * image, from another repository — so a fetched child is the evidence that its whole chain is in
 * use. Never used: counted from the cache's push.
 *
 * The rule applies after every other, to tags that end up kept: a tag another rule deletes is not
 * also rewritten, and a protected tag is never rewritten (protection means "leave it as it is").
 * Only image-manifest caches are rewritten (src/cache/buildkit/prune.ts says why the legacy index
 * form and inline cache are not). Which entries actually go — those stacked on an unused layer,
 * the results naming them, records left useless — is decided by the cacheconfig itself, at the
 * edge that reads it (src/retention/rewrites.ts).
 */
import type { CacheUsage, TagFacts } from './snapshot.js';

export const PRUNE_RULE = 'prune-unused';

const DAY_MS = 86_400_000;
const NEVER = Number.NEGATIVE_INFINITY;

/** The layer blobs of the tag's cache unused for `days`, with why; undefined when there are none. */
export function unusedLayers(tag: TagFacts, days: number, now: Date): { digests: string[]; reason: string } | undefined {
  const usage = tag.cache?.usage;
  if (!usage || usage.form !== 'image-manifest') return undefined;
  const lastUse = lastUseByBlob(usage);
  if (!lastUse) return undefined;
  const cutoff = now.getTime() - days * DAY_MS;
  const pushed = usage.pushedAt.getTime();
  const unused = [...lastUse].filter(([, at]) => (at === NEVER ? pushed : at) <= cutoff);
  if (unused.length === 0) return undefined;
  const never = unused.filter(([, at]) => at === NEVER).length;
  const detail = never === unused.length ? 'never used' : never === 0 ? `not used since ${iso(cutoff)}` : `${never} never used, the rest not since ${iso(cutoff)}`;
  return {
    digests: unused.map(([digest]) => digest).sort(),
    reason: `${unused.length} of ${lastUse.size} layers unused for ${days} d (${detail}; cache pushed ${usage.pushedAt.toISOString()}): rewritten without them`,
  };
}

/**
 * Per blob, the last time it or a layer stacked on it was fetched (NEVER if neither was).
 * Undefined for a layer graph that loops or points outside itself (never so for a parsed cache).
 */
function lastUseByBlob(usage: CacheUsage): Map<string, number> | undefined {
  const { layers } = usage;
  const depth = new Int32Array(layers.length);
  for (let i = 0; i < layers.length; i++) {
    let d = 0;
    for (let at = i; at !== -1; at = layers[at]!.parent) {
      if (at < -1 || at >= layers.length || ++d > layers.length) return undefined;
    }
    depth[i] = d;
  }
  const use = layers.map((l) => l.lastFetchedAt?.getTime() ?? NEVER);
  // Deepest first, so a layer has heard from everything stacked on it before it tells its parent.
  for (const i of [...depth.keys()].sort((a, b) => depth[b]! - depth[a]!)) {
    const parent = layers[i]!.parent;
    if (parent !== -1) use[parent] = Math.max(use[parent]!, use[i]!);
  }
  const byBlob = new Map<string, number>();
  layers.forEach((l, i) => byBlob.set(l.digest, Math.max(byBlob.get(l.digest) ?? NEVER, use[i]!)));
  return byBlob;
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
