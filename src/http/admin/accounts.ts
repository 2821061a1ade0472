/**
 * Users, robots and personal access tokens. Secrets appear in an answer once (robot creation and
 * rotation, token creation) and never in the audit log.
 */
import type { AccessControl } from '../../auth/access-control.js';
import type { Account } from '../../auth/accounts.js';
import type { PatRow } from '../../metadata/stores/accounts.js';
import { defineRoute, type AdminRoute } from './route.js';
import * as s from './schemas.js';

type Name = { name: string };

export function accountRoutes(access: AccessControl): AdminRoute[] {
  const { accounts } = access;
  return [
    defineRoute({
      method: 'GET',
      path: '/users',
      operationId: 'listUsers',
      tag: 'accounts',
      summary: 'List users',
      access: 'admin',
      schema: { response: s.users },
      status: 200,
      errors: [],
      handler: async () => ({ users: (await accounts.list('user')).map(accountView) }),
    }),
    defineRoute<Record<string, never>, Record<string, never>, { name: string; password: string; admin?: boolean }>({
      method: 'POST',
      path: '/users',
      operationId: 'createUser',
      tag: 'accounts',
      summary: 'Create a user',
      access: 'admin',
      schema: { body: s.createUser, response: s.account },
      status: 201,
      errors: ['account_name_invalid', 'password_invalid', 'account_exists'],
      handler: async ({ body }) => accountView(await accounts.createUser(body.name, body.password, body.admin ?? false)),
      action: 'user.create',
      audit: ({ body }) => ({ target: body.name, details: { admin: body.admin ?? false } }),
    }),
    defineRoute<Name>({
      method: 'GET',
      path: '/users/{name}',
      operationId: 'getUser',
      tag: 'accounts',
      summary: 'Show a user',
      access: 'admin',
      schema: { response: s.account },
      status: 200,
      errors: ['account_not_found'],
      handler: async ({ params }) => accountView(await accounts.require(params.name, 'user')),
    }),
    defineRoute<Name, Record<string, never>, { password?: string; admin?: boolean; disabled?: boolean }>({
      method: 'PATCH',
      path: '/users/{name}',
      operationId: 'updateUser',
      tag: 'accounts',
      summary: 'Change the password, admin flag or disabled flag of a user',
      access: 'admin',
      schema: { body: s.updateUser, response: s.account },
      status: 200,
      errors: ['account_not_found', 'password_invalid'],
      handler: async ({ params, body }) => {
        await accounts.require(params.name, 'user');
        return accountView(await accounts.update(params.name, { password: body.password, isAdmin: body.admin, disabled: body.disabled }));
      },
      action: 'user.update',
      // What changed, never the password itself.
      audit: ({ params, body }) => ({
        target: params.name,
        details: { ...(body.password !== undefined ? { passwordChanged: true } : {}), ...pick(body, ['admin', 'disabled']) },
      }),
    }),

    defineRoute({
      method: 'GET',
      path: '/robots',
      operationId: 'listRobots',
      tag: 'accounts',
      summary: 'List robot accounts',
      access: 'admin',
      schema: { response: s.robots },
      status: 200,
      errors: [],
      handler: async () => ({ robots: (await accounts.list('robot')).map(accountView) }),
    }),
    defineRoute<Record<string, never>, Record<string, never>, { name: string; description?: string }>({
      method: 'POST',
      path: '/robots',
      operationId: 'createRobot',
      tag: 'accounts',
      summary: 'Create a robot; its secret is in the answer, once',
      access: 'admin',
      schema: { body: s.createRobot, response: s.robotWithSecret },
      status: 201,
      errors: ['account_name_invalid', 'account_exists'],
      handler: async ({ body }) => {
        const { account, secret } = await accounts.createRobot(body.name, body.description ?? null);
        return { ...accountView(account), secret };
      },
      action: 'robot.create',
      audit: ({ body }) => ({ target: body.name }),
    }),
    defineRoute<Name, Record<string, never>, { disabled: boolean }>({
      method: 'PATCH',
      path: '/robots/{name}',
      operationId: 'updateRobot',
      tag: 'accounts',
      summary: 'Disable or enable a robot',
      access: 'admin',
      schema: { body: s.updateRobot, response: s.account },
      status: 200,
      errors: ['account_not_found'],
      handler: async ({ params, body }) => {
        await accounts.require(params.name, 'robot');
        return accountView(await accounts.update(params.name, { disabled: body.disabled }));
      },
      action: 'robot.update',
      audit: ({ params, body }) => ({ target: params.name, details: { disabled: body.disabled } }),
    }),
    defineRoute<Name>({
      method: 'POST',
      path: '/robots/{name}/secret',
      operationId: 'rotateRobotSecret',
      tag: 'accounts',
      summary: 'Rotate the secret of a robot; the new one is in the answer, once, and the old one stops working',
      access: 'admin',
      schema: { response: s.robotWithSecret },
      status: 200,
      errors: ['account_not_found'],
      handler: async ({ params }) => {
        const secret = await accounts.rotateRobotSecret(params.name);
        return { ...accountView(await accounts.require(params.name, 'robot')), secret };
      },
      action: 'robot.rotate_secret',
      audit: ({ params }) => ({ target: params.name }),
    }),

    defineRoute<Name>({
      method: 'GET',
      path: '/accounts/{name}/tokens',
      operationId: 'listTokens',
      tag: 'tokens',
      summary: 'List the personal access tokens of an account (never their secrets)',
      access: 'admin',
      schema: { response: s.tokens },
      status: 200,
      errors: ['account_not_found'],
      handler: async ({ params }) => ({ tokens: (await accounts.listTokens(params.name)).map((t) => tokenView(params.name, t)) }),
    }),
    defineRoute<Name, Record<string, never>, { name: string; expiresAt?: string }>({
      method: 'POST',
      path: '/accounts/{name}/tokens',
      operationId: 'createToken',
      tag: 'tokens',
      summary: 'Create a personal access token; its secret is in the answer, once',
      access: 'admin',
      schema: { body: s.createToken, response: s.tokenWithSecret },
      status: 201,
      errors: ['account_not_found', 'token_name_invalid', 'token_expiry_invalid', 'token_exists'],
      handler: async ({ params, body }) => {
        const expiresAt = body.expiresAt ? new Date(body.expiresAt) : null;
        const { token, secret } = await accounts.createToken(params.name, body.name, expiresAt);
        return { ...tokenView(params.name, token), secret };
      },
      action: 'token.create',
      audit: ({ params, body }) => ({ target: params.name, details: { token: body.name, expiresAt: body.expiresAt ?? null } }),
    }),
    defineRoute<Name & { token: string }>({
      method: 'DELETE',
      path: '/accounts/{name}/tokens/{token}',
      operationId: 'revokeToken',
      tag: 'tokens',
      summary: 'Revoke a personal access token',
      access: 'admin',
      schema: {},
      status: 204,
      errors: ['account_not_found', 'token_not_found'],
      handler: async ({ params }) => accounts.revokeToken(params.name, params.token),
      action: 'token.revoke',
      audit: ({ params }) => ({ target: params.name, details: { token: params.token } }),
    }),
  ];
}

function accountView(a: Account) {
  return { name: a.name, kind: a.kind, admin: a.isAdmin, disabled: a.disabled, description: a.description, createdAt: a.createdAt.toISOString() };
}

function tokenView(account: string, t: PatRow) {
  return {
    account,
    name: t.name,
    createdAt: t.created_at.toISOString(),
    expiresAt: t.expires_at?.toISOString() ?? null,
    revokedAt: t.revoked_at?.toISOString() ?? null,
    lastUsedAt: t.last_used_at?.toISOString() ?? null,
  };
}

function pick<T extends object, K extends keyof T>(object: T, keys: readonly K[]): Partial<Pick<T, K>> {
  return Object.fromEntries(keys.filter((k) => object[k] !== undefined).map((k) => [k, object[k]])) as Partial<Pick<T, K>>;
}
