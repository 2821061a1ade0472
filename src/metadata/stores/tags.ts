import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { ManifestRow } from './manifests.js';
import { namePageQuery, toNamePage, type NamePage } from './name-page.js';

export interface TagPulls {
  repositoryId: number;
  tag: string;
  count: number;
  at: Date;
}

export class TagStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** The manifest a tag points at. */
  async findManifest(repositoryId: number, tag: string): Promise<ManifestRow | undefined> {
    return this.db
      .selectFrom('tags as t')
      .innerJoin('manifests as m', 'm.id', 't.manifest_id')
      .select(['m.id', 'm.digest', 'm.media_type', 'm.size', 'm.payload'])
      .where('t.repository_id', '=', repositoryId)
      .where('t.name', '=', tag)
      .executeTakeFirst();
  }

  /** Points the tag at the manifest; a re-push of a tag restamps its push time. */
  async upsert(repositoryId: number, tag: string, manifestId: number): Promise<void> {
    await this.db
      .insertInto('tags')
      .values({ repository_id: repositoryId, name: tag, manifest_id: manifestId })
      .onConflict((oc) =>
        oc.columns(['repository_id', 'name']).doUpdateSet({ manifest_id: manifestId, pushed_at: new Date() }),
      )
      .execute();
  }

  async delete(repositoryId: number, tag: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('tags')
      .where('repository_id', '=', repositoryId)
      .where('name', '=', tag)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /** Deletes the tag only while it still points at `manifestId` (a re-push since is left alone). */
  async deleteIfAt(repositoryId: number, tag: string, manifestId: number): Promise<boolean> {
    const result = await this.db
      .deleteFrom('tags')
      .where('repository_id', '=', repositoryId)
      .where('name', '=', tag)
      .where('manifest_id', '=', manifestId)
      .executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /**
   * Moves the tag from one manifest to another only while it still points at `fromManifestId`
   * (a push since wins). Not a push: the tag keeps its push time and pull counts.
   */
  async moveIfAt(repositoryId: number, tag: string, fromManifestId: number, toManifestId: number): Promise<boolean> {
    const result = await this.db
      .updateTable('tags')
      .set({ manifest_id: toManifestId })
      .where('repository_id', '=', repositoryId)
      .where('name', '=', tag)
      .where('manifest_id', '=', fromManifestId)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  /**
   * Up to `limit` tag names after `last`, in byte order (the spec's lexical order): the column is
   * C-collated, so the primary key (repository_id, name) serves the range and the order.
   */
  async page(repositoryId: number, limit: number, last?: string): Promise<NamePage> {
    let names = this.db.selectFrom('tags').select('name').where('repository_id', '=', repositoryId).orderBy('name').limit(limit + 1);
    if (last !== undefined) names = names.where('name', '>', last);
    const { rows } = await namePageQuery(names, limit).execute(this.db);
    return toNamePage(rows[0]);
  }

  /** Adds pulls counted in memory since the last flush, for many tags in one statement. */
  async recordPulls(pulls: readonly TagPulls[]): Promise<void> {
    if (pulls.length === 0) return;
    await sql`
      UPDATE tags AS t
      SET pull_count = t.pull_count + p.count, last_pulled_at = GREATEST(t.last_pulled_at, p.at)
      FROM unnest(${pulls.map((p) => p.repositoryId)}::bigint[], ${pulls.map((p) => p.tag)}::text[],
                  ${pulls.map((p) => p.count)}::bigint[], ${pulls.map((p) => p.at)}::timestamptz[])
        AS p (repository_id, name, count, at)
      WHERE t.repository_id = p.repository_id AND t.name = p.name`.execute(this.db);
  }
}
