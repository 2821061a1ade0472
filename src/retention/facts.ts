/**
 * Gathers the planner's snapshot: facts about every repository some policy selects, in a handful
 * of queries however many tags there are. Branches come from each repository's cache settings
 * (custom pattern) or the default patterns (src/cache/branches.ts).
 */
import { matchesPattern } from '../auth/patterns.js';
import { branchOf } from '../cache/branches.js';
import type { Metadata } from '../metadata/stores/index.js';
import type { RetentionPolicy } from './policy.js';
import type { CacheUsage, Snapshot, TagFacts } from './snapshot.js';

export async function gatherSnapshot(metadata: Metadata, policies: readonly RetentionPolicy[]): Promise<{ snapshot: Snapshot; repositoryIds: Map<string, number> }> {
  const { stores } = metadata;
  const repositories = (await stores.retention.repositories()).filter((r) => policies.some((p) => p.repositories.some((pattern) => matchesPattern(pattern, r.name))));
  const ids = repositories.map((r) => r.id);
  // Layer use is only read for repositories a pruning policy selects.
  const pruned = repositories.filter((r) => policies.some((p) => p.prune && p.repositories.some((pattern) => matchesPattern(pattern, r.name)))).map((r) => r.id);
  const [facts, blobs, untagged, branches, patterns, layerUse] = await Promise.all([
    stores.retention.tagFacts(ids),
    stores.retention.taggedBlobs(ids),
    stores.retention.untagged(ids),
    stores.branches.list(ids),
    stores.retention.branchPatterns(ids),
    stores.retention.cacheLayerUse(pruned),
  ]);
  const usage = new Map<number, { form: CacheUsage['form']; pushedAt: Date; layers: Array<CacheUsage['layers'][number]> }>();
  for (const row of layerUse) {
    let u = usage.get(row.manifest_id);
    if (!u) usage.set(row.manifest_id, (u = { form: row.format, pushedAt: row.pushed_at, layers: [] }));
    // Positions are the cacheconfig's indexes, 0…n-1 (parents refer to them).
    if (row.position !== u.layers.length) throw new Error(`cache of manifest ${row.manifest_id}: layer position ${row.position} out of order`);
    u.layers.push({ digest: row.digest, parent: row.parent, lastFetchedAt: row.last_fetched_at });
  }
  const blobsOf = new Map<number, string[]>();
  const blobSizes = new Map<string, number>();
  for (const b of blobs) {
    const list = blobsOf.get(b.manifest_id);
    if (list) list.push(b.digest);
    else blobsOf.set(b.manifest_id, [b.digest]);
    blobSizes.set(b.digest, b.size);
  }
  const tags: TagFacts[] = facts.map((f) => ({
    repository: f.repository,
    tag: f.tag,
    manifestId: f.manifest_id,
    digest: f.digest,
    pushedAt: f.pushed_at,
    lastPulledAt: f.last_pulled_at,
    cache: f.is_cache ? { lastImportedAt: f.last_imported_at, ...(usage.has(f.manifest_id) ? { usage: usage.get(f.manifest_id)! } : {}) } : null,
    branch: branchOf(f.tag, patterns.get(f.repository_id)) ?? null,
    blobs: blobsOf.get(f.manifest_id) ?? [],
  }));
  return {
    snapshot: {
      tags,
      untagged: untagged.map((u) => ({ repository: u.repository, manifestId: u.manifest_id, digest: u.digest, pushedAt: u.pushed_at })),
      branches: branches.map((b) => ({ repository: b.repository, branch: b.branch, state: b.state, changedAt: b.changed_at })),
      blobSizes,
    },
    repositoryIds: new Map(repositories.map((r) => [r.name, r.id])),
  };
}
