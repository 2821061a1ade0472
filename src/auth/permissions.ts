/**
 * Grants of actions on repository patterns, as the admin API changes them: the pattern is checked
 * against the grammar of patterns.ts and the account must exist before anything is written.
 */
import type { Metadata } from '../metadata/stores/index.js';
import type { PermissionRow } from '../metadata/stores/permissions.js';
import type { AccountService } from './accounts.js';
import { isValidPattern } from './patterns.js';

export type PermissionErrorKind = 'pattern_invalid' | 'grantee_ambiguous' | 'permission_not_found';

export class PermissionError extends Error {
  constructor(
    readonly kind: PermissionErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'PermissionError';
  }
}

export type Permission = PermissionRow;

export class PermissionService {
  constructor(
    private readonly metadata: Metadata,
    private readonly accounts: AccountService,
  ) {}

  async list(): Promise<Permission[]> {
    return this.metadata.stores.permissions.list();
  }

  /** Grants (or replaces) the actions on a pattern of one account, or of every caller without credentials. */
  async grant(grantee: { account?: string; anonymous?: boolean }, pattern: string, actions: string[]): Promise<Permission> {
    if (!isValidPattern(pattern)) throw new PermissionError('pattern_invalid', `invalid repository pattern "${pattern}"`);
    if (Boolean(grantee.account) === Boolean(grantee.anonymous)) throw new PermissionError('grantee_ambiguous', 'give either "account" or "anonymous": true');
    const accountId = grantee.account ? (await this.accounts.require(grantee.account)).id : null;
    return this.metadata.stores.permissions.grant(accountId, pattern, actions);
  }

  /** Revokes a grant; what it was is returned for the audit log. */
  async revoke(id: number): Promise<Permission> {
    const grant = await this.metadata.stores.permissions.find(id);
    if (!grant || !(await this.metadata.stores.permissions.revoke(id))) throw new PermissionError('permission_not_found', `no permission ${id}`);
    return grant;
  }
}
