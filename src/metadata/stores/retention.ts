/**
 * Retention metadata: policies (with the lease that lets one replica run a policy at a time), run
 * history, the facts the planner reads, and the exact impact of a plan.
 */
import type { AuditActor } from './audit.js';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface PolicyRow {
  name: string;
  definition: Record<string, unknown>;
  interval_seconds: number | null;
  next_run_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface TagFactRow {
  repository: string;
  repository_id: number;
  tag: string;
  manifest_id: number;
  digest: string;
  pushed_at: Date;
  last_pulled_at: Date | null;
  is_cache: boolean;
  last_imported_at: Date | null;
}

export interface CacheLayerUseRow {
  manifest_id: number;
  format: 'image-manifest' | 'index' | 'inline';
  pushed_at: Date;
  position: number;
  digest: string;
  parent: number;
  last_fetched_at: Date | null;
}

export interface UntaggedRow {
  repository: string;
  manifest_id: number;
  digest: string;
  pushed_at: Date;
}

export interface DoomedManifest {
  id: number;
  repository: string;
  digest: string;
  /** 0 for a manifest that loses its last tag (or is deleted itself), n for an index's child n levels down. */
  depth: number;
}

export interface Impact {
  bytesFreed: number;
  blobsFreed: number;
  /** Digests of the blobs counted. */
  freed: string[];
  /** Manifests no tag, parent index or surviving root would reach once the plan is applied. */
  doomed: DoomedManifest[];
}

export interface RunRow {
  id: number;
  policy: string | null;
  trigger: 'api' | 'schedule' | 'cli';
  actor: string;
  actor_kind: AuditActor['kind'];
  started_at: Date;
  finished_at: Date | null;
  tags_deleted: number;
  manifests_deleted: number;
  bytes_freed: number;
  blobs_freed: number;
  deleted: unknown[];
  tags_rewritten: number;
  rewritten: unknown[];
  error: string | null;
}

export class RetentionStore {
  constructor(private readonly db: Kysely<Database>) {}

  async listPolicies(): Promise<PolicyRow[]> {
    return this.db
      .selectFrom('retention_policies')
      .select(['name', 'definition', 'interval_seconds', 'next_run_at', 'created_at', 'updated_at'])
      .orderBy(sql`name COLLATE "C"`)
      .execute();
  }

  async findPolicy(name: string): Promise<PolicyRow | undefined> {
    return this.db
      .selectFrom('retention_policies')
      .select(['name', 'definition', 'interval_seconds', 'next_run_at', 'created_at', 'updated_at'])
      .where('name', '=', name)
      .executeTakeFirst();
  }

  /** Creates or replaces a policy; its next scheduled run is one interval from now. Returns true when created. */
  async savePolicy(name: string, definition: Record<string, unknown>, intervalSeconds: number | null): Promise<boolean> {
    const nextRunAt = intervalSeconds === null ? null : sql<Date>`now() + make_interval(secs => ${intervalSeconds})`;
    const { rows } = await sql<{ created: boolean }>`
      INSERT INTO retention_policies (name, definition, interval_seconds, next_run_at)
      VALUES (${name}, ${JSON.stringify(definition)}::jsonb, ${intervalSeconds}::integer, ${nextRunAt})
      ON CONFLICT (name) DO UPDATE SET definition = EXCLUDED.definition, interval_seconds = EXCLUDED.interval_seconds,
        next_run_at = EXCLUDED.next_run_at, updated_at = now()
      RETURNING (xmax = 0) AS created`.execute(this.db);
    return rows[0]?.created ?? false;
  }

  async deletePolicy(name: string): Promise<boolean> {
    const result = await this.db.deleteFrom('retention_policies').where('name', '=', name).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Scheduled policies whose next run is due and that no replica holds. */
  async duePolicies(): Promise<string[]> {
    const rows = await this.db
      .selectFrom('retention_policies')
      .select('name')
      .where('interval_seconds', 'is not', null)
      .where('next_run_at', '<=', sql<Date>`now()`)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', sql<Date>`now()`)]))
      .execute();
    return rows.map((r) => r.name);
  }

  /**
   * Claims a policy for one run: one UPDATE that only matches while no lease is current, so of
   * several replicas (or an API call racing the scheduler) exactly one gets it. A replica that dies
   * mid-run loses the lease after `leaseSeconds`.
   */
  async claim(name: string, owner: string, leaseSeconds: number): Promise<boolean> {
    const result = await this.db
      .updateTable('retention_policies')
      .set({ lease_until: sql<Date>`now() + make_interval(secs => ${leaseSeconds})`, lease_owner: owner })
      .where('name', '=', name)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', sql<Date>`now()`)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /** Ends a claim; a scheduled policy's next run is one interval from now. */
  async release(name: string, owner: string): Promise<void> {
    await this.db
      .updateTable('retention_policies')
      .set({
        lease_until: null,
        lease_owner: null,
        next_run_at: sql<Date>`CASE WHEN interval_seconds IS NULL THEN NULL ELSE now() + make_interval(secs => interval_seconds) END`,
      })
      .where('name', '=', name)
      .where('lease_owner', '=', owner)
      .execute();
  }

  async startRun(policy: string | null, trigger: RunRow['trigger'], actor: AuditActor): Promise<number> {
    const row = await this.db.insertInto('retention_runs').values({ policy, trigger, actor: actor.name, actor_kind: actor.kind, tags_deleted: 0, manifests_deleted: 0, bytes_freed: 0, blobs_freed: 0, deleted: '[]' }).returning('id').executeTakeFirstOrThrow();
    return row.id;
  }

  async finishRun(
    id: number,
    outcome: { tagsDeleted: number; manifestsDeleted: number; tagsRewritten: number; bytesFreed: number; blobsFreed: number; deleted: unknown[]; rewritten: unknown[]; error: string | null },
  ): Promise<void> {
    await this.db
      .updateTable('retention_runs')
      .set({
        finished_at: new Date(),
        tags_deleted: outcome.tagsDeleted,
        manifests_deleted: outcome.manifestsDeleted,
        bytes_freed: outcome.bytesFreed,
        blobs_freed: outcome.blobsFreed,
        deleted: JSON.stringify(outcome.deleted),
        tags_rewritten: outcome.tagsRewritten,
        rewritten: JSON.stringify(outcome.rewritten),
        error: outcome.error,
      })
      .where('id', '=', id)
      .execute();
  }

  /** Newest first; `before` is a run id for paging. */
  async listRuns(filter: { policy?: string; limit: number; before?: number }): Promise<RunRow[]> {
    let query = this.db.selectFrom('retention_runs').selectAll().orderBy('id', 'desc').limit(filter.limit);
    if (filter.policy !== undefined) query = query.where('policy', '=', filter.policy);
    if (filter.before !== undefined) query = query.where('id', '<', filter.before);
    return (await query.execute()) as RunRow[];
  }

  async findRun(id: number): Promise<RunRow | undefined> {
    return (await this.db.selectFrom('retention_runs').selectAll().where('id', '=', id).executeTakeFirst()) as RunRow | undefined;
  }

  async repositories(): Promise<Array<{ id: number; name: string }>> {
    return this.db.selectFrom('repositories').select(['id', 'name']).execute();
  }

  /** Custom branch patterns (cache settings) of the repositories that have one. */
  async branchPatterns(repositoryIds: readonly number[]): Promise<Map<number, string>> {
    if (repositoryIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('cache_settings')
      .select(['repository_id', 'branch_pattern'])
      .where('repository_id', 'in', [...repositoryIds])
      .where('branch_pattern', 'is not', null)
      .execute();
    return new Map(rows.map((r) => [r.repository_id, r.branch_pattern!]));
  }

  /** Every tag of the repositories, with what retention judges it by. */
  async tagFacts(repositoryIds: readonly number[]): Promise<TagFactRow[]> {
    if (repositoryIds.length === 0) return [];
    const { rows } = await sql<TagFactRow>`
      SELECT r.name AS repository, t.repository_id, t.name AS tag, t.manifest_id, m.digest, t.pushed_at, t.last_pulled_at,
             c.id IS NOT NULL AS is_cache, c.last_imported_at
      FROM tags t
      JOIN manifests m ON m.id = t.manifest_id
      JOIN repositories r ON r.id = t.repository_id
      LEFT JOIN cache_entries c ON c.manifest_id = t.manifest_id
      WHERE t.repository_id = ANY(${[...repositoryIds]}::bigint[])`.execute(this.db);
    return rows;
  }

  /** The blobs each tagged manifest of the repositories holds, its index children's included. */
  async taggedBlobs(repositoryIds: readonly number[]): Promise<Array<{ manifest_id: number; digest: string; size: number }>> {
    if (repositoryIds.length === 0) return [];
    const { rows } = await sql<{ manifest_id: number; digest: string; size: number }>`
      WITH RECURSIVE reach (root, id) AS (
        SELECT DISTINCT manifest_id, manifest_id FROM tags WHERE repository_id = ANY(${[...repositoryIds]}::bigint[])
        UNION
        SELECT reach.root, r.child_id FROM manifest_references r JOIN reach ON r.parent_id = reach.id
      )
      SELECT DISTINCT reach.root AS manifest_id, b.digest, b.size
      FROM reach JOIN manifest_blobs mb ON mb.manifest_id = reach.id JOIN blobs b ON b.digest = mb.blob_digest`.execute(this.db);
    return rows;
  }

  /**
   * The layer entries (cacheconfig order) of each tagged, parsed cache of the repositories: blob,
   * parent, when the blob was last fetched for that cache (null: never), with the cache's form and
   * push time — what the pruning rule judges.
   */
  async cacheLayerUse(repositoryIds: readonly number[]): Promise<CacheLayerUseRow[]> {
    if (repositoryIds.length === 0) return [];
    const { rows } = await sql<CacheLayerUseRow>`
      SELECT c.manifest_id, c.format, c.pushed_at, l.position, l.digest, l.parent, f.last_fetched_at
      FROM cache_entries c
      JOIN cache_layers l ON l.cache_id = c.id
      LEFT JOIN cache_layer_fetches f ON f.cache_id = c.id AND f.digest = l.digest
      WHERE c.repository_id = ANY(${[...repositoryIds]}::bigint[]) AND c.parsed
        AND EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = c.manifest_id)
      ORDER BY c.manifest_id, l.position`.execute(this.db);
    return rows;
  }

  /**
   * Manifests with no tag and no parent index (referrers, which live through their subject, are
   * left to the garbage collector).
   */
  async untagged(repositoryIds: readonly number[]): Promise<UntaggedRow[]> {
    if (repositoryIds.length === 0) return [];
    const { rows } = await sql<UntaggedRow>`
      SELECT r.name AS repository, m.id AS manifest_id, m.digest, m.pushed_at
      FROM manifests m JOIN repositories r ON r.id = m.repository_id
      WHERE m.repository_id = ANY(${[...repositoryIds]}::bigint[]) AND m.subject_digest IS NULL
        AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = m.id)
        AND NOT EXISTS (SELECT 1 FROM manifest_references p WHERE p.child_id = m.id)`.execute(this.db);
    return rows;
  }

  /**
   * What deleting these tags and manifests does, exactly, in one statement over the reference
   * graph. Candidates: the manifests of the deleted tags, the deleted manifests, and (recursively)
   * their index children. A candidate survives when it keeps a tag not being deleted, or has a
   * parent that survives (every non-candidate does: the plan cannot reach it). The rest is doomed.
   * A blob is freed when a doomed manifest names it and no surviving manifest anywhere in the
   * registry does — so a layer shared with another tag or repository is not counted, and a layer
   * shared by two doomed manifests is counted once. `retained` names blobs that manifests the plan
   * will write (a pruned cache's kept layers) go on naming: they are not freed either.
   */
  async impact(tags: ReadonlyArray<{ repositoryId: number; tag: string }>, manifestIds: readonly number[], retained: readonly string[] = []): Promise<Impact> {
    const { rows } = await sql<{ kind: 'doomed' | 'freed'; id: number | null; repository: string | null; digest: string; depth: number | null; size: number | null }>`
      WITH RECURSIVE
      gone_tags (repository_id, name) AS (
        SELECT * FROM unnest(${tags.map((t) => t.repositoryId)}::bigint[], ${tags.map((t) => t.tag)}::text[])
      ),
      gone_manifests (id) AS (SELECT unnest(${[...manifestIds]}::bigint[])),
      candidates (id, depth) AS (
        SELECT t.manifest_id, 0 FROM tags t JOIN gone_tags g ON g.repository_id = t.repository_id AND g.name = t.name
        UNION
        SELECT id, 0 FROM gone_manifests
        UNION
        SELECT r.child_id, c.depth + 1 FROM manifest_references r JOIN candidates c ON r.parent_id = c.id
      ),
      candidate_ids AS (SELECT id, min(depth) AS depth FROM candidates GROUP BY id),
      surviving (id) AS (
        SELECT c.id FROM candidate_ids c
        WHERE c.id NOT IN (SELECT id FROM gone_manifests) AND (
          EXISTS (SELECT 1 FROM tags t WHERE t.manifest_id = c.id
                  AND NOT EXISTS (SELECT 1 FROM gone_tags g WHERE g.repository_id = t.repository_id AND g.name = t.name))
          OR EXISTS (SELECT 1 FROM manifest_references r WHERE r.child_id = c.id
                     AND r.parent_id NOT IN (SELECT id FROM candidate_ids)))
        UNION
        SELECT r.child_id FROM manifest_references r JOIN surviving s ON r.parent_id = s.id
      ),
      doomed AS (SELECT id, depth FROM candidate_ids WHERE id NOT IN (SELECT id FROM surviving)),
      freed AS (
        SELECT DISTINCT mb.blob_digest AS digest FROM manifest_blobs mb JOIN doomed d ON d.id = mb.manifest_id
        WHERE mb.blob_digest <> ALL(${[...retained]}::text[])
          AND NOT EXISTS (SELECT 1 FROM manifest_blobs o WHERE o.blob_digest = mb.blob_digest
                          AND o.manifest_id NOT IN (SELECT id FROM doomed))
      )
      SELECT 'doomed' AS kind, d.id, r.name AS repository, m.digest, d.depth, NULL::bigint AS size
      FROM doomed d JOIN manifests m ON m.id = d.id JOIN repositories r ON r.id = m.repository_id
      UNION ALL
      SELECT 'freed', NULL, NULL, b.digest, NULL, b.size FROM freed f JOIN blobs b ON b.digest = f.digest`.execute(this.db);
    const freed = rows.filter((r) => r.kind === 'freed').map((r) => ({ digest: r.digest, size: r.size! }));
    const doomed = rows
      .filter((r) => r.kind === 'doomed')
      .map((r) => ({ id: r.id!, repository: r.repository!, digest: r.digest, depth: r.depth! }))
      .sort((a, b) => a.depth - b.depth || a.id - b.id);
    return { bytesFreed: freed.reduce((n, b) => n + b.size, 0), blobsFreed: freed.length, freed: freed.map((b) => b.digest), doomed };
  }

  /** Of these blobs, the ones no manifest names any more: what a run really left for the collector. */
  async unreferenced(digests: readonly string[]): Promise<{ bytes: number; blobs: number }> {
    if (digests.length === 0) return { bytes: 0, blobs: 0 };
    const { rows } = await sql<{ bytes: number; blobs: number }>`
      SELECT coalesce(sum(b.size), 0)::bigint AS bytes, count(*)::bigint AS blobs FROM blobs b
      WHERE b.digest = ANY(${[...digests]}::text[])
        AND NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.blob_digest = b.digest)`.execute(this.db);
    return { bytes: Number(rows[0]?.bytes ?? 0), blobs: Number(rows[0]?.blobs ?? 0) };
  }
}
