/**
 * The OpenAPI document of /api/v1 is valid (checked by @apidevtools/swagger-parser) and true: every
 * operation is called — to success and to each failure it can meet — against a real server, every
 * status seen is documented for that operation, every documented status is seen (the few that a
 * loopback test cannot cause are listed, with why), and every body conforms to the documented
 * schema (ajv, JSON Schema 2020-12 as OpenAPI 3.1 uses). An operation added without a success
 * call here fails the suite.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { ADMIN_PASSWORD, admin, basic } from '../support/auth.js';
import { http, type TestResponse } from '../support/http.js';
import { describeOnEachDatabase } from '../support/suite.js';
import { fixtureManifest, pushManifest } from '../cache-api/support.js';
import { buildBody } from '../build/support/builds.js';
import { CacheMounts } from '../../src/build/engine/cache-mounts.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const MAX_FAILED_LOGINS = 5;

/** Documented statuses no loopback test can cause, per operation. */
const UNREACHABLE: Record<string, Record<number, string>> = {
  // For the registry-wide list a caller without rights gets a filtered list; 403 comes only from
  // an open registry (no admin yet) to a caller off loopback.
  listCaches: { 403: 'open registry, caller off loopback' },
  // A policy being run by another replica (or process): the lease itself is tested in test/retention/lease.test.ts.
  runRetention: { 409: 'a run of the policy in progress elsewhere' },
  // Builds turned off (no worker alive): test/build/api.test.ts ("builds off").
  createBuild: { 503: 'no build worker running (--build-workers 0): test/build/api.test.ts' },
  // Like listCaches: a build that is not yours is 404, so 403 comes only from an open registry off loopback.
  listBuilds: { 403: 'open registry, caller off loopback' },
  getBuild: { 403: 'open registry, caller off loopback' },
  getBuildEvents: { 403: 'open registry, caller off loopback' },
  cancelBuild: { 403: 'open registry, caller off loopback' },
};

interface Operation {
  operationId: string;
  security?: unknown[];
  requestBody?: unknown;
  parameters: Array<{ name: string; in: string }>;
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
}

interface Call {
  operationId: string;
  method: string;
  path: string;
  who?: Record<string, string>;
  body?: string | Buffer;
  contentType?: string;
}

interface Seen {
  call: Call;
  response: TestResponse;
}

