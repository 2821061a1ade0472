/** Builds access control from configuration: accounts, policy, token authority, limiter. */
import type { Metadata } from '../metadata/stores/index.js';
import type { AuthConfig } from '../config/config.js';
import { AccessControl } from './access-control.js';
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
