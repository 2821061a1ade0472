import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { recordAndLink } from './blobs.js';

export interface UploadSessionRow {
  id: string;
  repository_id: number;
  size: number;
  started_at: Date;
  updated_at: Date;
}

/** Upload sessions, persisted so that a restart or another replica can continue them. */
export class UploadSessionStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(id: string, repositoryId: number): Promise<void> {
    await this.db.insertInto('upload_sessions').values({ id, repository_id: repositoryId, size: 0 }).execute();
  }

  async find(id: string): Promise<UploadSessionRow | undefined> {
    return this.db.selectFrom('upload_sessions').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * Records that the session's upload reached `size` bytes, now. Informational (expiry reads
   * `updated_at`; operators read `size`): the upload's length in blob storage is the authority,
   * and this row may lag behind it by the one chunk a crash interrupted between the two.
   */
  async touch(id: string, size: number): Promise<void> {
    await this.db.updateTable('upload_sessions').set({ size, updated_at: new Date() }).where('id', '=', id).execute();
  }

  /**
   * Ends the session with its blob committed: records the blob, links it to the repository and
   * deletes the session, atomically in one statement.
   */
  async finish(id: string, repositoryId: number, digest: string, size: number): Promise<void> {
    await sql`WITH ${recordAndLink(repositoryId, digest, size)} DELETE FROM upload_sessions WHERE id = ${id}`.execute(this.db);
  }

  async delete(id: string): Promise<void> {
    await this.db.deleteFrom('upload_sessions').where('id', '=', id).execute();
  }

  /** Sessions untouched since `before`, oldest first. */
  async listStale(before: Date, limit: number): Promise<UploadSessionRow[]> {
    return this.db
      .selectFrom('upload_sessions')
      .selectAll()
      .where('updated_at', '<', before)
      .orderBy('updated_at')
      .limit(limit)
      .execute();
  }
}
