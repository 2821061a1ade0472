import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface PermissionRow {
  id: number;
  account_id: number | null;
  account_name: string | null;
  pattern: string;
  actions: string[];
  created_at: Date;
}

/** Grants of actions on repository patterns, to an account or (account NULL) to anonymous callers. */
export class PermissionStore {
  constructor(private readonly db: Kysely<Database>) {}

  private base() {
    return this.db
      .selectFrom('permissions as p')
      .leftJoin('accounts as a', 'a.id', 'p.account_id')
      .select(['p.id', 'p.account_id', 'a.name as account_name', 'p.pattern', 'p.actions', 'p.created_at']);
  }

  async find(id: number): Promise<PermissionRow | undefined> {
    return this.base().where('p.id', '=', id).executeTakeFirst();
  }

  async list(): Promise<PermissionRow[]> {
    return this.base().orderBy('p.id').execute();
  }

  /** Grants that apply to the account (its own and the anonymous ones), or to anonymous callers. */
  async forAccount(accountId: number | null): Promise<PermissionRow[]> {
    let query = this.base();
    query =
      accountId === null
        ? query.where('p.account_id', 'is', null)
        : query.where((eb) => eb.or([eb('p.account_id', '=', accountId), eb('p.account_id', 'is', null)]));
    return query.execute();
  }

  /** Grants (or replaces) the actions of an account on a pattern. */
  async grant(accountId: number | null, pattern: string, actions: string[]): Promise<PermissionRow> {
    const row = await this.db
      .insertInto('permissions')
      .values({ account_id: accountId, pattern, actions })
      .onConflict((oc) => oc.columns(['account_id', 'pattern']).doUpdateSet({ actions }))
      .returning('id')
      .executeTakeFirstOrThrow();
    return (await this.base().where('p.id', '=', row.id).executeTakeFirstOrThrow()) as PermissionRow;
  }

  async revoke(id: number): Promise<boolean> {
    const result = await this.db.deleteFrom('permissions').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }
}
