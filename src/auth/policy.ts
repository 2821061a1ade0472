/**
 * Who may do what: turns an account's permission rows into granted scopes. Admin accounts may do
 * everything; others get the union of their own grants and the anonymous ones whose pattern
 * matches the repository, intersected with what was asked. Grants are cached briefly per account
 * (`cacheMs`): a revocation takes effect within that time on every replica.
 */
import type { Metadata } from '../metadata/stores/index.js';
import type { Account } from './accounts.js';
import { compilePattern } from './patterns.js';
import type { Access } from './scopes.js';

const REPOSITORY_ACTIONS = ['pull', 'push', 'delete'] as const;

interface CompiledGrant {
  readonly match: RegExp;
  readonly actions: ReadonlySet<string>;
}

export class AccessPolicy {
  private readonly cache = new Map<number | null, { until: number; grants: CompiledGrant[] }>();

  constructor(
    private readonly metadata: Metadata,
    private readonly cacheMs = 5_000,
  ) {}

  /** The part of `requested` that `account` (undefined: anonymous) may have. */
  async grant(account: Account | undefined, requested: readonly Access[]): Promise<Access[]> {
    const granted: Access[] = [];
    for (const want of requested) {
      const actions = await this.allowedActions(account, want);
      const kept = want.actions.includes('*') ? actions : want.actions.filter((a) => actions.includes(a));
      if (kept.length > 0) granted.push({ type: want.type, name: want.name, actions: [...new Set(kept)] });
    }
    return granted;
  }

  async may(account: Account | undefined, repository: string, action: string): Promise<boolean> {
    return (await this.allowedActions(account, { type: 'repository', name: repository, actions: [action] })).includes(action);
  }

  forget(): void {
    this.cache.clear();
  }

  private async allowedActions(account: Account | undefined, want: Access): Promise<string[]> {
    if (want.type === 'registry') {
      // The catalog is open to every authenticated caller; its content is filtered by pull rights.
      return want.name === 'catalog' && account ? ['*'] : [];
    }
    if (want.type !== 'repository') return [];
    if (account?.isAdmin) return [...REPOSITORY_ACTIONS];
    const actions = new Set<string>();
    for (const g of await this.grantsOf(account?.id ?? null)) {
      if (!g.match.test(want.name)) continue;
      for (const a of g.actions) {
        if (a === 'admin') REPOSITORY_ACTIONS.forEach((x) => actions.add(x));
        else actions.add(a);
      }
    }
    return [...actions];
  }

  private async grantsOf(accountId: number | null): Promise<CompiledGrant[]> {
    const now = Date.now();
    const hit = this.cache.get(accountId);
    if (hit && hit.until > now) return hit.grants;
    const rows = await this.metadata.stores.permissions.forAccount(accountId);
    const grants = rows.map((r) => ({ match: compilePattern(r.pattern), actions: new Set(r.actions) }));
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(accountId, { until: now + this.cacheMs, grants });
    return grants;
  }
}
