/**
 * The access-control facade the HTTP layer uses: who is calling (credentials → principal), may
 * they do this (principal × access), and token issuance. Failed logins are rate-limited and
 * audited; secrets never leave this module except as hashes.
 */
import { createHash } from 'node:crypto';
import { GroupCommit } from '../metadata/group-commit.js';
import { ANONYMOUS, type AuditActor, type AuditEvent } from '../metadata/stores/audit.js';
import type { Metadata } from '../metadata/stores/index.js';
import type { Account, AccountService } from './accounts.js';
import { AuthError } from './errors.js';
import { mayPullAs } from './pull-as.js';
import type { PermissionService } from './permissions.js';
import type { AccessPolicy } from './policy.js';
import type { FailedLoginLimiter } from './rate-limit.js';
import { allows, type Access } from './scopes.js';
import type { IssuedToken, TokenAuthority } from './tokens.js';

export type Credentials =
  | { readonly scheme: 'basic'; readonly username: string; readonly password: string }
  | { readonly scheme: 'bearer'; readonly token: string };

export type Principal =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'account'; readonly account: Account }
  | { readonly kind: 'token'; readonly subject: string | undefined; readonly access: readonly Access[] };

/** How long a verified username/secret pair is trusted without another scrypt run. */
const CREDENTIAL_CACHE_MS = 30_000;
const ENFORCEMENT_RECHECK_MS = 5_000;

export class AccessControl {
  private readonly verified = new Map<string, { account: Account; until: number }>();
  private enforced = false;
  private enforcementCheckedAt = 0;
  /** Concurrent events (a CI fleet's token grants and pushes) share one INSERT. */
  private readonly auditLog: GroupCommit<AuditEvent>;

  constructor(
    private readonly metadata: Metadata,
    readonly accounts: AccountService,
    readonly permissions: PermissionService,
    readonly policy: AccessPolicy,
    readonly tokens: TokenAuthority,
    private readonly limiter: FailedLoginLimiter,
  ) {
    this.auditLog = new GroupCommit((events) => metadata.stores.audit.recordMany(events));
  }

  /** The audit log as stored, for the admin API's listing. */
  get auditEvents(): Metadata['stores']['audit'] {
    return this.metadata.stores.audit;
  }

  /**
   * Authentication is enforced once any enabled admin exists (and stays enforced: creating an
   * admin is a one-way switch for the life of the process).
   */
  async isEnforced(): Promise<boolean> {
    if (this.enforced) return true;
    const now = Date.now();
    if (now - this.enforcementCheckedAt > ENFORCEMENT_RECHECK_MS) {
      this.enforcementCheckedAt = now;
      this.enforced = await this.metadata.stores.accounts.anyAdmin();
    }
    return this.enforced;
  }

  async authenticate(credentials: Credentials | undefined, clientIp: string): Promise<Principal> {
    if (!credentials) return { kind: 'anonymous' };
    if (credentials.scheme === 'bearer') {
      const token = await this.tokens.verify(credentials.token);
      return { kind: 'token', subject: token.subject, access: token.access };
    }
    return { kind: 'account', account: await this.login(credentials.username, credentials.password, clientIp) };
  }

  /** Checks a username and secret (password, robot secret or personal access token). */
  async login(username: string, secret: string, clientIp: string): Promise<Account> {
    const cacheKey = createHash('sha256').update(`${username}\u0000${secret}`).digest('hex');
    const cached = this.verified.get(cacheKey);
    if (cached && cached.until > Date.now()) return cached.account;
    const keys = [`account:${username}`, `ip:${clientIp}`];
    const wait = this.limiter.retryAfter(keys);
    if (wait > 0) throw new AuthError('rate_limited', 'too many failed logins; try again later', wait);
    const result = await this.accounts.verify(username, secret);
    if (!result.ok) {
      this.limiter.recordFailure(keys);
      await this.audit(username, 'login_failed', clientIp, { reason: result.reason });
      throw new AuthError('bad_credentials', result.reason === 'disabled' ? 'account disabled' : 'invalid username or password');
    }
    this.limiter.recordSuccess(keys[0]!);
    await this.audit(result.account.name, 'login', clientIp, { via: result.via });
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(cacheKey, { account: result.account, until: Date.now() + CREDENTIAL_CACHE_MS });
    return result.account;
  }

  async permits(principal: Principal, access: Access): Promise<boolean> {
    return (await Promise.all(access.actions.map((a) => this.permitsAction(principal, access, a)))).every(Boolean);
  }

  /** May the caller pull `repository`? Tokens are judged by the account they were issued to. */
  async mayPull(principal: Principal, repository: string): Promise<boolean> {
    if (principal.kind === 'token') {
      if (allows(principal.access, 'repository', repository, 'pull')) return true;
      const account = principal.subject ? await this.accounts.find(principal.subject) : undefined;
      return account !== undefined && !account.disabled && this.policy.may(account, repository, 'pull');
    }
    return this.policy.may(principal.kind === 'account' ? principal.account : undefined, repository, 'pull');
  }

  /** May the recorded actor of a queued build pull `repository`, judged now (pull-as.ts)? */
  mayPullAs(actor: AuditActor, repository: string): Promise<boolean> {
    return mayPullAs({ find: (name) => this.accounts.find(name), may: (...args) => this.policy.may(...args), isEnforced: () => this.isEnforced() }, actor, repository);
  }

  async issueToken(account: Account | undefined, requested: readonly Access[], clientIp: string): Promise<IssuedToken & { granted: Access[] }> {
    const granted = await this.policy.grant(account, requested);
    const issued = await this.tokens.issue(account?.name, granted);
    await this.audit(account?.name ?? null, 'token_issued', clientIp, { scopes: granted });
    return { ...issued, granted };
  }

  /**
   * Appends an event to the audit log (group-committed; resolves once it is stored). The actor is
   * an account name, null for a caller without credentials (recorded as 'anonymous', of kind
   * 'open' while no admin exists), or given in full. `target` is the object acted on.
   */
  async audit(actor: string | AuditActor | null, action: string, clientIp: string | null, details?: Record<string, unknown>, target?: string): Promise<void> {
    const who: AuditActor =
      typeof actor === 'string' ? { name: actor, kind: 'account' } : (actor ?? { name: ANONYMOUS, kind: (await this.isEnforced()) ? 'anonymous' : 'open' });
    await this.auditLog.record({ actor: who, action, clientIp, details: details ?? null, target: target ?? null });
  }

  /**
   * Drops cached credentials and grants after an admin change, and looks for an admin again on
   * the next request: the change that creates the first admin closes an open registry at once.
   */
  forget(): void {
    this.verified.clear();
    this.policy.forget();
    this.enforcementCheckedAt = 0;
  }

  private async permitsAction(principal: Principal, access: Access, action: string): Promise<boolean> {
    if (principal.kind === 'token') return allows(principal.access, access.type, access.name, action);
    const account = principal.kind === 'account' ? principal.account : undefined;
    const granted = await this.policy.grant(account, [{ ...access, actions: [action] }]);
    return granted.length > 0;
  }
}
