/**
 * Who is calling the JSON APIs under /api/v1, and may they. Same credentials as the registry
 * (HTTP Basic with a password, robot secret or personal access token; or a Bearer token). Before
 * any admin exists (open mode) the APIs answer loopback callers only, as an unauthenticated
 * caller of kind 'open' (recorded as such in the audit log).
 */
import type { FastifyRequest } from 'fastify';
import type { AccessControl, Principal } from '../../auth/access-control.js';
import type { Account } from '../../auth/accounts.js';
import { AuthError } from '../../auth/errors.js';
import { ANONYMOUS, type AuditActor } from '../../metadata/stores/audit.js';
import { parseAuthorization } from '../auth/credentials.js';
import { ApiError } from './errors.js';

export type ApiCaller =
  /** No admin exists yet and the caller is on loopback: it may do anything. */
  | { readonly kind: 'open' }
  /** No credentials (or a token issued to nobody): the rights of anonymous callers. */
  | { readonly kind: 'anonymous'; readonly principal: Principal }
  | { readonly kind: 'account'; readonly principal: Principal; readonly account: Account };

/** A caller allowed to change things: an admin account, or anyone in open mode. */
export type AdminCaller = Extract<ApiCaller, { kind: 'open' | 'account' }>;

export async function identifyCaller(access: AccessControl, request: FastifyRequest): Promise<ApiCaller> {
  if (!(await access.isEnforced())) {
    if (isLoopback(request.ip)) return { kind: 'open' };
    throw new ApiError('remote_while_open', 'no admin is configured yet; the API answers loopback callers only');
  }
  const principal = await access.authenticate(parseAuthorization(request.headers.authorization), request.ip);
  if (principal.kind === 'anonymous' || (principal.kind === 'token' && !principal.subject)) return { kind: 'anonymous', principal };
  const account = principal.kind === 'account' ? principal.account : await access.accounts.find(principal.subject!);
  if (!account || account.disabled) throw new AuthError('bad_credentials', 'the account is unknown or disabled');
  return { kind: 'account', principal, account };
}

/** The admin making the call (or the open-mode caller); anyone else is refused. */
export async function requireAdmin(access: AccessControl, request: FastifyRequest): Promise<AdminCaller> {
  const caller = await identifyCaller(access, request);
  if (caller.kind === 'anonymous') throw new AuthError('unauthenticated', 'authentication required');
  if (caller.kind === 'account' && !caller.account.isAdmin) throw new ApiError('not_admin', 'admin only');
  return caller;
}

/** Whether the caller may read `repository` (pull permission, or admin). */
export async function mayRead(access: AccessControl, caller: ApiCaller, repository: string): Promise<boolean> {
  if (caller.kind === 'open' || (caller.kind === 'account' && caller.account.isAdmin)) return true;
  return access.mayPull(caller.principal, repository);
}

/** Refuses a caller who may not read `repository`: 401 without credentials, else 403. */
export async function requireReader(access: AccessControl, caller: ApiCaller, repository: string): Promise<void> {
  if (await mayRead(access, caller, repository)) return;
  if (caller.kind === 'anonymous') throw new AuthError('unauthenticated', 'authentication required');
  throw new ApiError('access_denied', 'no pull permission on this repository');
}

/** How the caller appears in the audit log: never null. */
export function auditActor(caller: ApiCaller): AuditActor {
  if (caller.kind === 'account') return { name: caller.account.name, kind: 'account' };
  return { name: ANONYMOUS, kind: caller.kind };
}

export function isLoopback(ip: string): boolean {
  return ip === '::1' || ip.startsWith('127.') || ip.startsWith('::ffff:127.');
}
