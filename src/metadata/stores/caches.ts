import { sql, type Kysely, type Selectable } from 'kysely';
import type { CacheEntriesTable, Database } from '../schema.js';

export interface NewCacheEntry {
  manifestId: number;
  repositoryId: number;
  format: 'image-manifest' | 'index' | 'inline';
  mode: string | null;
  parsed: boolean;
  reason: string | null;
  configDigest: string | null;
  configSize: number | null;
  manifestSize: number;
  recordCount: number;
  layerCount: number;
  totalBytes: number;
  warnings: string[];
  layers: Array<{ digest: string; parent: number; size: number | null; mediaType: string | null; createdAt: string | null; diffId?: string | null }>;
  records: Array<{ digest: string; results: number[]; chains: number[][]; inputs: Array<Array<{ link: number; selector?: string }>> }>;
}

/** A cache entry as listed: its row, plus where it lives and how it is used. */
export type CacheEntryRow = Selectable<CacheEntriesTable> & {
  repository: string;
  manifest_digest: string;
  tag: string | null;
  tag_pushed_at: Date | null;
  import_count: number;
  last_importer: string | null;
};

/** A record found by `findRecords`: where it was found, and its result's layer chain, base first. */
export interface FoundCacheRecord {
  key: string;
  tag: string;
  pushedAt: Date;
  layers: Array<{ digest: string; size: number | null; mediaType: string | null; diffId: string | null; createdAt: string | null }>;
}

export interface CacheSettingsRow {
  branch_pattern: string | null;
  merge_tags: string[];
  fallback_tags: string[];
}

/** The BuildKit cache index (see migrations/0003_buildkit_cache.sql). */
export class CacheStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** Records a cache entry with its layers and records; a re-push of the same manifest is a no-op. */
  async insert(e: NewCacheEntry): Promise<number | undefined> {
    const row = await this.db
      .insertInto('cache_entries')
      .values({
        manifest_id: e.manifestId,
        repository_id: e.repositoryId,
        format: e.format,
        mode: e.mode,
        parsed: e.parsed,
        reason: e.reason,
        config_digest: e.configDigest,
        config_size: e.configSize,
        manifest_size: e.manifestSize,
        record_count: e.recordCount,
        layer_count: e.layerCount,
        total_bytes: e.totalBytes,
        warnings: JSON.stringify(e.warnings),
      })
      .onConflict((oc) => oc.column('manifest_id').doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!row) return undefined;
    await insertChunked(e.layers, (chunk, offset) =>
      this.db
        .insertInto('cache_layers')
        .values(chunk.map((l, i) => ({ cache_id: row.id, position: offset + i, digest: l.digest, parent: l.parent, size: l.size, media_type: l.mediaType, created_at: l.createdAt, diff_id: l.diffId ?? null })))
        .execute(),
    );
    await insertChunked(e.records, (chunk, offset) =>
      this.db
        .insertInto('cache_records')
        .values(chunk.map((r, i) => ({ cache_id: row.id, position: offset + i, digest: r.digest, results: JSON.stringify(r.results), chains: JSON.stringify(r.chains), inputs: JSON.stringify(r.inputs) })))
        .execute(),
    );
    return row.id;
  }

  private entries() {
    return this.db
      .selectFrom('cache_entries as c')
      .innerJoin('manifests as m', 'm.id', 'c.manifest_id')
      .innerJoin('repositories as r', 'r.id', 'c.repository_id')
      .leftJoin('tags as t', 't.manifest_id', 'c.manifest_id')
      .select([
        'c.id', 'c.manifest_id', 'c.repository_id', 'r.name as repository', 'm.digest as manifest_digest', 't.name as tag',
        'c.format', 'c.mode', 'c.parsed', 'c.reason', 'c.config_digest', 'c.config_size', 'c.manifest_size', 'c.record_count',
        'c.layer_count', 'c.total_bytes', 'c.warnings', 'c.pushed_at', 't.pushed_at as tag_pushed_at', 'c.last_imported_at',
        'c.import_count', 'c.last_importer',
      ]);
  }

  /** Tagged caches (one row per tag), of one repository or of all. */
  async listTagged(repositoryId?: number): Promise<CacheEntryRow[]> {
    let query = this.entries().where('t.name', 'is not', null).orderBy('r.name').orderBy(sql`t.name COLLATE "C"`);
    if (repositoryId !== undefined) query = query.where('c.repository_id', '=', repositoryId);
    return (await query.execute()) as CacheEntryRow[];
  }

  async findByTag(repositoryId: number, tag: string): Promise<CacheEntryRow | undefined> {
    return (await this.entries().where('c.repository_id', '=', repositoryId).where('t.name', '=', tag).executeTakeFirst()) as CacheEntryRow | undefined;
  }

  async findByManifest(manifestId: number): Promise<CacheEntryRow | undefined> {
    return (await this.entries().where('c.manifest_id', '=', manifestId).limit(1).executeTakeFirst()) as CacheEntryRow | undefined;
  }

  async layers(cacheId: number) {
    return this.db.selectFrom('cache_layers').selectAll().where('cache_id', '=', cacheId).orderBy('position').execute();
  }

  async records(cacheId: number) {
    return this.db.selectFrom('cache_records').selectAll().where('cache_id', '=', cacheId).orderBy('position').execute();
  }

  /** Layer digests and sizes of every tagged cache in the repository, for shared/unique bytes. */
  async taggedLayers(repositoryId: number): Promise<Array<{ cache_id: number; digest: string; size: number | null }>> {
    return this.db
      .selectFrom('cache_layers as l')
      .innerJoin('cache_entries as c', 'c.id', 'l.cache_id')
      .select(['l.cache_id', 'l.digest', 'l.size'])
      .where('c.repository_id', '=', repositoryId)
      .where((eb) => eb.exists(eb.selectFrom('tags as t').select('t.name').whereRef('t.manifest_id', '=', 'c.manifest_id')))
      .execute();
  }

  /** Ids of caches in the repository whose import fetches `configDigest`. */
  async idsByConfig(repositoryId: number, configDigest: string): Promise<number[]> {
    const rows = await this.db
      .selectFrom('cache_entries')
      .select('id')
      .where('repository_id', '=', repositoryId)
      .where('config_digest', '=', configDigest)
      .execute();
    return rows.map((r) => r.id);
  }

  async recordImports(ids: number[], count: number, at: Date, importer: string | null): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .updateTable('cache_entries')
      .set((eb) => ({
        import_count: eb('import_count', '+', count),
        last_imported_at: sql<Date>`GREATEST(last_imported_at, ${at})`,
        last_importer: importer,
      }))
      .where('id', 'in', ids)
      .execute();
  }

  /** Every cacheconfig digest known to the index (imports are recognised by it). */
  async configDigests(): Promise<Array<{ repository_id: number; config_digest: string | null }>> {
    return this.db.selectFrom('cache_entries').select(['repository_id', 'config_digest']).where('config_digest', 'is not', null).distinct().execute();
  }

  /**
   * Records whose digest is one of `keys`, among the caches `tags` point at in the repository:
   * the first hit per key in `tags` order, each with its first result's layer chain (base first,
   * followed through `parent`). One statement: the build engine runs it once per stage, so a
   * fully cached build costs a query per stage. Uses cache_records_digest_idx (migration 0014).
   */
  async findRecords(repositoryId: number, tags: readonly string[], keys: readonly string[]): Promise<FoundCacheRecord[]> {
    if (tags.length === 0 || keys.length === 0) return [];
    const { rows } = await findRecordsStatement(repositoryId, tags, keys).execute(this.db);
    const found = new Map<string, FoundCacheRecord>();
    for (const row of rows) {
      let record = found.get(row.key);
      if (!record) found.set(row.key, (record = { key: row.key, tag: row.tag, pushedAt: new Date(row.pushed_at), layers: [] }));
      if (row.digest === null) continue;
      const size = row.size === null ? null : Number(row.size);
      record.layers.push({ digest: row.digest, size, mediaType: row.media_type, diffId: row.diff_id, createdAt: row.created_at });
    }
    return [...found.values()];
  }

  async settings(repositoryId: number): Promise<CacheSettingsRow | undefined> {
    return this.db
      .selectFrom('cache_settings')
      .select(['branch_pattern', 'merge_tags', 'fallback_tags'])
      .where('repository_id', '=', repositoryId)
      .executeTakeFirst();
  }

  async saveSettings(repositoryId: number, s: CacheSettingsRow): Promise<void> {
    await this.db
      .insertInto('cache_settings')
      .values({ repository_id: repositoryId, ...s })
      .onConflict((oc) => oc.column('repository_id').doUpdateSet({ ...s, updated_at: new Date() }))
      .execute();
  }
}

