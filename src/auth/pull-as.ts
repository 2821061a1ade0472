/**
 * Pull permission of a recorded actor (a queued build's), judged when the build reads a base
 * image rather than when it was queued: an account by its grants (none once it is gone or
 * disabled); a caller of an open registry while it is still open; anyone else by the anonymous
 * grants.
 */
import type { AuditActor } from '../metadata/stores/audit.js';
import type { Account } from './accounts.js';

export interface PullAsDeps {
  find(name: string): Promise<Account | undefined>;
  may(account: Account | undefined, repository: string, action: string): Promise<boolean>;
  /** True once any enabled admin exists (the registry is no longer open). */
  isEnforced(): Promise<boolean>;
}

export async function mayPullAs(deps: PullAsDeps, actor: AuditActor, repository: string): Promise<boolean> {
  if (actor.kind === 'account') {
    const account = await deps.find(actor.name);
    return account !== undefined && !account.disabled && deps.may(account, repository, 'pull');
  }
  if (actor.kind === 'open' && !(await deps.isEnforced())) return true;
  return deps.may(undefined, repository, 'pull');
}
