import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface ManifestRow {
  id: number;
  digest: string;
  media_type: string;
  size: number;
  payload: Uint8Array;
}

export interface NewManifest {
  repositoryId: number;
  digest: string;
  mediaType: string;
  artifactType: string | null;
  configDigest: string | null;
  configMediaType: string | null;
  subjectDigest: string | null;
  annotations: Record<string, string> | null;
  payload: Uint8Array;
  blobDigests: readonly string[];
  childManifestIds: readonly number[];
}

/**
 * `ManifestStore.insert` stored nothing: these references are not (or no longer) in the
 * repository — blobs not linked, child manifests deleted.
 */
export class ReferencesMissingError extends Error {
  constructor(
    readonly blobs: readonly string[],
    readonly manifestIds: readonly number[],
  ) {
    super(`references missing from the repository: blobs ${blobs.join(', ') || 'none'}, manifests ${manifestIds.join(', ') || 'none'}`);
    this.name = 'ReferencesMissingError';
  }
}

/** What `deleteUnreferenced` did. */
export type ManifestDeleteOutcome =
  | { kind: 'deleted' }
  | { kind: 'absent' }
  | {
      kind: 'referenced';
      /** An index of the repository that lists the manifest (a tagged one when there is). */
      index: string;
      /** One of that index's tags; null when untagged. */
      tag: string | null;
      /** How many indexes of the repository list the manifest. */
      indexes: number;
    };

export interface ManifestPulls {
  id: number;
  count: number;
  at: Date;
}

export class ManifestStore {
  constructor(private readonly db: Kysely<Database>) {}

  async findByDigest(repositoryId: number, digest: string): Promise<ManifestRow | undefined> {
    return this.db
      .selectFrom('manifests')
      .select(['id', 'digest', 'media_type', 'size', 'payload'])
      .where('repository_id', '=', repositoryId)
      .where('digest', '=', digest)
      .executeTakeFirst();
  }

  /** Ids of the manifests among `digests` that exist in the repository, by digest. */
  async idsByDigest(repositoryId: number, digests: readonly string[]): Promise<Map<string, number>> {
    if (digests.length === 0) return new Map();
    const rows = await this.db
      .selectFrom('manifests')
      .select(['id', 'digest'])
      .where('repository_id', '=', repositoryId)
      .where('digest', 'in', digests)
      .execute();
    return new Map(rows.map((r) => [r.digest, r.id]));
  }

  /**
   * Stores a manifest with its references and, when `tag` is given, points the tag at it — in one
   * statement, so one round trip and atomic without a transaction. Pushing the same bytes again
   * is a no-op that returns the existing id (digest equality means identical content) and still
   * moves the tag.
   *
   * Every blob in `blobDigests` must be linked to the repository, and every child manifest still
   * stored: the statement takes KEY SHARE locks on those rows and stores nothing when one is
   * missing (`ReferencesMissingError`). The locks are what make deletes race-free
   * (`BlobStoreMetadata.unlinkUnreferenced` and `deleteUnreferenced` lock the row FOR UPDATE
   * before looking for what uses it): whichever comes second waits for the first to commit, then
   * sees what it did.
   */
  async insert(m: NewManifest, tag?: string): Promise<number> {
    // A concurrent first push of the same manifest commits after this statement's snapshot was
    // taken: ON CONFLICT then skips the insert, yet the row is not visible to it. The next
    // statement sees it.
    for (let attempt = 0; attempt < 2; attempt++) {
      const { rows } = await this.insertStatement(m, tag ?? null).execute(this.db);
      const row = rows[0]!;
      if (row.unlinked.length > 0 || row.gone.length > 0) throw new ReferencesMissingError(row.unlinked, row.gone.map(Number));
      if (row.id !== null) return row.id;
    }
    throw new Error(`manifest ${m.digest} vanished during insert`);
  }

  private insertStatement(m: NewManifest, tag: string | null) {
    const annotations = m.annotations ? JSON.stringify(m.annotations) : null;
    const blobs = [...new Set(m.blobDigests)];
    const children = [...new Set(m.childManifestIds)];
    return sql<{ id: number | null; unlinked: string[]; gone: Array<number | string> }>`
      WITH linked AS (
        SELECT blob_digest FROM repository_blobs
        WHERE repository_id = ${m.repositoryId} AND blob_digest = ANY(${blobs}::text[])
        FOR KEY SHARE
      ), unlinked AS (
        SELECT digest FROM unnest(${blobs}::text[]) AS digest
        WHERE digest NOT IN (SELECT blob_digest FROM linked)
      ), stored_children AS (
        SELECT id FROM manifests
        WHERE repository_id = ${m.repositoryId} AND id = ANY(${children}::bigint[])
        FOR KEY SHARE
      ), gone AS (
        SELECT child FROM unnest(${children}::bigint[]) AS child
        WHERE child NOT IN (SELECT id FROM stored_children)
      ), complete AS (
        SELECT NOT EXISTS (SELECT 1 FROM unlinked) AND NOT EXISTS (SELECT 1 FROM gone) AS ok
      ), inserted AS (
        INSERT INTO manifests (repository_id, digest, media_type, artifact_type, config_digest,
                               config_media_type, subject_digest, annotations, size, payload)
        SELECT ${m.repositoryId}, ${m.digest}, ${m.mediaType}, ${m.artifactType}, ${m.configDigest},
               ${m.configMediaType}, ${m.subjectDigest}, ${annotations}::jsonb, ${m.payload.byteLength}, ${m.payload}
        WHERE (SELECT ok FROM complete)
        ON CONFLICT (repository_id, digest) DO NOTHING
        RETURNING id
      ), manifest AS (
        SELECT id FROM inserted
        UNION ALL
        SELECT id FROM manifests
        WHERE repository_id = ${m.repositoryId} AND digest = ${m.digest}
          AND NOT EXISTS (SELECT 1 FROM inserted) AND (SELECT ok FROM complete)
      ), blob_references AS (
        INSERT INTO manifest_blobs (manifest_id, blob_digest)
        SELECT inserted.id, digest FROM inserted, unnest(${blobs}::text[]) AS digest
      ), child_references AS (
        INSERT INTO manifest_references (parent_id, child_id)
        SELECT inserted.id, child FROM inserted, unnest(${children}::bigint[]) AS child WHERE child <> inserted.id
      ), tagged AS (
        INSERT INTO tags (repository_id, name, manifest_id)
        SELECT ${m.repositoryId}, ${tag}::text, id FROM manifest WHERE ${tag}::text IS NOT NULL
        -- A re-push of a tag restamps its push time.
        ON CONFLICT (repository_id, name) DO UPDATE SET manifest_id = EXCLUDED.manifest_id, pushed_at = now()
      )
      SELECT (SELECT id FROM manifest) AS id,
             ARRAY(SELECT digest FROM unlinked ORDER BY digest) AS unlinked,
             ARRAY(SELECT child FROM gone ORDER BY child) AS gone`;
  }

