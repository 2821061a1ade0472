/**
 * The pruning rule (opt-in, `prune.unusedDays`): a cache the policy keeps is rewritten without
 * the layers no one fetched for D days. Pure, like every rule: the clock comes in as `now`.
 *
 * It applies after every other rule, to tags that end up kept: a tag another rule deletes is not
 * also rewritten, and a protected tag is never rewritten (protection means "leave it as it is").
 * Only image-manifest caches are rewritten (see src/cache/buildkit/prune.ts for why the legacy
 * index form and inline cache are not). Which layers actually go — their descendants, the results
 * that name them, records left useless — is decided by the cacheconfig itself, at the edge that
 * reads it (the retention service).
 */
import type { TagFacts } from './snapshot.js';

export const PRUNE_RULE = 'prune-unused';

const DAY_MS = 86_400_000;

/** The layers of the tag's cache unused for `days` (never fetched: counted from the cache's push), with why; undefined if none. */
export function unusedLayers(tag: TagFacts, days: number, now: Date): { digests: string[]; reason: string } | undefined {
  const usage = tag.cache?.usage;
  if (!usage || usage.form !== 'image-manifest') return undefined;
  const cutoff = now.getTime() - days * DAY_MS;
  const unused = usage.layers.filter((l) => (l.lastFetchedAt ?? usage.pushedAt).getTime() <= cutoff);
  if (unused.length === 0) return undefined;
  const never = unused.filter((l) => l.lastFetchedAt === null).length;
  const detail = never === unused.length ? 'never fetched' : never === 0 ? 'not fetched since' : `${never} never fetched, the rest not since`;
  return {
    digests: unused.map((l) => l.digest).sort(),
    reason: `${unused.length} of ${usage.layers.length} layers unused for ${days} d (${detail} ${new Date(cutoff).toISOString()}; cache pushed ${usage.pushedAt.toISOString()}): rewritten without them`,
  };
}
