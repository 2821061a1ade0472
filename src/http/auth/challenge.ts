/**
 * Turns access-control failures into what registry clients expect: 401 with a Bearer challenge
 * naming the realm, the service and exactly the scope the request needs (clients ask the token
 * endpoint for that scope and retry), 403 DENIED for an authenticated caller without rights,
 * 429 with Retry-After for a rate-limited login.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthError } from '../../auth/errors.js';
import { formatScope, type Access } from '../../auth/scopes.js';

export interface ChallengeContext {
  readonly realm: string;
  readonly service: string;
  readonly scope?: Access;
}

export function realmFor(request: FastifyRequest, externalUrl: string | undefined): string {
  // `request.host` is the Host header, or HTTP/2's `:authority`.
  const base = externalUrl ?? `${request.protocol}://${request.host || 'localhost'}`;
  return `${base.replace(/\/$/, '')}/token`;
}

export function bearerChallenge(ctx: ChallengeContext, error?: 'insufficient_scope' | 'invalid_token'): string {
  const parts = [`realm="${ctx.realm}"`, `service="${ctx.service}"`];
  if (ctx.scope) parts.push(`scope="${formatScope(ctx.scope)}"`);
  if (error) parts.push(`error="${error}"`);
  return `Bearer ${parts.join(',')}`;
}

export interface AuthReply {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly headers: Record<string, string>;
}

/** `insufficientScope`: the caller holds a token that lacks the scope (not "no credentials"). */
export function authReply(error: AuthError, ctx: ChallengeContext, insufficientScope = false): AuthReply {
  switch (error.kind) {
    case 'rate_limited':
      return { status: 429, code: 'TOOMANYREQUESTS', message: error.message, headers: { 'retry-after': String(error.retryAfterSeconds ?? 60) } };
    case 'denied':
      if (!insufficientScope) return { status: 403, code: 'DENIED', message: error.message, headers: {} };
      return { status: 401, code: 'DENIED', message: error.message, headers: { 'www-authenticate': bearerChallenge(ctx, 'insufficient_scope') } };
    case 'token_invalid':
      return { status: 401, code: 'UNAUTHORIZED', message: error.message, headers: { 'www-authenticate': bearerChallenge(ctx, 'invalid_token') } };
    case 'bad_credentials':
    case 'unauthenticated':
      return { status: 401, code: 'UNAUTHORIZED', message: error.message, headers: { 'www-authenticate': bearerChallenge(ctx) } };
  }
}

export function sendAuthReply(reply: FastifyReply, auth: AuthReply): FastifyReply {
  return reply
    .code(auth.status)
    .headers(auth.headers)
    .header('content-type', 'application/json; charset=utf-8')
    .send(JSON.stringify({ errors: [{ code: auth.code, message: auth.message, detail: null }] }));
}
