import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../schema.js';

export interface BlobRow {
  digest: string;
  size: number;
}

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

  /** Removes the repository's link; the bytes stay until garbage collection. */
  async unlink(repositoryId: number, digest: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('repository_blobs')
      .where('repository_id', '=', repositoryId)
      .where('blob_digest', '=', digest)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
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