  /** Deletes the manifest whatever lists it; its tags and references go with it (cascade). */
  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('manifests').where('id', '=', id).execute();
  }

  /**
   * Retention's delete: the manifest only if it is orphaned — no tag and no index points at it —
   * checked in the same statement, so a tag pushed meanwhile keeps it.
   */
  async deleteIfOrphaned(id: number): Promise<boolean> {
    const result = await this.db
      .deleteFrom('manifests')
      .where('id', '=', id)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('tags').select('name').where('manifest_id', '=', id))))
      .where((eb) => eb.not(eb.exists(eb.selectFrom('manifest_references').select('parent_id').where('child_id', '=', id))))
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /**
   * Deletes the manifest (tags and references go with it) unless an index of the repository
   * lists it. Race-free against an index push that lists it, as `insert` explains: the row is
   * locked FOR UPDATE before the check, a new statement that sees any push committed meanwhile.
   * Must not be called inside another transaction.
   */
  async deleteUnreferenced(id: number): Promise<ManifestDeleteOutcome> {
    return this.db.transaction().execute(async (tx) => {
      const row = await tx.selectFrom('manifests').select('id').where('id', '=', id).forUpdate().executeTakeFirst();
      if (!row) return { kind: 'absent' };
      const { rows } = await sql<{ index: string; tag: string | null; indexes: number }>`
        SELECT "index", tag, indexes FROM (
          SELECT p.digest AS "index",
                 (SELECT t.name FROM tags t WHERE t.manifest_id = p.id ORDER BY t.name LIMIT 1) AS tag,
                 count(*) OVER () AS indexes
          FROM manifest_references r JOIN manifests p ON p.id = r.parent_id
          WHERE r.child_id = ${id}
        ) AS parents
        ORDER BY tag IS NULL, tag, "index"
        LIMIT 1`.execute(tx);
      if (rows[0]) return { kind: 'referenced', ...rows[0], indexes: Number(rows[0].indexes) };
      await tx.deleteFrom('manifests').where('id', '=', id).execute();
      return { kind: 'deleted' };
    });
  }

  /**
   * The referrers of `subjectDigest` in the repository (optionally of one artifact type) as the
   * referrers API lists them: a JSON array of OCI descriptors (`mediaType`, `digest`, `size`, and
   * `artifactType` and `annotations` when set), in digest byte order through
   * manifests_referrers_idx, built by the database as one string.
   */
  async referrers(repositoryId: number, subjectDigest: string, artifactType?: string): Promise<string> {
    let referrers = this.db
      .selectFrom('manifests')
      .select(['digest', sql`json_strip_nulls(json_build_object('mediaType', media_type, 'digest', digest, 'size', size,
        'artifactType', NULLIF(artifact_type, ''), 'annotations', annotations))`.as('descriptor')])
      .where('repository_id', '=', repositoryId)
      .where('subject_digest', '=', subjectDigest);
    if (artifactType !== undefined) referrers = referrers.where('artifact_type', '=', artifactType);
    const { rows } = await sql<{ json: string }>`
      SELECT coalesce(json_agg(descriptor ORDER BY digest COLLATE "C")::text, '[]') AS json
      FROM (${referrers}) AS referrers`.execute(this.db);
    return rows[0]!.json;
  }

  /** Adds pulls counted in memory since the last flush, for many manifests in one statement. */
  async recordPulls(pulls: readonly ManifestPulls[]): Promise<void> {
    if (pulls.length === 0) return;
    // GREATEST: flushes from several replicas may arrive out of order.
    await sql`
      UPDATE manifests AS m
      SET pull_count = m.pull_count + p.count, last_pulled_at = GREATEST(m.last_pulled_at, p.at)
      FROM unnest(${pulls.map((p) => p.id)}::bigint[], ${pulls.map((p) => p.count)}::bigint[],
                  ${pulls.map((p) => p.at)}::timestamptz[]) AS p (id, count, at)
      WHERE m.id = p.id`.execute(this.db);
  }
}
