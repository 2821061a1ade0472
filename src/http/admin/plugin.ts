/**
 * The admin REST API under /api/v1: JSON in and out, request bodies validated against the schemas
 * in schemas.ts (also published as OpenAPI), errors as `{"error":{"code","message"}}`.
 * Every route but the OpenAPI document needs an admin. Before any admin exists the API answers
 * loopback callers only, so a laptop user can create the first admin.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccessControl } from '../../auth/access-control.js';
import { AccountError, type Account } from '../../auth/accounts.js';
import { isValidPattern } from '../../auth/patterns.js';
import { AdminError, requireAdmin } from './api-auth.js';
import { registerBranchRoutes } from './branches.js';
import { registerCacheRoutes } from './caches.js';
import { registerHookRoutes } from './hooks.js';
import { registerRetentionRoutes } from './retention.js';
import { RETENTION_WIRE_ERRORS } from './retention-errors.js';
import { RetentionError } from '../../retention/errors.js';
import type { BranchLifecycle } from '../../retention/branches.js';
import type { RetentionService } from '../../retention/service.js';
import { CacheNotFoundError, CacheSettingsError, type CacheService } from '../../cache/service.js';
import { RegistryError } from '../../registry/errors.js';
import type { Repositories } from '../../registry/repositories.js';
import { openApiDocument } from './openapi.js';
import * as s from './schemas.js';

export interface AdminApiOptions {
  readonly access: AccessControl;
  readonly caches: CacheService;
  readonly repositories: Repositories;
  readonly retention: RetentionService;
  readonly branches: BranchLifecycle;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The admin making an admin API call (undefined in open mode). */
    admin?: Account;
  }
}

export async function adminApi(app: FastifyInstance, { access, caches, repositories, retention, branches }: AdminApiOptions): Promise<void> {
  app.setErrorHandler(adminErrorHandler);
  app.get('/openapi.json', async () => openApiDocument);
  registerCacheRoutes(app, access, caches, repositories);
  registerBranchRoutes(app, access, branches);
  registerRetentionRoutes(app, access, retention, branches);
  registerHookRoutes(app, branches);

  app.register(async (secured) => {
    secured.addHook('preHandler', async (request) => {
      request.admin = await requireAdmin(access, request);
    });
    // Every change is audited and drops cached credentials and grants.
    secured.addHook('onResponse', async (request, reply) => {
      if (request.method === 'GET' || reply.statusCode >= 400) return;
      access.forget();
      const action = `admin.${request.method.toLowerCase()} ${request.routeOptions.url ?? ''}`;
      await access.audit(request.admin?.name ?? null, action, request.ip, { params: request.params }, request.url.split('?')[0]);
    });
    registerAccountRoutes(secured, access);
    registerPermissionRoutes(secured, access);
  });
}

function registerAccountRoutes(app: FastifyInstance, access: AccessControl): void {
  const { accounts } = access;
  app.get('/users', async () => ({ users: (await accounts.list('user')).map(view) }));
  app.post<{ Body: { name: string; password: string; admin?: boolean } }>('/users', { schema: { body: s.createUser } }, async (request, reply) => {
    const user = await accounts.createUser(request.body.name, request.body.password, request.body.admin ?? false);
    return reply.code(201).send(view(user));
  });
  app.get<{ Params: { name: string } }>('/users/:name', async (request) => view(await accounts.require(request.params.name, 'user')));
  app.patch<{ Params: { name: string }; Body: { password?: string; admin?: boolean; disabled?: boolean } }>(
    '/users/:name',
    { schema: { body: s.updateUser } },
    async (request) => {
      await accounts.require(request.params.name, 'user');
      const { password, admin, disabled } = request.body;
      return view(await accounts.update(request.params.name, { password, isAdmin: admin, disabled }));
    },
  );

  app.get('/robots', async () => ({ robots: (await accounts.list('robot')).map(view) }));
  app.post<{ Body: { name: string; description?: string } }>('/robots', { schema: { body: s.createRobot } }, async (request, reply) => {
    const { account, secret } = await accounts.createRobot(request.body.name, request.body.description ?? null);
    return reply.code(201).send({ ...view(account), secret });
  });
  app.patch<{ Params: { name: string }; Body: { disabled: boolean } }>('/robots/:name', { schema: { body: s.updateRobot } }, async (request) => {
    await accounts.require(request.params.name, 'robot');
    return view(await accounts.update(request.params.name, { disabled: request.body.disabled }));
  });
  app.post<{ Params: { name: string } }>('/robots/:name/secret', async (request) => ({
    name: request.params.name,
    secret: await accounts.rotateRobotSecret(request.params.name),
  }));

  app.get<{ Params: { name: string } }>('/accounts/:name/tokens', async (request) => ({
    tokens: (await accounts.listTokens(request.params.name)).map(({ id: _id, account_id: _a, ...t }) => t),
  }));
  app.post<{ Params: { name: string }; Body: { name: string; expiresAt?: string } }>(
    '/accounts/:name/tokens',
    { schema: { body: s.createToken } },
    async (request, reply) => {
      const expiresAt = request.body.expiresAt ? new Date(request.body.expiresAt) : null;
      const { token, secret } = await accounts.createToken(request.params.name, request.body.name, expiresAt);
      return reply.code(201).send({ name: token.name, expiresAt: token.expires_at, createdAt: token.created_at, secret });
    },
  );
  app.delete<{ Params: { name: string; token: string } }>('/accounts/:name/tokens/:token', async (request, reply) => {
    await accounts.revokeToken(request.params.name, request.params.token);
    return reply.code(204).send();
  });
}

