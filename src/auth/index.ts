/** Builds access control from configuration: accounts, policy, token authority, limiter. */
import type { Metadata } from '../metadata/stores/index.js';
import type { AuthConfig } from '../config/config.js';
import type { AuditActor } from '../metadata/stores/audit.js';
import { AccessControl } from './access-control.js';
import { mayPullAs } from './pull-as.js';
import { AccountService } from './accounts.js';
import { PermissionService } from './permissions.js';
import { AccessPolicy } from './policy.js';
import { FailedLoginLimiter } from './rate-limit.js';
import { TokenAuthority } from './tokens.js';

export async function createAccessControl(metadata: Metadata, config: AuthConfig): Promise<AccessControl> {
  const tokens = await TokenAuthority.open(
    config.tokenKeyFile,
    {
      issuer: 'cairn',
      service: config.service,
      lifetimeSeconds: config.tokenLifetimeSeconds,
      refreshLifetimeSeconds: 14 * 24 * 3600,
    },
    // A configured key file must exist (replicas share it); the default one is created.
    !config.tokenKeyFileConfigured,
  );
  const limiter = new FailedLoginLimiter({
    maxFailures: (key) => (key.startsWith('ip:') ? config.maxFailedLogins * 10 : config.maxFailedLogins),
    windowMs: 60_000,
  });
  const accounts = new AccountService(metadata);
  return new AccessControl(metadata, accounts, new PermissionService(metadata, accounts), new AccessPolicy(metadata), tokens, limiter);
}

/**
 * Pull permission of a build's actor for `cairn worker`, which runs beside PostgreSQL without the
 * server's token authority or login limiter: the same judgement as AccessControl.mayPullAs.
 */
export function buildPullPermission(metadata: Metadata): { mayPullAs(actor: AuditActor, repository: string): Promise<boolean> } {
  const accounts = new AccountService(metadata);
  const policy = new AccessPolicy(metadata);
  const deps = { find: (name: string) => accounts.find(name), may: policy.may.bind(policy), isEnforced: () => metadata.stores.accounts.anyAdmin() };
  return { mayPullAs: (actor, repository) => mayPullAs(deps, actor, repository) };
}