describeOnEachDatabase(
  'OpenAPI document',
  (ctx) => {
    const asAdmin = basic('admin', ADMIN_PASSWORD);
    const dev = basic('dev', 'dev-password-1');
    const locked = basic('locked', 'locked-password-1');
    let doc: { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, object> } };
    const operations = new Map<string, { method: string; template: string; operation: Operation }>();
    const seen: Seen[] = [];

    const send = async (c: Call): Promise<TestResponse> => {
      const headers: Record<string, string> = { ...(c.who ?? {}), ...(c.body !== undefined ? { 'content-type': c.contentType ?? 'application/json' } : {}) };
      let response: TestResponse;
      try {
        response = await http(c.method, `${ctx.base}/api/v1${c.path}`, { headers, body: c.body });
      } catch (e) {
        // Name the call: a transport error alone (EPIPE, ECONNRESET) does not say which one failed.
        throw new Error(`${c.operationId} ${c.method} ${c.path} (body: ${c.body?.length ?? 0} bytes): ${(e as Error).message}`, { cause: e });
      }
      seen.push({ call: c, response });
      return response;
    };
    const json = (value: unknown) => JSON.stringify(value);

    before(async () => {
      doc = (await http('GET', `${ctx.base}/api/v1/openapi.json`)).json();
      for (const [template, methods] of Object.entries(doc.paths)) {
        for (const [method, operation] of Object.entries(methods)) operations.set(operation.operationId, { method: method.toUpperCase(), template, operation });
      }
    });

    test('the document is valid OpenAPI 3.1', async () => {
      await SwaggerParser.validate(structuredClone(doc) as never);
      const ids = [...operations.keys()];
      assert.equal(new Set(ids).size, ids.length, 'operation ids are unique');
      for (const [id, { operation }] of operations) {
        const success = Object.keys(operation.responses).filter((s) => s.startsWith('2'));
        assert.equal(success.length, 1, `${id}: one success status`);
        if (success[0] !== '204') assert.ok(operation.responses[success[0]!]!.content, `${id}: the success answer has a schema`);
        for (const [status, response] of Object.entries(operation.responses)) {
          if (status.startsWith('4')) assert.ok(response.content, `${id} ${status}: the error shape is documented`);
        }
      }
      assert.equal(operations.get('createUser')?.operation.responses['201'] !== undefined, true, 'POSTs that create answer 201');
    });

    test('setup: accounts, a locked-out one, and two caches to read', async () => {
      for (const [name, password] of [['dev', 'dev-password-1'], ['locked', 'locked-password-1']]) {
        assert.equal((await admin(ctx.base, 'POST', '/users', { name, password })).status, 201);
      }
      const min = fixtureManifest('c-min');
      const deps = fixtureManifest('g-two-refs', 'two-deps');
      await pushManifest(ctx.base, 'team/cache', 'cache-main', min.bytes, min.mediaType, { headers: asAdmin });
      await pushManifest(ctx.base, 'team/cache', 'cache', deps.bytes, deps.mediaType, { headers: asAdmin });
      // A build cache mount, as a build worker of this server leaves it under DATA_DIR/worker.
      const mounts = new CacheMounts(join(ctx.server.dataDir, 'worker', 'cache-mounts'));
      await mounts.use('team/cache', { type: 'cache', target: '/root/.cache', id: 'probe', sharing: 'shared', readonly: false }, (dir) => writeFile(join(dir, 'f'), 'x'));
    });

    test('every operation, called to success and to each failure it can meet', async () => {
      const build = await buildBody({ tags: ['team/built:1'] }, { Dockerfile: 'FROM scratch\n' });
      // Success, in an order where each call finds what it needs.
      const success: Call[] = [
        { operationId: 'getOpenApiDocument', method: 'GET', path: '/openapi.json' },
        { operationId: 'listUsers', method: 'GET', path: '/users' },
        { operationId: 'createUser', method: 'POST', path: '/users', body: json({ name: 'probe', password: 'probe-password', admin: false }) },
        { operationId: 'getUser', method: 'GET', path: '/users/probe' },
        { operationId: 'updateUser', method: 'PATCH', path: '/users/probe', body: json({ disabled: false }) },
        { operationId: 'listRobots', method: 'GET', path: '/robots' },
        { operationId: 'createRobot', method: 'POST', path: '/robots', body: json({ name: 'probe-bot', description: 'probe' }) },
        { operationId: 'updateRobot', method: 'PATCH', path: '/robots/probe-bot', body: json({ disabled: false }) },
        { operationId: 'rotateRobotSecret', method: 'POST', path: '/robots/probe-bot/secret' },
        { operationId: 'createToken', method: 'POST', path: '/accounts/dev/tokens', body: json({ name: 'probe', expiresAt: '2030-01-01T00:00:00Z' }) },
        { operationId: 'listTokens', method: 'GET', path: '/accounts/dev/tokens' },
        { operationId: 'revokeToken', method: 'DELETE', path: '/accounts/dev/tokens/probe' },
        { operationId: 'grantPermission', method: 'POST', path: '/permissions', body: json({ account: 'dev', pattern: 'probe/*', actions: ['pull'] }) },
        { operationId: 'listPermissions', method: 'GET', path: '/permissions' },
        { operationId: 'revokePermission', method: 'DELETE', path: '/permissions/{id}' },
        { operationId: 'listAuditEvents', method: 'GET', path: '/audit-events?limit=50&actor=admin' },
        { operationId: 'listCaches', method: 'GET', path: '/caches' },
        { operationId: 'listRepositoryCaches', method: 'GET', path: '/repositories/team/cache/caches' },
        { operationId: 'getCache', method: 'GET', path: '/repositories/team/cache/caches/cache-main' },
        { operationId: 'diffCaches', method: 'GET', path: '/repositories/team/cache/caches/cache-main/diff/cache' },
        { operationId: 'putCacheSettings', method: 'PUT', path: '/repositories/team/cache/cache-settings', body: json({ branchPattern: null, mergeTags: ['cache-*'], fallbackTags: ['cache'] }) },
        { operationId: 'getCacheSettings', method: 'GET', path: '/repositories/team/cache/cache-settings' },
        { operationId: 'getGcStatus', method: 'GET', path: '/gc' },
        { operationId: 'runGc', method: 'POST', path: '/gc/runs?dryRun=true' },
        { operationId: 'putRetentionPolicy', method: 'PUT', path: '/retention/policies/probe', body: json({ repositories: ['team/**'], tags: { kind: 'glob', patterns: ['cache-old-*'] }, delete: { unusedForDays: 30 }, prune: { unusedDays: 14 } }) },
        { operationId: 'getRetentionPolicy', method: 'GET', path: '/retention/policies/probe' },
        { operationId: 'listRetentionPolicies', method: 'GET', path: '/retention/policies' },
        { operationId: 'planRetention', method: 'GET', path: '/retention/plan?policy=probe' },
        { operationId: 'planRetentionPost', method: 'POST', path: '/retention/plan', body: json({ policy: 'probe' }) },
        { operationId: 'runRetention', method: 'POST', path: '/retention/runs', body: json({ policy: 'probe' }) },
        { operationId: 'listRetentionRuns', method: 'GET', path: '/retention/runs?policy=probe&limit=10' },
        { operationId: 'getRetentionRun', method: 'GET', path: '/retention/runs/{run}' },
        { operationId: 'putGitMapping', method: 'PUT', path: '/retention/git-mappings/org%2Fapp', body: json({ repositories: ['team/cache'] }) },
        { operationId: 'listGitMappings', method: 'GET', path: '/retention/git-mappings' },
        { operationId: 'deleteGitMapping', method: 'DELETE', path: '/retention/git-mappings/org%2Fapp' },
        { operationId: 'putBranchState', method: 'PUT', path: '/repositories/team/cache/branches/feature%2Fx', body: json({ state: 'gone' }) },
        { operationId: 'getBranch', method: 'GET', path: '/repositories/team/cache/branches/feature-x' },
        { operationId: 'syncBranches', method: 'PUT', path: '/repositories/team/cache/branches', body: json({ live: ['main'] }) },
        { operationId: 'listBranches', method: 'GET', path: '/repositories/team/cache/branches' },
        { operationId: 'getCacheUsage', method: 'GET', path: '/repositories/team/cache/cache-usage' },
        { operationId: 'deleteRetentionPolicy', method: 'DELETE', path: '/retention/policies/probe' },
        { operationId: 'createBuild', method: 'POST', path: '/builds', body: build.body, contentType: build.contentType },
        { operationId: 'listBuilds', method: 'GET', path: '/builds?limit=10' },
        { operationId: 'getBuild', method: 'GET', path: '/builds/{build}' },
        { operationId: 'cancelBuild', method: 'POST', path: '/builds/{build}/cancel' },
        { operationId: 'getBuildEvents', method: 'GET', path: '/builds/{build}/events?after=0' },
        { operationId: 'listCacheMounts', method: 'GET', path: '/repositories/team/cache/cache-mounts' },
        { operationId: 'deleteCacheMount', method: 'DELETE', path: '/repositories/team/cache/cache-mounts/probe' },
        { operationId: 'deleteCacheMounts', method: 'DELETE', path: '/repositories/team/cache/cache-mounts' },
      ];
      assert.deepEqual(
        [...operations.keys()].filter((id) => !success.some((c) => c.operationId === id)),
        [],
        'every documented operation has a success call here',
      );
      let grantId = 0;
      let runId = 0;
      let buildId = '';
      const idsIn = (path: string) => path.replace('{id}', String(grantId)).replace('{run}', String(runId)).replace('{build}', buildId);
      for (const c of success) {
        const response = await send({ ...c, path: idsIn(c.path), who: asAdmin });
        assert.ok(response.status < 300, `${c.operationId}: ${response.status} ${response.text()}`);
        if (c.operationId === 'grantPermission') grantId = response.json().id;
        if (c.operationId === 'runRetention') runId = response.json().runs[0].id;
        if (c.operationId === 'createBuild') buildId = response.json().id;
      }

      // Failures every operation of its kind can meet, from the document itself.
      const nobody = (i: number) => basic(`nobody-${i}`, 'wrong-password');
      for (const [i, c] of success.entries()) {
        const { operation } = operations.get(c.operationId)!;
        const path = idsIn(c.path);
        if (operation.security === undefined || operation.security.length > 0) {
          await send({ ...c, path, who: nobody(i) });
          await send({ ...c, path, who: dev });
        }
        if (operation.requestBody) {
          await send({ ...c, path, who: asAdmin, body: '{}' });
          await send({ ...c, path, who: asAdmin, body: '{"truncated": ' });
          await send({ ...c, path, who: asAdmin, body: 'name=x', contentType: 'text/plain' });
          await send({ ...c, path, who: asAdmin, body: json({ padding: 'x'.repeat(2 * 1024 * 1024) }) });
        }
      }

      // Failures of each operation's own.
      const domain: Call[] = [
        { operationId: 'createUser', method: 'POST', path: '/users', body: json({ name: 'probe', password: 'probe-password' }) },
        { operationId: 'getUser', method: 'GET', path: '/users/ghost' },
        { operationId: 'updateUser', method: 'PATCH', path: '/users/ghost', body: json({ disabled: true }) },
        { operationId: 'createRobot', method: 'POST', path: '/robots', body: json({ name: 'probe-bot' }) },
        { operationId: 'updateRobot', method: 'PATCH', path: '/robots/ghost', body: json({ disabled: true }) },
        { operationId: 'rotateRobotSecret', method: 'POST', path: '/robots/ghost/secret' },
        { operationId: 'listTokens', method: 'GET', path: '/accounts/ghost/tokens' },
        { operationId: 'createToken', method: 'POST', path: '/accounts/ghost/tokens', body: json({ name: 'x' }) },
        { operationId: 'createToken', method: 'POST', path: '/accounts/dev/tokens', body: json({ name: 'probe' }) },
        { operationId: 'revokeToken', method: 'DELETE', path: '/accounts/dev/tokens/ghost' },
        { operationId: 'grantPermission', method: 'POST', path: '/permissions', body: json({ account: 'ghost', pattern: 'x/*', actions: ['pull'] }) },
        { operationId: 'revokePermission', method: 'DELETE', path: '/permissions/999999' },
        { operationId: 'revokePermission', method: 'DELETE', path: '/permissions/abc' },
        { operationId: 'listAuditEvents', method: 'GET', path: '/audit-events?limit=0' },
        { operationId: 'listRepositoryCaches', method: 'GET', path: '/repositories/team/nothing/caches' },
        { operationId: 'listRepositoryCaches', method: 'GET', path: '/repositories/Team/Cache/caches' },
        { operationId: 'getCache', method: 'GET', path: '/repositories/team/cache/caches/nope' },
        { operationId: 'getCache', method: 'GET', path: '/repositories/Team/Cache/caches/nope' },
        { operationId: 'diffCaches', method: 'GET', path: '/repositories/team/cache/caches/cache-main/diff/nope' },
        { operationId: 'diffCaches', method: 'GET', path: '/repositories/Team/Cache/caches/a/diff/b' },
        { operationId: 'getCacheSettings', method: 'GET', path: '/repositories/team/nothing/cache-settings' },
        { operationId: 'getCacheSettings', method: 'GET', path: '/repositories/Team/Cache/cache-settings' },
        { operationId: 'putCacheSettings', method: 'PUT', path: '/repositories/Team/Cache/cache-settings', body: json({ branchPattern: null, mergeTags: [], fallbackTags: [] }) },
        { operationId: 'runGc', method: 'POST', path: '/gc/runs?dryRun=maybe' },
        { operationId: 'getRetentionPolicy', method: 'GET', path: '/retention/policies/ghost' },
        { operationId: 'getRetentionPolicy', method: 'GET', path: '/retention/policies/Bad%20Name' },
        { operationId: 'putRetentionPolicy', method: 'PUT', path: '/retention/policies/probe', body: json({ repositories: ['team/**'], tags: { kind: 'regex', pattern: '(a+)+$' } }) },
        { operationId: 'deleteRetentionPolicy', method: 'DELETE', path: '/retention/policies/ghost' },
        { operationId: 'deleteRetentionPolicy', method: 'DELETE', path: '/retention/policies/Bad%20Name' },
        { operationId: 'planRetention', method: 'GET', path: '/retention/plan?policy=ghost' },
        { operationId: 'planRetention', method: 'GET', path: '/retention/plan?policy=Bad%20Name' },
        { operationId: 'planRetentionPost', method: 'POST', path: '/retention/plan', body: json({ policy: 'ghost' }) },
        { operationId: 'planRetentionPost', method: 'POST', path: '/retention/plan', body: json({ policy: 'Bad Name' }) },
        { operationId: 'runRetention', method: 'POST', path: '/retention/runs', body: json({ policy: 'ghost' }) },
        { operationId: 'listRetentionRuns', method: 'GET', path: '/retention/runs?limit=0' },
        { operationId: 'getRetentionRun', method: 'GET', path: '/retention/runs/999999' },
        { operationId: 'getRetentionRun', method: 'GET', path: '/retention/runs/abc' },
        { operationId: 'putGitMapping', method: 'PUT', path: '/retention/git-mappings/not-a-path', body: json({ repositories: ['team/cache'] }) },
        { operationId: 'deleteGitMapping', method: 'DELETE', path: '/retention/git-mappings/org%2Fghost' },
        { operationId: 'deleteGitMapping', method: 'DELETE', path: '/retention/git-mappings/not-a-path' },
        { operationId: 'getBranch', method: 'GET', path: '/repositories/team/nothing/branches/main' },
        { operationId: 'getBranch', method: 'GET', path: '/repositories/Team/Cache/branches/main' },
        { operationId: 'getBranch', method: 'GET', path: `/repositories/team/cache/branches/${'b'.repeat(256)}` },
        { operationId: 'putBranchState', method: 'PUT', path: '/repositories/team/nothing/branches/main', body: json({ state: 'gone' }) },
        { operationId: 'putBranchState', method: 'PUT', path: '/repositories/Team/Cache/branches/main', body: json({ state: 'gone' }) },
        { operationId: 'listBranches', method: 'GET', path: '/repositories/team/nothing/branches' },
        { operationId: 'listBranches', method: 'GET', path: '/repositories/Team/Cache/branches' },
        { operationId: 'syncBranches', method: 'PUT', path: '/repositories/team/nothing/branches', body: json({ live: ['main'] }) },
        { operationId: 'syncBranches', method: 'PUT', path: '/repositories/Team/Cache/branches', body: json({ live: ['main'] }) },
        { operationId: 'getCacheUsage', method: 'GET', path: '/repositories/team/nothing/cache-usage' },
        { operationId: 'getCacheUsage', method: 'GET', path: '/repositories/Team/Cache/cache-usage' },
        { operationId: 'createBuild', method: 'POST', path: '/builds', ...(await buildBody({ tags: ['team/built:1'], dockerFile: 'x' }, {})), contentType: build.contentType.replace(/boundary=.*/, '') },
        { operationId: 'createBuild', method: 'POST', path: '/builds', ...(await buildBody({ tags: ['team/built:1'] }, { big: Buffer.alloc(300 * 1024) })) },
        { operationId: 'listBuilds', method: 'GET', path: '/builds?limit=0' },
        { operationId: 'getBuild', method: 'GET', path: '/builds/00000000-0000-4000-8000-000000000000' },
        { operationId: 'getBuild', method: 'GET', path: '/builds/not-a-uuid' },
        { operationId: 'cancelBuild', method: 'POST', path: '/builds/00000000-0000-4000-8000-000000000000/cancel' },
        { operationId: 'cancelBuild', method: 'POST', path: '/builds/not-a-uuid/cancel' },
        { operationId: 'getBuildEvents', method: 'GET', path: '/builds/00000000-0000-4000-8000-000000000000/events' },
        { operationId: 'getBuildEvents', method: 'GET', path: '/builds/not-a-uuid/events' },
        { operationId: 'listCacheMounts', method: 'GET', path: '/repositories/Team/Cache/cache-mounts' },
        { operationId: 'deleteCacheMount', method: 'DELETE', path: '/repositories/team/cache/cache-mounts/ghost' },
        { operationId: 'deleteCacheMount', method: 'DELETE', path: '/repositories/Team/Cache/cache-mounts/ghost' },
        { operationId: 'deleteCacheMounts', method: 'DELETE', path: '/repositories/Team/Cache/cache-mounts' },
      ];
      for (const c of domain) await send({ ...c, who: asAdmin });

      // Last, as it locks an account for a minute: failed logins, then every operation as it.
      for (let i = 0; i < MAX_FAILED_LOGINS; i++) await http('GET', `${ctx.base}/api/v1/users`, { headers: basic('locked', `guess-${i}`) });
      for (const c of success) {
        const { operation } = operations.get(c.operationId)!;
        if (operation.security === undefined || operation.security.length > 0) await send({ ...c, path: idsIn(c.path), who: locked });
      }
    });

    test('every status seen is documented for its operation, and every documented one is seen', () => {
      const observed = new Map<string, Set<number>>();
      for (const { call, response } of seen) {
        const { operation } = operations.get(call.operationId)!;
        const failures = response.status >= 500 ? ctx.server.logs.filter((l) => l.includes('"level":50')).join('\n').slice(0, 2000) : '';
        assert.ok(operation.responses[response.status], `${call.operationId}: ${call.method} ${call.path} answered ${response.status}, not documented (${response.text().slice(0, 200)}) ${failures}`);
        (observed.get(call.operationId) ?? observed.set(call.operationId, new Set()).get(call.operationId)!).add(response.status);
      }
      for (const [id, { operation }] of operations) {
        const missing = Object.keys(operation.responses)
          .map(Number)
          .filter((status) => !observed.get(id)?.has(status) && !UNREACHABLE[id]?.[status]);
        assert.deepEqual(missing, [], `${id}: documented but never answered`);
      }
    });

    test('every answer conforms to the schema documented for its operation and status', () => {
      const ajv = addFormats.default(new Ajv2020({ strict: false, allErrors: true }));
      const compiled = new Map<object, ReturnType<typeof ajv.compile>>();
      const resolve = (schema: Record<string, unknown>) => (typeof schema.$ref === 'string' ? doc.components.schemas[schema.$ref.split('/').pop()!]! : schema);
      let checked = 0;
      for (const { call, response } of seen) {
        const documented = operations.get(call.operationId)!.operation.responses[response.status]!;
        const [mediaType, content] = Object.entries(documented.content ?? {})[0] ?? [];
        const schema = content?.schema;
        if (!schema) {
          assert.equal(response.body.length, 0, `${call.operationId} ${response.status}: no body documented, none sent`);
          continue;
        }
        assert.equal((response.headers['content-type'] ?? '').split(';')[0], mediaType, `${call.operationId} ${response.status}`);
        const target = resolve(schema);
        const validate = compiled.get(target) ?? compiled.set(target, ajv.compile(target)).get(target)!;
        // An NDJSON stream: each line is one documented item.
        const bodies = mediaType === 'application/x-ndjson' ? response.text().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [response.json()];
        for (const body of bodies) {
          assert.ok(validate(body), `${call.operationId} ${call.method} ${call.path} ${response.status}: ${ajv.errorsText(validate.errors)}\n${response.text().slice(0, 500)}`);
        }
        checked++;
      }
      assert.ok(checked > 100, `only ${checked} answers checked`);
    });
  },
  { env: { CAIRN_ADMIN_PASSWORD: ADMIN_PASSWORD, CAIRN_MAX_FAILED_LOGINS: String(MAX_FAILED_LOGINS), CAIRN_BUILD_CONTEXT_MAX_BYTES: String(256 * 1024) } },
);
