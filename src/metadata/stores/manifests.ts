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
   * Stores a manifest with its references. Pushing the same bytes again is a no-op that returns
   * the existing id (digest equality means identical content).
   */
  async insert(m: NewManifest): Promise<number> {
    const inserted = await this.db
      .insertInto('manifests')
      .values({
        repository_id: m.repositoryId,
        digest: m.digest,
        media_type: m.mediaType,
        artifact_type: m.artifactType,
        config_digest: m.configDigest,
        config_media_type: m.configMediaType,
        subject_digest: m.subjectDigest,
        annotations: m.annotations ? JSON.stringify(m.annotations) : null,
        size: m.payload.byteLength,
        payload: m.payload,
      })
      .onConflict((oc) => oc.columns(['repository_id', 'digest']).doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!inserted) {
      const existing = await this.findByDigest(m.repositoryId, m.digest);
      if (!existing) throw new Error(`manifest ${m.digest} vanished during insert`);
      return existing.id;
    }
    await this.addReferences(inserted.id, m.blobDigests, m.childManifestIds);
    return inserted.id;
  }

  private async addReferences(id: number, blobs: readonly string[], children: readonly number[]): Promise<void> {
    const uniqueBlobs = [...new Set(blobs)];
    if (uniqueBlobs.length > 0) {
      await this.db.insertInto('manifest_blobs').values(uniqueBlobs.map((d) => ({ manifest_id: id, blob_digest: d }))).execute();
    }
    const uniqueChildren = [...new Set(children)].filter((c) => c !== id);
    if (uniqueChildren.length > 0) {
      await this.db
        .insertInto('manifest_references')
        .values(uniqueChildren.map((c) => ({ parent_id: id, child_id: c })))
        .execute();
    }
  }

  /** Deletes the manifest; its tags and references go with it (cascade). */
  async delete(id: number): Promise<void> {
    await this.db.deleteFrom('manifests').where('id', '=', id).execute();
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
