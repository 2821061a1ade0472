import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { namePageQuery, toNamePage, type NamePage } from './name-page.js';

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

  /**
   * Up to `limit` repository names after `last`, in byte order (catalog pagination): the column is
   * C-collated, so its unique index serves the range and the order.
   */
  async listNames(limit: number, last?: string): Promise<string[]> {
    return (await this.names(limit, last).execute()).map((r) => r.name);
  }

  /** The same page as `listNames`, as JSON built by the database (see name-page.ts). */
  async page(limit: number, last?: string): Promise<NamePage> {
    const { rows } = await namePageQuery(this.names(limit + 1, last), limit).execute(this.db);
    return toNamePage(rows[0]);
  }

  private names(limit: number, last?: string) {
    const names = this.db.selectFrom('repositories').select('name').orderBy('name').limit(limit);
    return last === undefined ? names : names.where('name', '>', last);
  }
}
