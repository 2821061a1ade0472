/**
 * Layer fetches per cache (migrations/0010_retention.sql): what each cache's imports really use,
 * so an admin can see the bytes a cache holds but nobody fetches.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface LayerFetches {
  repositoryId: number;
  digest: string;
  count: number;
  at: Date;
}

export interface CacheUsageRow {
  repository: string;
  tag: string;
  manifest_digest: string;
  import_count: number;
  last_imported_at: Date | null;
  layers_held: number;
  bytes_held: number;
  layers_fetched: number;
  bytes_fetched: number;
  records: number;
  records_never_used: number;
}

export class CacheUsageStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Adds fetches counted in memory to every cache of the repository that lists the blob as a layer. One statement. */
  async recordFetches(fetches: readonly LayerFetches[]): Promise<void> {
    if (fetches.length === 0) return;
    await sql`
      INSERT INTO cache_layer_fetches (cache_id, digest, fetches, last_fetched_at)
      SELECT DISTINCT l.cache_id, l.digest, p.count, p.at
      FROM unnest(${fetches.map((f) => f.repositoryId)}::bigint[], ${fetches.map((f) => f.digest)}::text[],
                  ${fetches.map((f) => f.count)}::bigint[], ${fetches.map((f) => f.at)}::timestamptz[]) AS p (repository_id, digest, count, at)
      JOIN cache_entries c ON c.repository_id = p.repository_id
      JOIN cache_layers l ON l.cache_id = c.id AND l.digest = p.digest
      ON CONFLICT (cache_id, digest) DO UPDATE
        SET fetches = cache_layer_fetches.fetches + EXCLUDED.fetches,
            last_fetched_at = GREATEST(cache_layer_fetches.last_fetched_at, EXCLUDED.last_fetched_at)`.execute(this.db);
  }

  /**
   * A cache rewritten from another (retention's pruning) carries its history on: the earlier push
   * time, imports, and the fetches of the layers it kept — so its kept layers are not taken for
   * never used, nor the cache for never imported. Idempotent (LEAST/GREATEST), one transaction.
   * False when either manifest is not an indexed cache of the repository.
   */
  async inherit(repositoryId: number, fromDigest: string, toDigest: string): Promise<boolean> {
    return this.db.transaction().execute(async (tx) => {
      const { rows } = await sql<{ from_id: number; to_id: number }>`
        WITH o AS (
          SELECT c.* FROM cache_entries c JOIN manifests m ON m.id = c.manifest_id
          WHERE m.repository_id = ${repositoryId} AND m.digest = ${fromDigest}
        )
        UPDATE cache_entries c
        SET pushed_at = LEAST(c.pushed_at, o.pushed_at),
            last_imported_at = GREATEST(c.last_imported_at, o.last_imported_at),
            import_count = GREATEST(c.import_count, o.import_count),
            last_importer = coalesce(c.last_importer, o.last_importer)
        FROM o, manifests m
        WHERE m.id = c.manifest_id AND m.repository_id = ${repositoryId} AND m.digest = ${toDigest}
        RETURNING o.id AS from_id, c.id AS to_id`.execute(tx);
      const pair = rows[0];
      if (!pair) return false;
      await sql`
        INSERT INTO cache_layer_fetches (cache_id, digest, fetches, last_fetched_at)
        SELECT ${pair.to_id}, f.digest, f.fetches, f.last_fetched_at FROM cache_layer_fetches f
        WHERE f.cache_id = ${pair.from_id}
          AND EXISTS (SELECT 1 FROM cache_layers l WHERE l.cache_id = ${pair.to_id} AND l.digest = f.digest)
        ON CONFLICT (cache_id, digest) DO UPDATE
          SET fetches = GREATEST(cache_layer_fetches.fetches, EXCLUDED.fetches),
              last_fetched_at = GREATEST(cache_layer_fetches.last_fetched_at, EXCLUDED.last_fetched_at)`.execute(tx);
      return true;
    });
  }

  /**
   * Per tagged cache of the repository: imports, distinct layers and bytes held and fetched, and
   * records with results none of whose result layers was ever fetched.
   */
  async usage(repositoryId: number): Promise<CacheUsageRow[]> {
    const { rows } = await sql<CacheUsageRow>`
      WITH layers AS (
        SELECT DISTINCT l.cache_id, l.digest, coalesce(l.size, 0) AS size, (f.digest IS NOT NULL) AS fetched
        FROM cache_layers l JOIN cache_entries c ON c.id = l.cache_id
        LEFT JOIN cache_layer_fetches f ON f.cache_id = l.cache_id AND f.digest = l.digest
        WHERE c.repository_id = ${repositoryId}
      )
      SELECT r.name AS repository, t.name AS tag, m.digest AS manifest_digest, c.import_count, c.last_imported_at,
        (SELECT count(*) FROM layers x WHERE x.cache_id = c.id)::bigint AS layers_held,
        (SELECT coalesce(sum(x.size), 0) FROM layers x WHERE x.cache_id = c.id)::bigint AS bytes_held,
        (SELECT count(*) FROM layers x WHERE x.cache_id = c.id AND x.fetched)::bigint AS layers_fetched,
        (SELECT coalesce(sum(x.size), 0) FROM layers x WHERE x.cache_id = c.id AND x.fetched)::bigint AS bytes_fetched,
        c.record_count AS records,
        (SELECT count(*) FROM cache_records rec
         WHERE rec.cache_id = c.id AND jsonb_array_length(rec.results) > 0
           AND NOT EXISTS (
             SELECT 1 FROM jsonb_array_elements_text(rec.results) AS res (position)
             JOIN cache_layers l ON l.cache_id = c.id AND l.position = res.position::int
             JOIN cache_layer_fetches f ON f.cache_id = c.id AND f.digest = l.digest))::bigint AS records_never_used
      FROM cache_entries c
      JOIN tags t ON t.manifest_id = c.manifest_id
      JOIN manifests m ON m.id = c.manifest_id
      JOIN repositories r ON r.id = c.repository_id
      WHERE c.repository_id = ${repositoryId}
      ORDER BY t.name COLLATE "C"`.execute(this.db);
    return rows;
  }
}
