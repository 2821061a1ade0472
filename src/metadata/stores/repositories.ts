import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface RepositoryRow {
  id: number;
  name: string;
}

/** Repositories exist once something is pushed to them. */
export class RepositoryStore {
  constructor(private readonly db: Kysely<Database>) {}

  async findByName(name: string): Promise<RepositoryRow | undefined> {
    return this.db.selectFrom('repositories').select(['id', 'name']).where('name', '=', name).executeTakeFirst();
  }

  /** Returns the repository, creating it on first push. Safe under concurrent pushes. */
  async findOrCreate(name: string): Promise<RepositoryRow> {
    const existing = await this.findByName(name);
    if (existing) return existing;
    await this.db.insertInto('repositories').values({ name }).onConflict((oc) => oc.column('name').doNothing()).execute();
    const created = await this.findByName(name);
    if (!created) throw new Error(`repository ${name} vanished during creation`);
    return created;
  }

  /** Names in lexical order after `last`, at most `limit` (catalog pagination). */
  async listNames(limit: number, last?: string): Promise<string[]> {
    // COLLATE "C": byte order whatever the database's default collation is.
    let query = this.db.selectFrom('repositories').select('name').orderBy(sql`name COLLATE "C"`).limit(limit);
    if (last !== undefined) query = query.where(sql<boolean>`name > ${last} COLLATE "C"`);
    return (await query.execute()).map((r) => r.name);
  }
}
