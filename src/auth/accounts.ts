/**
 * Accounts: users (password), robots (generated secret, shown once) and personal access tokens.
 * `verify` is the one place a secret is checked; it is constant-time in every branch and spends
 * the same scrypt work for unknown names as for known ones, so timing does not reveal accounts.
 */
import type { Metadata } from '../metadata/stores/index.js';
import type { AccountRow, PatRow } from '../metadata/stores/accounts.js';
import { passwordProblem } from './password-policy.js';
import { generateSecret, hashPassword, hashSecret, secretMatches, verifyPassword } from './secrets.js';

/** The audit record of `ensureAdmin`'s outcome, the same wherever Cairn makes that change itself. */
export function ensureAdminChange(outcome: 'created' | 'reset'): { action: string; details: Record<string, unknown> } {
  return outcome === 'created'
    ? { action: 'user.create', details: { admin: true } }
    : { action: 'user.update', details: { passwordChanged: true, admin: true, disabled: false } };
}

export const ACCOUNT_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const PAT_PREFIX = 'cairn_pat_';
// A real scrypt hash of a random password: verifying against it costs what a real check costs.
let decoyHash: Promise<string> | undefined;

/** What went wrong with an account change, named after the fact; src/http/admin/errors.ts maps each to the wire. */
export type AccountErrorKind =
  | 'account_name_invalid'
  | 'password_invalid'
  | 'robot_password'
  | 'token_name_invalid'
  | 'token_expiry_invalid'
  | 'account_exists'
  | 'token_exists'
  | 'account_not_found'
  | 'token_not_found';

export class AccountError extends Error {
  constructor(
    readonly kind: AccountErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'AccountError';
  }
}

export interface Account {
  readonly id: number;
  readonly name: string;
  readonly kind: 'user' | 'robot';
  readonly isAdmin: boolean;
  readonly disabled: boolean;
  readonly description: string | null;
  readonly createdAt: Date;
}

export type VerifyResult = { ok: true; account: Account; via: 'password' | 'robot' | 'token' } | { ok: false; reason: 'unknown' | 'mismatch' | 'disabled' };