/**
 * The statement behind `CacheStore.findRecords` (exported so tests can EXPLAIN it on both
 * databases: it must use cache_records_digest_idx).
 */
export function findRecordsStatement(repositoryId: number, tags: readonly string[], keys: readonly string[]) {
  return sql<{
    key: string; tag: string; pushed_at: Date; depth: number | null;
    digest: string | null; size: string | number | null; media_type: string | null; diff_id: string | null; created_at: string | null;
  }>`
    WITH RECURSIVE hit AS (
      SELECT DISTINCT ON (r.digest) r.digest AS key, t.name AS tag, t.pushed_at, c.id AS cache_id,
             (r.results ->> 0)::int AS top
      FROM cache_records r
      JOIN cache_entries c ON c.id = r.cache_id
      JOIN tags t ON t.manifest_id = c.manifest_id AND t.repository_id = c.repository_id
      WHERE r.digest = ANY(${[...keys]}::text[]) AND c.repository_id = ${repositoryId}
        AND c.parsed AND t.name = ANY(${[...tags]}::text[])
      ORDER BY r.digest, array_position(${[...tags]}::text[], t.name)
    ), chain AS (
      SELECT h.key, h.cache_id, l.parent, l.digest, l.size, l.media_type, l.diff_id, l.created_at, 0 AS depth
      FROM hit h JOIN cache_layers l ON l.cache_id = h.cache_id AND l.position = h.top
      UNION ALL
      SELECT ch.key, ch.cache_id, l.parent, l.digest, l.size, l.media_type, l.diff_id, l.created_at, ch.depth + 1
      FROM chain ch JOIN cache_layers l ON l.cache_id = ch.cache_id AND l.position = ch.parent
      WHERE ch.parent >= 0 AND ch.depth < ${MAX_CHAIN}
    )
    SELECT h.key, h.tag, h.pushed_at, ch.depth, ch.digest, ch.size, ch.media_type, ch.diff_id, ch.created_at
    FROM hit h LEFT JOIN chain ch ON ch.key = h.key
    ORDER BY h.key, ch.depth DESC`;
}

/** Longest layer chain followed (a loop in a hand-made cacheconfig stops here). */
const MAX_CHAIN = 1000;

/** Inserts in chunks: one statement per ~1000 rows keeps parameters under PostgreSQL's limit. */
async function insertChunked<T>(rows: T[], insert: (chunk: T[], offset: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < rows.length; i += 1000) await insert(rows.slice(i, i + 1000), i);
}
