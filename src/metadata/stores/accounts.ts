import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface AccountRow {
  id: number;
  name: string;
  kind: 'user' | 'robot';
  secret_hash: string;
  is_admin: boolean;
  disabled: boolean;
  description: string | null;
  created_at: Date;
}

export interface PatRow {
  id: number;
  account_id: number;
  name: string;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  created_at: Date;
}

const ACCOUNT_COLUMNS = ['id', 'name', 'kind', 'secret_hash', 'is_admin', 'disabled', 'description', 'created_at'] as const;
const PAT_COLUMNS = ['id', 'account_id', 'name', 'expires_at', 'revoked_at', 'last_used_at', 'created_at'] as const;

/** Users, robots and their personal access tokens. */
export class AccountStore {
  constructor(private readonly db: Kysely<Database>) {}

  async findByName(name: string): Promise<AccountRow | undefined> {
    return this.db.selectFrom('accounts').select(ACCOUNT_COLUMNS).where('name', '=', name).executeTakeFirst();
  }

  async findById(id: number): Promise<AccountRow | undefined> {
    return this.db.selectFrom('accounts').select(ACCOUNT_COLUMNS).where('id', '=', id).executeTakeFirst();
  }

  async list(kind: 'user' | 'robot'): Promise<AccountRow[]> {
    return this.db.selectFrom('accounts').select(ACCOUNT_COLUMNS).where('kind', '=', kind).orderBy('name').execute();
  }

  async create(account: { name: string; kind: 'user' | 'robot'; secretHash: string; isAdmin: boolean; description?: string | null }): Promise<AccountRow> {
    return this.db
      .insertInto('accounts')
      .values({
        name: account.name,
        kind: account.kind,
        secret_hash: account.secretHash,
        is_admin: account.isAdmin,
        description: account.description ?? null,
      })
      .returning(ACCOUNT_COLUMNS)
      .executeTakeFirstOrThrow();
  }

  async update(id: number, changes: { secretHash?: string; isAdmin?: boolean; disabled?: boolean }): Promise<void> {
    await this.db
      .updateTable('accounts')
      .set({
        ...(changes.secretHash !== undefined ? { secret_hash: changes.secretHash } : {}),
        ...(changes.isAdmin !== undefined ? { is_admin: changes.isAdmin } : {}),
        ...(changes.disabled !== undefined ? { disabled: changes.disabled } : {}),
        updated_at: new Date(),
      })
      .where('id', '=', id)
      .execute();
  }

  async anyAdmin(): Promise<boolean> {
    const row = await this.db
      .selectFrom('accounts')
      .select(sql<number>`1`.as('one'))
      .where('is_admin', '=', true)
      .where('disabled', '=', false)
      .executeTakeFirst();
    return row !== undefined;
  }

  async createToken(accountId: number, name: string, secretHash: string, expiresAt: Date | null): Promise<PatRow> {
    return this.db
      .insertInto('personal_access_tokens')
      .values({ account_id: accountId, name, secret_hash: secretHash, expires_at: expiresAt })
      .returning(PAT_COLUMNS)
      .executeTakeFirstOrThrow();
  }

  async listTokens(accountId: number): Promise<PatRow[]> {
    return this.db.selectFrom('personal_access_tokens').select(PAT_COLUMNS).where('account_id', '=', accountId).orderBy('name').execute();
  }

  /** The account a token secret belongs to, when the token is neither revoked nor expired. */
  async findByTokenHash(secretHash: string, now: Date): Promise<{ account: AccountRow; tokenId: number } | undefined> {
    const token = await this.db
      .selectFrom('personal_access_tokens')
      .select(['id', 'account_id'])
      .where('secret_hash', '=', secretHash)
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]))
      .executeTakeFirst();
    if (!token) return undefined;
    const account = await this.findById(token.account_id);
    return account ? { account, tokenId: token.id } : undefined;
  }

  async touchToken(id: number, at: Date): Promise<void> {
    await this.db.updateTable('personal_access_tokens').set({ last_used_at: at }).where('id', '=', id).execute();
  }

  async revokeToken(accountId: number, name: string, at: Date): Promise<boolean> {
    const result = await this.db
      .updateTable('personal_access_tokens')
      .set({ revoked_at: at })
      .where('account_id', '=', accountId)
      .where('name', '=', name)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }
}
