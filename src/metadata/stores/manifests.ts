import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface ManifestRow {
  id: number;
  digest: string;
  media_type: string;
  size: number;
  payload: Uint8Array;
}

export interface ManifestSummary {
  id: number;
  digest: string;
  media_type: string;
  size: number;
  artifact_type: string | null;
  annotations: Record<string, string> | null;
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
   */
  async insert(m: NewManifest, tag?: string): Promise<number> {
    // A concurrent first push of the same manifest commits after this statement's snapshot was
    // taken: ON CONFLICT then skips the insert, yet the row is not visible to it. The next
    // statement sees it.
    for (let attempt = 0; attempt < 2; attempt++) {
      const { rows } = await this.insertStatement(m, tag ?? null).execute(this.db);
      if (rows[0]) return rows[0].id;
    }
    throw new Error(`manifest ${m.digest} vanished during insert`);
  }

  private insertStatement(m: NewManifest, tag: string | null) {
    const annotations = m.annotations ? JSON.stringify(m.annotations) : null;
    const blobs = [...new Set(m.blobDigests)];
    const children = [...new Set(m.childManifestIds)];
    return sql<{ id: number }>`
      WITH inserted AS (
        INSERT INTO manifests (repository_id, digest, media_type, artifact_type, config_digest,
                               config_media_type, subject_digest, annotations, size, payload)
        VALUES (${m.repositoryId}, ${m.digest}, ${m.mediaType}, ${m.artifactType}, ${m.configDigest},
                ${m.configMediaType}, ${m.subjectDigest}, ${annotations}::jsonb, ${m.payload.byteLength}, ${m.payload})
        ON CONFLICT (repository_id, digest) DO NOTHING
        RETURNING id
      ), manifest AS (
        SELECT id FROM inserted
        UNION ALL
        SELECT id FROM manifests
        WHERE repository_id = ${m.repositoryId} AND digest = ${m.digest} AND NOT EXISTS (SELECT 1 FROM inserted)
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
      SELECT id FROM manifest`;
  }

  /** Deletes the manifest; its tags and references go with it (cascade). */
  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('manifests').where('id', '=', id).execute();
  }

  /**
   * Deletes the manifest only if no tag and no index points at it — checked in the same
   * statement, so a tag pushed meanwhile keeps it.
   */
  async deleteIfUnreferenced(id: number): Promise<boolean> {
    const result = await this.db
      .deleteFrom('manifests')
      .where('id', '=', id)
      .where((eb) => eb.not(eb.exists(eb.selectFrom('tags').select('name').where('manifest_id', '=', id))))
      .where((eb) => eb.not(eb.exists(eb.selectFrom('manifest_references').select('parent_id').where('child_id', '=', id))))
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Manifests in the repository whose subject is `digest`, optionally of one artifact type. */
  async referrers(repositoryId: number, subjectDigest: string, artifactType?: string): Promise<ManifestSummary[]> {
    let query = this.db
      .selectFrom('manifests')
      .select(['id', 'digest', 'media_type', 'size', 'artifact_type', 'annotations'])
      .where('repository_id', '=', repositoryId)
      .where('subject_digest', '=', subjectDigest)
      .orderBy('digest');
    if (artifactType !== undefined) query = query.where('artifact_type', '=', artifactType);
    return query.execute();
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
