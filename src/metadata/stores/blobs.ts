import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../schema.js';

export interface BlobRow {
  digest: string;
  size: number;
}

/** What `unlinkUnreferenced` did. */
export type UnlinkOutcome =
  | { kind: 'unlinked' }
  | { kind: 'absent' }
  | {
      kind: 'referenced';
      /** One manifest of the repository that references the blob (a tagged one when there is). */
      manifest: string;
      /** A tag that reaches it: its own, else one of an index that lists it; null when untagged. */
      tag: string | null;
      /** How many manifests of the repository reference the blob. */
      manifests: number;
    };

/** Committed blobs and their links to repositories. */
export class BlobStoreMetadata {
  constructor(private readonly db: Kysely<Database>) {}

  async find(digest: string): Promise<BlobRow | undefined> {
    return this.db.selectFrom('blobs').select(['digest', 'size']).where('digest', '=', digest).executeTakeFirst();
  }

  /** The blob as seen from one repository: only linked blobs exist there. */
  async findInRepository(repositoryId: number, digest: string): Promise<BlobRow | undefined> {
    return this.db
      .selectFrom('repository_blobs as rb')
      .innerJoin('blobs as b', 'b.digest', 'rb.blob_digest')
      .select(['b.digest', 'b.size'])
      .where('rb.repository_id', '=', repositoryId)
      .where('rb.blob_digest', '=', digest)
      .executeTakeFirst();
  }

  /** Repositories the blob is linked in, most recently linked first (at most `limit`). */
  async repositoriesLinking(digest: string, limit: number): Promise<{ id: number; name: string }[]> {
    return this.db
      .selectFrom('repository_blobs as rb')
      .innerJoin('repositories as r', 'r.id', 'rb.repository_id')
      .select(['r.id', 'r.name'])
      .where('rb.blob_digest', '=', digest)
      .orderBy('rb.created_at', 'desc')
      .limit(limit)
      .execute();
  }

  /** Records a committed blob (idempotent) and links it to the repository. */
  async addToRepository(repositoryId: number, digest: string, size: number): Promise<void> {
    await sql`WITH ${recordAndLink(repositoryId, digest, size)} SELECT 1`.execute(this.db);
  }

  /**
   * Links a recorded blob to the repository (a mount), or refreshes the link's time; false when
   * there is no such blob. The blob row is read FOR KEY SHARE first, so garbage collection either
   * deleted it before (false) or cannot delete it until this link is committed (src/gc/index.ts).
   */
  async link(repositoryId: number, digest: string): Promise<boolean> {
    const result = await sql`
      INSERT INTO repository_blobs (repository_id, blob_digest)
      SELECT ${repositoryId}, digest FROM blobs WHERE digest = ${digest} FOR KEY SHARE
      ON CONFLICT (repository_id, blob_digest) DO UPDATE SET created_at = now()`.execute(this.db);
    return Number(result.numAffectedRows ?? 0) > 0;
  }

  /**
   * Removes the repository's link whatever uses it; the bytes stay until garbage collection.
   * The registry's DELETE uses `unlinkUnreferenced`, which keeps images whole.
   */
  async unlink(repositoryId: number, digest: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('repository_blobs')
      .where('repository_id', '=', repositoryId)
      .where('blob_digest', '=', digest)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /**
   * Removes the repository's link unless a manifest of the repository references the blob; the
   * bytes stay until garbage collection. Race-free against a manifest push that references the
   * blob: the link is locked FOR UPDATE first, which waits for a push holding its KEY SHARE lock
   * (`ManifestStore.insert`) to commit — so the check below, a new statement with a new snapshot
   * under READ COMMITTED, sees that push's manifest — and makes a later push wait, then find the
   * link gone and store nothing. Must not be called inside another transaction.
   */
  async unlinkUnreferenced(repositoryId: number, digest: string): Promise<UnlinkOutcome> {
    return this.db.transaction().execute(async (tx) => {
      const link = await tx
        .selectFrom('repository_blobs')
        .select('blob_digest')
        .where('repository_id', '=', repositoryId)
        .where('blob_digest', '=', digest)
        .forUpdate()
        .executeTakeFirst();
      if (!link) return { kind: 'absent' };
      const user = await referencingManifest(tx, repositoryId, digest);
      if (user) return { kind: 'referenced', ...user, manifests: Number(user.manifests) };
      await tx.deleteFrom('repository_blobs').where('repository_id', '=', repositoryId).where('blob_digest', '=', digest).execute();
      return { kind: 'unlinked' };
    });
  }

  /** Which of `digests` are linked to the repository. */
  async linkedAmong(repositoryId: number, digests: readonly string[]): Promise<Set<string>> {
    if (digests.length === 0) return new Set();
    const rows = await this.db
      .selectFrom('repository_blobs')
      .select('blob_digest')
      .where('repository_id', '=', repositoryId)
      .where('blob_digest', 'in', digests)
      .execute();
    return new Set(rows.map((r) => r.blob_digest));
  }
}

/**
 * Common table expressions that record a committed blob (idempotent) and link it to a repository,
 * for statements that do this and more in one round trip. (The link's foreign key is checked at
 * the end of the statement, when the blob row is there.)
 */
export function recordAndLink(repositoryId: number, digest: string, size: number): RawBuilder<unknown> {
  return sql`
    recorded AS (
      INSERT INTO blobs (digest, size) VALUES (${digest}, ${size}) ON CONFLICT (digest) DO NOTHING
    ), linked AS (
      INSERT INTO repository_blobs (repository_id, blob_digest) VALUES (${repositoryId}, ${digest})
      -- A re-upload refreshes the link: garbage collection spares blobs linked within its review delay.
      ON CONFLICT (repository_id, blob_digest) DO UPDATE SET created_at = now()
    )`;
}

/**
 * A manifest of the repository that references the blob (config, layer, or a blob entry of a
 * legacy cache index), preferring one reachable by a tag. Uses manifest_blobs_blob_digest_idx.
 */
async function referencingManifest(
  db: Kysely<Database>,
  repositoryId: number,
  digest: string,
): Promise<{ manifest: string; tag: string | null; manifests: number } | undefined> {
  const { rows } = await sql<{ manifest: string; tag: string | null; manifests: number }>`
    SELECT manifest, tag, manifests FROM (
      SELECT m.digest AS manifest,
             COALESCE(
               (SELECT t.name FROM tags t WHERE t.manifest_id = m.id ORDER BY t.name LIMIT 1),
               (SELECT t.name FROM manifest_references r JOIN tags t ON t.manifest_id = r.parent_id
                WHERE r.child_id = m.id ORDER BY t.name LIMIT 1)
             ) AS tag,
             count(*) OVER () AS manifests
      FROM manifest_blobs mb
      JOIN manifests m ON m.id = mb.manifest_id
      WHERE mb.blob_digest = ${digest} AND m.repository_id = ${repositoryId}
    ) AS users
    ORDER BY tag IS NULL, tag, manifest
    LIMIT 1`.execute(db);
  return rows[0];
}
