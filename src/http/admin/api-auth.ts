/**
 * Who is calling the JSON APIs under /api/v1, and may they. Same credentials as the registry
 * (HTTP Basic with a password, robot secret or personal access token; or a Bearer token). Before
 * any admin exists (open mode) the APIs answer loopback callers only.
 */
import type { FastifyRequest } from 'fastify';
import type { AccessControl, Principal } from '../../auth/access-control.js';
import type { Account } from '../../auth/accounts.js';
import { AuthError } from '../../auth/errors.js';
import { parseAuthorization } from '../auth/credentials.js';

export class AdminError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export type ApiCaller = { readonly open: true } | { readonly open: false; readonly principal: Principal; readonly account?: Account };

export async function identifyCaller(access: AccessControl, request: FastifyRequest): Promise<ApiCaller> {
  if (!(await access.isEnforced())) {
    if (isLoopback(request.ip)) return { open: true };
    throw new AdminError(403, 'forbidden', 'no admin is configured yet; the API answers loopback callers only');
  }
  let principal: Principal;
  try {
    principal = await access.authenticate(parseAuthorization(request.headers.authorization), request.ip);
  } catch (error) {
    if (error instanceof AuthError && error.kind === 'rate_limited') throw new AdminError(429, 'too_many_requests', error.message);
    if (error instanceof AuthError) throw new AdminError(401, 'unauthorized', error.message);
    throw error;
  }
  const account =
    principal.kind === 'account' ? principal.account : principal.kind === 'token' && principal.subject ? await access.accounts.find(principal.subject) : undefined;
  // Anonymous callers, and tokens issued to them, keep the rights anonymous callers have.
  if (principal.kind === 'anonymous' || (principal.kind === 'token' && !principal.subject)) return { open: false, principal };
  if (!account || account.disabled) throw new AdminError(401, 'unauthorized', 'authentication required');
  return { open: false, principal, account };
}

/** The admin making the call (undefined in open mode); anyone else is refused. */
export async function requireAdmin(access: AccessControl, request: FastifyRequest): Promise<Account | undefined> {
  const caller = await identifyCaller(access, request);
  if (caller.open) return undefined;
  if (!caller.account) throw new AdminError(401, 'unauthorized', 'authentication required');
  if (!caller.account.isAdmin) throw new AdminError(403, 'forbidden', 'admin only');
  return caller.account;
}

/** Whether the caller may read `repository` (pull permission, or admin). */
export async function mayRead(access: AccessControl, caller: ApiCaller, repository: string): Promise<boolean> {
  return caller.open || caller.account?.isAdmin === true || access.mayPull(caller.principal, repository);
}

export function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.');
}
