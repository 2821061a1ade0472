/**
 * The admin API (/api/v1) as a client sees it: camelCase in every answer, one error shape for every
 * kind of failure (each with its status and stable code), and an audit event — with the account
 * that acted and the object it changed — for every admin change, exactly one, never for a refusal.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADMIN_PASSWORD, admin, basic, tokenFor } from '../support/auth.js';
import { http, type TestResponse } from '../support/http.js';
import { describeOnEachDatabase } from '../support/suite.js';

const MAX_FAILED_LOGINS = 3;

/** A call as `who` (Basic or Bearer headers), JSON body when given. */
async function call(base: string, method: string, path: string, who: Record<string, string>, body?: unknown): Promise<TestResponse> {
  return http(method, `${base}/api/v1${path}`, {
    headers: { ...who, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
}

/** Every property name in a JSON value, at any depth. */
function keysOf(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => keysOf(v, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [`${path}.${k}`, ...keysOf(v, `${path}.${k}`)]);
}

function assertCamelCase(response: TestResponse, what: string): void {
  const bad = keysOf(response.json()).filter((k) => !/^[a-z][a-zA-Z0-9]*$/.test(k.slice(k.lastIndexOf('.') + 1)));
  assert.deepEqual(bad, [], `${what}: property names not in camelCase`);
}

/** The one error shape: exactly {error: {code, message, detail}}, as JSON. */
function assertError(response: TestResponse, status: number, code: string, what: string) {
  assert.equal(response.status, status, `${what}: ${response.text()}`);
  assert.match(response.headers['content-type'] ?? '', /^application\/json/, what);
  const body = response.json();
  assert.deepEqual(Object.keys(body), ['error'], what);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'detail', 'message'], what);
  assert.equal(body.error.code, code, what);
  assert.equal(typeof body.error.message, 'string', what);
  assert.ok(body.error.message.length > 0, what);
  return body.error as { code: string; message: string; detail: any };
}

interface AuditEvent {
  id: number;
  actor: string;
  actorKind: string;
  action: string;
  target: string | null;
  clientIp: string | null;
  details: Record<string, unknown> | null;
}

async function events(base: string, query = ''): Promise<AuditEvent[]> {
  const response = await admin(base, 'GET', `/audit-events?limit=1000${query}`);
  assert.equal(response.status, 200, response.text());
  return response.json().events;
}

async function lastEventId(base: string): Promise<number> {
  return (await events(base))[0]?.id ?? 0;
}

describeOnEachDatabase(
  'admin API',
  (ctx) => {
    const asAdmin = basic('admin', ADMIN_PASSWORD);
    const ops = { name: 'ops', password: 'ops-password-1' };
    const dev = { name: 'dev', password: 'dev-password-1' };
    const asOps = basic(ops.name, ops.password);
    const asDev = basic(dev.name, dev.password);
    const secrets: string[] = [ADMIN_PASSWORD, ops.password, dev.password];

    test('the admin created from CAIRN_ADMIN_PASSWORD at start is audited as Cairn itself', async () => {
      const started = await events(ctx.base, '&actor=cairn');
      assert.deepEqual(
        started.map((e) => [e.actor, e.actorKind, e.action, e.target, e.clientIp, e.details]),
        [['cairn', 'system', 'user.create', 'admin', null, { admin: true, from: 'CAIRN_ADMIN_PASSWORD' }]],
      );
    });

    test('setup: a second admin and a plain user', async () => {
      assert.equal((await admin(ctx.base, 'POST', '/users', { ...ops, admin: true })).status, 201);
      assert.equal((await admin(ctx.base, 'POST', '/users', dev)).status, 201);
    });

    test('every admin change is audited once, with the account that acted and the object it changed', async () => {
      const bearerAsOps = { authorization: `Bearer ${await tokenFor(ctx.base, [], asOps)}` };
      let robotSecret = '';
      let permissionId = 0;
      // [what, who, method, path, body, action, actor, target, details the event must hold]
      const changes: Array<[string, Record<string, string>, string, string, unknown, string, string, string, Record<string, unknown>]> = [
        ['create a user', asAdmin, 'POST', '/users', { name: 'carol', password: 'carol-password' }, 'user.create', 'admin', 'carol', { admin: false }],
        ['change a password', asOps, 'PATCH', '/users/carol', { password: 'carol-password-2' }, 'user.update', 'ops', 'carol', { passwordChanged: true }],
        ['make an admin', asOps, 'PATCH', '/users/carol', { admin: true, disabled: false }, 'user.update', 'ops', 'carol', { admin: true, disabled: false }],
        ['create a robot', bearerAsOps, 'POST', '/robots', { name: 'builder', description: 'CI' }, 'robot.create', 'ops', 'builder', {}],
        ['disable a robot', asAdmin, 'PATCH', '/robots/builder', { disabled: true }, 'robot.update', 'admin', 'builder', { disabled: true }],
        ['rotate a robot secret', asAdmin, 'POST', '/robots/builder/secret', undefined, 'robot.rotate_secret', 'admin', 'builder', {}],
        ['create a token', asOps, 'POST', '/accounts/dev/tokens', { name: 'laptop', expiresAt: '2030-01-01T00:00:00.000Z' }, 'token.create', 'ops', 'dev', { token: 'laptop', expiresAt: '2030-01-01T00:00:00.000Z' }],
        ['revoke a token', asAdmin, 'DELETE', '/accounts/dev/tokens/laptop', undefined, 'token.revoke', 'admin', 'dev', { token: 'laptop' }],
        ['grant', asOps, 'POST', '/permissions', { account: 'dev', pattern: 'team/**', actions: ['pull', 'push'] }, 'permission.grant', 'ops', '?', { account: 'dev', anonymous: false, pattern: 'team/**', actions: ['pull', 'push'] }],
        ['grant anonymous', asAdmin, 'POST', '/permissions', { anonymous: true, pattern: 'public/*', actions: ['pull'] }, 'permission.grant', 'admin', '?', { account: null, anonymous: true, pattern: 'public/*' }],
        ['revoke a grant', asOps, 'DELETE', '/permissions/?', undefined, 'permission.revoke', 'ops', '?', { account: null, anonymous: true, pattern: 'public/*', actions: ['pull'] }],
        ['cache settings', asOps, 'PUT', '/repositories/team/app/cache-settings', { branchPattern: null, mergeTags: ['cache-*'], fallbackTags: ['cache'] }, 'cache_settings.update', 'ops', 'team/app', { mergeTags: ['cache-*'], fallbackTags: ['cache'] }],
      ];
      for (const [what, who, method, rawPath, body, action, actor, rawTarget, details] of changes) {
        const before = await lastEventId(ctx.base);
        const path = rawPath.replace('?', String(permissionId));
        const response = await call(ctx.base, method, path, who, body);
        assert.ok(response.status < 300, `${what}: ${response.status} ${response.text()}`);
        if (response.status !== 204) {
          assertCamelCase(response, what);
          if (response.json().secret) secrets.push(response.json().secret);
        }
        if (action === 'robot.rotate_secret') robotSecret = response.json().secret;
        if (action === 'permission.grant') permissionId = response.json().id;
        const target = rawTarget === '?' ? String(permissionId) : rawTarget;
        const changesLogged = (await events(ctx.base, `&action=${action}`)).filter((e) => e.id > before);
        assert.equal(changesLogged.length, 1, `${what}: exactly one ${action} event`);
        const event = changesLogged[0]!;
        assert.equal(event.actor, actor, `${what}: actor`);
        assert.equal(event.actorKind, 'account', `${what}: actor kind`);
        assert.equal(event.target, target, `${what}: the object changed, not the route`);
        assert.equal(event.clientIp, '127.0.0.1', what);
        for (const [k, v] of Object.entries(details)) assert.deepEqual(event.details?.[k], v, `${what}: details.${k}`);
      }
      assert.match(robotSecret, /^cairn_robot_/);
      // Secrets and passwords never reach the audit log.
      const all = JSON.stringify(await events(ctx.base));
      for (const secret of [...secrets, 'carol-password']) assert.ok(!all.includes(secret), 'a secret in the audit log');
      // The target filter finds what happened to one object.
      const carol = await events(ctx.base, '&target=carol');
      assert.deepEqual(carol.map((e) => e.action), ['user.update', 'user.update', 'user.create']);
    });

    test('a refused or failed change is not audited', async () => {
      const before = await lastEventId(ctx.base);
      const refusals: Array<[Record<string, string>, string, string, unknown]> = [
        [asDev, 'POST', '/users', { name: 'mallory', password: 'mallory-password' }],
        [asAdmin, 'POST', '/users', { name: 'dev', password: 'duplicate-password' }],
        [asAdmin, 'PATCH', '/users/ghost', { disabled: true }],
        [asAdmin, 'DELETE', '/permissions/999999', undefined],
        [asAdmin, 'POST', '/permissions', { account: 'dev', pattern: '../etc', actions: ['pull'] }],
        [{}, 'PUT', '/repositories/team/app/cache-settings', { branchPattern: null, mergeTags: [], fallbackTags: [] }],
      ];
      for (const [who, method, path, body] of refusals) assert.ok((await call(ctx.base, method, path, who, body)).status >= 400, `${method} ${path}`);
      const changes = (await events(ctx.base)).filter((e) => e.id > before && !['login', 'login_failed', 'token_issued'].includes(e.action));
      assert.deepEqual(changes, []);
    });

    test('camelCase in every answer: users, robots, tokens, permissions, audit events, caches, cache settings', async () => {
      for (const path of ['/users', '/users/dev', '/robots', '/accounts/dev/tokens', '/permissions', '/audit-events', '/caches', '/repositories/team/app/caches', '/repositories/team/app/cache-settings']) {
        const response = await admin(ctx.base, 'GET', path);
        assert.equal(response.status, 200, `${path}: ${response.text()}`);
        assertCamelCase(response, path);
      }
      const tokens = (await admin(ctx.base, 'GET', '/accounts/dev/tokens')).json().tokens;
      assert.deepEqual(Object.keys(tokens[0]).sort(), ['account', 'createdAt', 'expiresAt', 'lastUsedAt', 'name', 'revokedAt']);
      assert.ok(tokens[0].revokedAt, 'the revoked token says when');
      const event = (await events(ctx.base))[0]!;
      assert.deepEqual(Object.keys(event).sort(), ['action', 'actor', 'actorKind', 'at', 'clientIp', 'details', 'id', 'target']);
    });

    test('answers carry only what their schema names: no password hashes, no ids of other tables', async () => {
      const text = (await admin(ctx.base, 'GET', '/users')).text() + (await admin(ctx.base, 'GET', '/accounts/dev/tokens')).text();
      assert.ok(!/secret_?hash|secretHash|accountId|account_id/i.test(text), text);
    });

    test('request bodies in snake_case (or any unknown property) are refused, not silently ignored', async () => {
      const error = assertError(await admin(ctx.base, 'POST', '/accounts/dev/tokens', { name: 'old-style', expires_at: '2030-01-01T00:00:00Z' }), 400, 'invalid_request', 'expires_at');
      assert.deepEqual(error.detail, [{ in: 'body', path: '', message: 'must NOT have additional properties' }]);
      const tokens = (await admin(ctx.base, 'GET', '/accounts/dev/tokens')).json().tokens as Array<{ name: string }>;
      assert.ok(!tokens.some((t) => t.name === 'old-style'), 'nothing was created');
    });

    test('every kind of failure answers in the one error shape, with its status and code', async () => {
      const json = { ...asAdmin, 'content-type': 'application/json' };
      const url = (path: string) => `${ctx.base}/api/v1${path}`;
      const cases: Array<[string, Promise<TestResponse>, number, string]> = [
        ['schema violation (body)', admin(ctx.base, 'POST', '/users', { name: 'Bad Name', password: 'x' }), 400, 'invalid_request'],
        ['schema violation (body types are not coerced)', admin(ctx.base, 'POST', '/users', { name: 'typed', password: 'typed-password', admin: 'true' }), 400, 'invalid_request'],
        ['schema violation (query)', admin(ctx.base, 'GET', '/audit-events?limit=0'), 400, 'invalid_request'],
        ['schema violation (path)', admin(ctx.base, 'DELETE', '/permissions/abc'), 400, 'invalid_request'],
        ['domain validation', admin(ctx.base, 'POST', '/permissions', { account: 'dev', pattern: '../etc', actions: ['pull'] }), 400, 'invalid_request'],
        ['invalid repository name', admin(ctx.base, 'GET', '/repositories/Team/App/caches'), 400, 'invalid_request'],
        ['malformed JSON', http('POST', url('/users'), { headers: json, body: '{"name": "x",' }), 400, 'malformed_body'],
        ['empty JSON body', http('POST', url('/users'), { headers: json, body: '' }), 400, 'malformed_body'],
        ['prototype poisoning', http('POST', url('/users'), { headers: json, body: '{"name":"x","password":"y-password","__proto__":{"admin":true}}' }), 400, 'malformed_body'],
        ['not JSON', http('POST', url('/users'), { headers: { ...asAdmin, 'content-type': 'text/plain' }, body: 'name=x' }), 415, 'unsupported_media_type'],
        ['oversized body', http('POST', url('/robots'), { headers: json, body: JSON.stringify({ name: 'x', description: 'y'.repeat(2 * 1024 * 1024) }) }), 413, 'body_too_large'],
        ['unknown route', admin(ctx.base, 'GET', '/nothing-here'), 404, 'not_found'],
        ['unknown route, root of the API', http('GET', url(''), { headers: asAdmin }), 404, 'not_found'],
        ['unknown route under a repository', admin(ctx.base, 'GET', '/repositories/team/app/nothing-here'), 404, 'not_found'],
        ['unknown object', admin(ctx.base, 'PATCH', '/users/ghost', { disabled: true }), 404, 'not_found'],
        ['unknown repository', admin(ctx.base, 'GET', '/repositories/team/nothing/caches'), 404, 'not_found'],
        ['conflict', admin(ctx.base, 'POST', '/users', dev), 409, 'conflict'],
        ['no credentials', http('GET', url('/users')), 401, 'unauthorized'],
        ['wrong password', http('GET', url('/users'), { headers: basic('admin', 'wrong-password') }), 401, 'unauthorized'],
        ['malformed Authorization', http('GET', url('/users'), { headers: { authorization: 'Basic !!!' } }), 401, 'unauthorized'],
        ['forged Bearer token', http('GET', url('/users'), { headers: { authorization: 'Bearer not.a.token' } }), 401, 'unauthorized'],
        ['not an admin', http('GET', url('/users'), { headers: asDev }), 403, 'forbidden'],
        ['not an admin, writing cache settings', http('PUT', url('/repositories/team/app/cache-settings'), { headers: { ...asDev, 'content-type': 'application/json' }, body: '{}' }), 403, 'forbidden'],
      ];
      for (const [what, pending, status, code] of cases) {
        const response = await pending;
        const error = assertError(response, status, code, what);
        if (status === 401) assert.match(response.headers['www-authenticate'] ?? '', /^Basic realm=/, what);
        if (what.startsWith('schema violation')) {
          assert.ok(Array.isArray(error.detail) && error.detail.length > 0, `${what}: issues in detail`);
          for (const issue of error.detail) assert.deepEqual(Object.keys(issue).sort(), ['in', 'message', 'path'], what);
        }
      }
    });

    test('a method a path does not have: 405 with Allow, on plain and repository paths', async () => {
      const cases: Array<[string, string, string[]]> = [
        ['DELETE', '/users', ['GET', 'HEAD', 'POST']],
        ['PUT', '/users/dev', ['GET', 'HEAD', 'PATCH']],
        ['GET', '/robots/builder/secret', ['POST']],
        ['POST', '/audit-events', ['GET', 'HEAD']],
        ['PATCH', '/repositories/team/app/cache-settings', ['GET', 'HEAD', 'PUT']],
        ['DELETE', '/repositories/team/app/caches', ['GET', 'HEAD']],
      ];
      for (const [method, path, allow] of cases) {
        const response = await admin(ctx.base, method, path);
        const error = assertError(response, 405, 'method_not_allowed', `${method} ${path}`);
        assert.equal(response.headers.allow, allow.join(', '), `${method} ${path}`);
        assert.deepEqual(error.detail, { allow }, `${method} ${path}`);
      }
    });

    test('failed logins: 429 with Retry-After, in the same shape', async () => {
      assert.equal((await admin(ctx.base, 'POST', '/users', { name: 'guessed', password: 'guessed-password' })).status, 201);
      for (let i = 0; i < MAX_FAILED_LOGINS; i++) {
        assertError(await http('GET', `${ctx.base}/api/v1/users`, { headers: basic('guessed', `guess-${i}`) }), 401, 'unauthorized', `guess ${i}`);
      }
      const limited = await http('GET', `${ctx.base}/api/v1/users`, { headers: basic('guessed', 'guessed-password') });
      const error = assertError(limited, 429, 'too_many_requests', 'locked out');
      assert.ok(Number(limited.headers['retry-after']) > 0);
      assert.equal(error.detail.retryAfterSeconds, Number(limited.headers['retry-after']));
    });
  },
  { env: { CAIRN_ADMIN_PASSWORD: ADMIN_PASSWORD, CAIRN_MAX_FAILED_LOGINS: String(MAX_FAILED_LOGINS) } },
);

describeOnEachDatabase('admin API on an open registry (no admin yet, loopback)', (ctx) => {
  test('changes are audited with actor "anonymous" of kind "open"; the first admin closes the registry', async () => {
    const open = (method: string, path: string, body?: unknown) => call(ctx.base, method, path, {}, body);
    assert.equal((await open('POST', '/users', { name: 'alice', password: 'alice-password' })).status, 201);
    assert.equal((await open('PUT', '/repositories/team/app/cache-settings', { branchPattern: null, mergeTags: [], fallbackTags: [] })).status, 200);
    assert.equal((await open('POST', '/users', { name: 'root', password: 'root-password', admin: true })).status, 201);
    // From now on the API needs credentials, and the log says who acted before.
    assertError(await open('GET', '/audit-events'), 401, 'unauthorized', 'closed');
    const response = await call(ctx.base, 'GET', '/audit-events', basic('root', 'root-password'));
    const changes = (response.json().events as AuditEvent[]).filter((e) => e.action !== 'login').reverse();
    assert.deepEqual(
      changes.map((e) => [e.action, e.actor, e.actorKind, e.target]),
      [
        ['user.create', 'anonymous', 'open', 'alice'],
        ['cache_settings.update', 'anonymous', 'open', 'team/app'],
        ['user.create', 'anonymous', 'open', 'root'],
      ],
    );
  });
});
