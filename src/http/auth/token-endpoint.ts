/**
 * The token endpoint of the Docker registry token spec, at /token:
 *   GET  /token?service=…&scope=…[&scope=…]   HTTP Basic or anonymous
 *   POST /token   OAuth2 form: grant_type=password | refresh_token (containerd, BuildKit)
 * Granted actions are the intersection of what was asked and what the account may do.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccessControl } from '../../auth/access-control.js';
import type { Account } from '../../auth/accounts.js';
import { AuthError } from '../../auth/errors.js';
import { parseScopes, type Access } from '../../auth/scopes.js';
import { authReply, sendAuthReply } from './challenge.js';
import { parseAuthorization } from './credentials.js';

export interface TokenEndpointOptions {
  readonly access: AccessControl;
  readonly realm: (request: FastifyRequest) => string;
}

export async function tokenEndpoint(app: FastifyInstance, options: TokenEndpointOptions): Promise<void> {
  const { access } = options;
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) =>
    done(null, Object.fromEntries(new URLSearchParams(body as string))),
  );

  const fail = (request: FastifyRequest, reply: FastifyReply, error: unknown) => {
    if (!(error instanceof AuthError)) throw error;
    return sendAuthReply(reply, authReply(error, { realm: options.realm(request), service: access.tokens.service }));
  };

  app.get('/token', async (request, reply) => {
    try {
      const credentials = parseAuthorization(request.headers.authorization);
      if (credentials?.scheme === 'bearer') throw new AuthError('bad_credentials', 'use Basic credentials at the token endpoint');
      const account = credentials ? await access.login(credentials.username, credentials.password, request.ip) : undefined;
      const query = request.query as Record<string, string | string[] | undefined>;
      const issued = await access.issueToken(account, scopesOf(query.scope), request.ip);
      const offline = query.offline_token === 'true' && account;
      return tokenResponse(reply, issued, offline ? await access.tokens.issueRefresh(account.name) : undefined);
    } catch (error) {
      return fail(request, reply, error);
    }
  });

  app.post('/token', async (request, reply) => {
    const form = (request.body ?? {}) as Record<string, string | undefined>;
    try {
      const account = await accountForGrant(access, form, request.ip);
      const issued = await access.issueToken(account, scopesOf(form.scope?.split(' ')), request.ip);
      const refresh = form.grant_type === 'password' ? await access.tokens.issueRefresh(account.name) : form.refresh_token;
      return tokenResponse(reply, issued, refresh);
    } catch (error) {
      if (error instanceof OAuthError) return reply.code(400).send({ error: error.code, error_description: error.message });
      return fail(request, reply, error);
    }
  });
}

class OAuthError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

async function accountForGrant(access: AccessControl, form: Record<string, string | undefined>, ip: string): Promise<Account> {
  if (form.grant_type === 'password') {
    if (!form.username || form.password === undefined) throw new OAuthError('invalid_request', 'username and password are required');
    return access.login(form.username, form.password, ip);
  }
  if (form.grant_type === 'refresh_token') {
    if (!form.refresh_token) throw new OAuthError('invalid_request', 'refresh_token is required');
    const subject = await access.tokens.verifyRefresh(form.refresh_token);
    const account = await access.accounts.find(subject);
    if (!account || account.disabled) throw new AuthError('bad_credentials', 'account disabled or removed');
    return account;
  }
  throw new OAuthError('unsupported_grant_type', 'grant_type must be password or refresh_token');
}

function scopesOf(value: string | string[] | undefined): Access[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value];
  return list.flatMap(parseScopes);
}

function tokenResponse(reply: FastifyReply, issued: { token: string; expiresIn: number; issuedAt: string }, refreshToken?: string) {
  return reply.code(200).header('cache-control', 'no-store').send({
    token: issued.token,
    access_token: issued.token,
    expires_in: issued.expiresIn,
    issued_at: issued.issuedAt,
    ...(refreshToken ? { refresh_token: refreshToken } : {}),
  });
}