export class AccountService {
  constructor(
    private readonly metadata: Metadata,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async verify(name: string, secret: string): Promise<VerifyResult> {
    const { accounts } = this.metadata.stores;
    if (secret.startsWith(PAT_PREFIX)) {
      const found = await accounts.findByTokenHash(hashSecret(secret), this.now());
      if (!found || found.account.name !== name) return { ok: false, reason: found ? 'mismatch' : 'unknown' };
      if (found.account.disabled) return { ok: false, reason: 'disabled' };
      await accounts.touchToken(found.tokenId, this.now());
      return { ok: true, account: toAccount(found.account), via: 'token' };
    }
    const row = await accounts.findByName(name);
    if (!row) {
      await verifyPassword(secret, await (decoyHash ??= hashPassword(generateSecret('pat'))));
      return { ok: false, reason: 'unknown' };
    }
    const matches = row.kind === 'robot' ? secretMatches(secret, row.secret_hash) : await verifyPassword(secret, row.secret_hash);
    if (!matches) return { ok: false, reason: 'mismatch' };
    if (row.disabled) return { ok: false, reason: 'disabled' };
    return { ok: true, account: toAccount(row), via: row.kind === 'robot' ? 'robot' : 'password' };
  }

  async find(name: string): Promise<Account | undefined> {
    const row = await this.metadata.stores.accounts.findByName(name);
    return row ? toAccount(row) : undefined;
  }

  async list(kind: 'user' | 'robot'): Promise<Account[]> {
    return (await this.metadata.stores.accounts.list(kind)).map(toAccount);
  }

  async createUser(name: string, password: string, isAdmin: boolean): Promise<Account> {
    checkName(name);
    checkPassword(password);
    await this.ensureFree(name);
    const row = await this.metadata.stores.accounts.create({ name, kind: 'user', secretHash: await hashPassword(password), isAdmin });
    return toAccount(row);
  }

  /** Creates a robot account; the secret is returned once and stored only as a hash. */
  async createRobot(name: string, description: string | null): Promise<{ account: Account; secret: string }> {
    checkName(name);
    await this.ensureFree(name);
    const secret = generateSecret('robot');
    const row = await this.metadata.stores.accounts.create({ name, kind: 'robot', secretHash: hashSecret(secret), isAdmin: false, description });
    return { account: toAccount(row), secret };
  }

  async rotateRobotSecret(name: string): Promise<string> {
    const account = await this.require(name, 'robot');
    const secret = generateSecret('robot');
    await this.metadata.stores.accounts.update(account.id, { secretHash: hashSecret(secret) });
    return secret;
  }

  async update(name: string, changes: { password?: string; isAdmin?: boolean; disabled?: boolean }): Promise<Account> {
    const account = await this.require(name);
    if (changes.password !== undefined) {
      if (account.kind !== 'user') throw new AccountError('robot_password', 'robots have generated secrets: rotate instead');
      checkPassword(changes.password);
    }
    await this.metadata.stores.accounts.update(account.id, {
      secretHash: changes.password !== undefined ? await hashPassword(changes.password) : undefined,
      isAdmin: changes.isAdmin,
      disabled: changes.disabled,
    });
    return (await this.find(name))!;
  }

  /** Creates the admin user `name`, or resets its password and re-enables it. */
  async ensureAdmin(name: string, password: string): Promise<'created' | 'reset'> {
    const existing = await this.find(name);
    if (!existing) {
      await this.createUser(name, password, true);
      return 'created';
    }
    await this.update(name, { password, isAdmin: true, disabled: false });
    return 'reset';
  }

  async createToken(accountName: string, tokenName: string, expiresAt: Date | null): Promise<{ token: PatRow; secret: string }> {
    const account = await this.require(accountName);
    if (!ACCOUNT_NAME.test(tokenName)) throw new AccountError('token_name_invalid', 'token names use a-z, 0-9, ".", "_", "-"');
    if (expiresAt && expiresAt <= this.now()) throw new AccountError('token_expiry_invalid', 'expiry must be in the future');
    const existing = await this.metadata.stores.accounts.listTokens(account.id);
    if (existing.some((t) => t.name === tokenName)) throw new AccountError('token_exists', `token "${tokenName}" exists`);
    const secret = generateSecret('pat');
    const token = await this.metadata.stores.accounts.createToken(account.id, tokenName, hashSecret(secret), expiresAt);
    return { token, secret };
  }

  async listTokens(accountName: string): Promise<PatRow[]> {
    const account = await this.require(accountName);
    return this.metadata.stores.accounts.listTokens(account.id);
  }

  async revokeToken(accountName: string, tokenName: string): Promise<void> {
    const account = await this.require(accountName);
    if (!(await this.metadata.stores.accounts.revokeToken(account.id, tokenName, this.now()))) {
      throw new AccountError('token_not_found', `no active token "${tokenName}"`);
    }
  }

  async require(name: string, kind?: 'user' | 'robot'): Promise<Account> {
    const account = await this.find(name);
    if (!account || (kind && account.kind !== kind)) throw new AccountError('account_not_found', `no ${kind ?? 'account'} named "${name}"`);
    return account;
  }

  private async ensureFree(name: string): Promise<void> {
    if (await this.find(name)) throw new AccountError('account_exists', `account "${name}" already exists`);
  }
}

function checkName(name: string): void {
  if (!ACCOUNT_NAME.test(name)) throw new AccountError('account_name_invalid', 'account names are 1-63 of a-z, 0-9, ".", "_", "-", starting with a letter or digit');
}

function checkPassword(password: string): void {
  const problem = passwordProblem(password);
  if (problem) throw new AccountError('password_invalid', `password ${problem}`);
}

function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    isAdmin: row.is_admin,
    disabled: row.disabled,
    description: row.description,
    createdAt: row.created_at,
  };
}