function registerPermissionRoutes(app: FastifyInstance, access: AccessControl): void {
  const { permissions, audit } = access.stores;
  app.get('/permissions', async () => ({ permissions: (await permissions.list()).map(permissionView) }));
  app.post<{ Body: { account?: string; anonymous?: boolean; pattern: string; actions: string[] } }>(
    '/permissions',
    { schema: { body: s.grantPermission } },
    async (request, reply) => {
      const { account, anonymous, pattern, actions } = request.body;
      if (!isValidPattern(pattern)) throw new AdminError(400, 'invalid_request', `invalid repository pattern "${pattern}"`);
      if (Boolean(account) === Boolean(anonymous)) throw new AdminError(400, 'invalid_request', 'give either "account" or "anonymous": true');
      const accountId = account ? (await access.accounts.require(account)).id : null;
      return reply.code(201).send(permissionView(await permissions.grant(accountId, pattern, actions)));
    },
  );
  app.delete<{ Params: { id: string } }>('/permissions/:id', async (request, reply) => {
    const id = Number(request.params.id);
    if (!Number.isSafeInteger(id) || !(await permissions.revoke(id))) throw new AdminError(404, 'not_found', 'no such permission');
    return reply.code(204).send();
  });
  app.get<{ Querystring: { limit: number; before?: number; actor?: string; action?: string } }>(
    '/audit-events',
    { schema: { querystring: s.auditQuery } },
    async (request) => ({ events: await audit.list(request.query) }),
  );
}

function adminErrorHandler(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply) {
  const send = (status: number, code: string, message: string) => reply.code(status).send({ error: { code, message } });
  if (error instanceof AdminError) {
    if (error.status === 401) reply.header('www-authenticate', 'Basic realm="cairn admin"');
    return send(error.status, error.code, error.message);
  }
  if (error instanceof RetentionError) return send(RETENTION_WIRE_ERRORS[error.kind].status, RETENTION_WIRE_ERRORS[error.kind].code, error.message);
  if (error instanceof CacheNotFoundError) return send(404, 'not_found', error.message);
  if (error instanceof CacheSettingsError) return send(400, 'invalid_request', error.message);
  if (error instanceof RegistryError && (error.kind === 'name_invalid' || error.kind === 'name_unknown')) {
    return send(error.kind === 'name_invalid' ? 400 : 404, error.kind === 'name_invalid' ? 'invalid_request' : 'not_found', error.message);
  }
  if (error instanceof AccountError) {
    const status = { invalid: 400, conflict: 409, not_found: 404 }[error.kind];
    return send(status, error.kind === 'invalid' ? 'invalid_request' : error.kind, error.message);
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation) return send(400, 'invalid_request', fastifyError.message);
  if (fastifyError.statusCode && fastifyError.statusCode < 500) return send(fastifyError.statusCode, 'invalid_request', fastifyError.message);
  request.log.error({ err: error }, 'admin API failure');
  return send(500, 'internal', 'internal server error');
}

function view(a: Account) {
  return { name: a.name, kind: a.kind, admin: a.isAdmin, disabled: a.disabled, description: a.description, createdAt: a.createdAt };
}

function permissionView(p: { id: number; account_name: string | null; pattern: string; actions: string[]; created_at: Date }) {
  return { id: p.id, account: p.account_name, anonymous: p.account_name === null, pattern: p.pattern, actions: p.actions, createdAt: p.created_at };
}

