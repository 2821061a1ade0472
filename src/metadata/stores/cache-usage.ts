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
