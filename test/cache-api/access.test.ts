/**
 * Who may read the cache API once access control is on (CAIRN_ADMIN_PASSWORD): pull permission on the
 * repository (Basic or Bearer), or admin. Without it: 401 for no/bad credentials, 403 for an account lacking
 * pull — on every route. The registry-wide list is filtered to what the caller may pull. Settings are written by
 * admins only. Imports by an authenticated client are still counted.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADMIN_PASSWORD, admin, basic, bearer, tokenFor } from '../support/auth.js';
import { http } from '../support/http.js';
import { describeOnEachDatabase } from '../support/suite.js';
import { api, eventually, fixtureManifest, metrics, pushManifest, putSettings } from './support.js';

describeOnEachDatabase(
  'cache API under access control',
  (ctx) => {
    const puller = { name: 'cache-puller', password: 'puller-password-1' };
    const outsider = { name: 'cache-outsider', password: 'outsider-password-1' };
    const asAdmin = basic('admin', ADMIN_PASSWORD);
    const asPuller = basic(puller.name, puller.password);
    const asOutsider = basic(outsider.name, outsider.password);
    const repos = ['team/cache', 'secret/cache', 'other/cache', 'public/cache'];
    const routes = (repo: string) => [
      `/repositories/${repo}/caches`,
      `/repositories/${repo}/caches/cache-main`,
      `/repositories/${repo}/caches/cache-main/diff/cache`,
      `/repositories/${repo}/cache-settings`,
    ];

    test('setup: users, grants, and one cache pushed (as admin, with Basic) to each repository', async () => {
      assert.equal((await admin(ctx.base, 'POST', '/users', puller)).status, 201);
      assert.equal((await admin(ctx.base, 'POST', '/users', outsider)).status, 201);
      const grants = [
        { account: puller.name, pattern: 'team/*', actions: ['pull'] },
        { account: outsider.name, pattern: 'other/*', actions: ['pull'] },
        { anonymous: true, pattern: 'public/*', actions: ['pull'] },
      ];
      for (const grant of grants) assert.equal((await admin(ctx.base, 'POST', '/permissions', grant)).status, 201);
      const min = fixtureManifest('c-min');
      const deps = fixtureManifest('g-two-refs', 'two-deps');
      for (const repo of repos) {
        await pushManifest(ctx.base, repo, 'cache-main', min.bytes, min.mediaType, { headers: asAdmin });
        await pushManifest(ctx.base, repo, 'cache', deps.bytes, deps.mediaType, { headers: asAdmin });
      }
    });

    test('no credentials: 401 with a Basic challenge on every route of a private repository', async () => {
      for (const path of routes('team/cache')) {
        const response = await api(ctx.base, path);
        assert.equal(response.status, 401, `${path}: ${response.text()}`);
        assert.match(response.headers['www-authenticate'] ?? '', /^Basic /, path);
      }
    });

    // A 401 carries the code of a 401 (an anonymous caller is refused as unauthenticated, not as forbidden).
    test('no credentials: the 401 says unauthorized, like every other 401 of the API', async () => {
      for (const path of routes('team/cache')) {
        const response = await api(ctx.base, path);
        assert.equal(response.status, 401, path);
        assert.equal(response.json().error.code, 'unauthorized', path);
      }
    });

    test('wrong password: 401', async () => {
      for (const path of routes('team/cache')) {
        assert.equal((await api(ctx.base, path, basic(puller.name, 'wrong-password'))).status, 401, path);
      }
    });

    test('an account without pull on the repository: 403 on every route', async () => {
      for (const [who, repo] of [[asOutsider, 'team/cache'], [asPuller, 'secret/cache'], [asPuller, 'other/cache']] as const) {
        for (const path of routes(repo)) {
          const response = await api(ctx.base, path, who);
          assert.equal(response.status, 403, `${path}: ${response.text()}`);
          assert.equal(response.json().error.code, 'forbidden');
        }
      }
      // No existence leak: an unknown repository outside the grants is 403 too, not 404.
      assert.equal((await api(ctx.base, '/repositories/secret/nothing-here/caches', asPuller)).status, 403);
    });

    test('pull permission (Basic, or a Bearer token from /token): 200 on every route', async () => {
      const token = await tokenFor(ctx.base, ['repository:team/cache:pull'], asPuller);
      for (const who of [asPuller, bearer(token), asAdmin]) {
        for (const path of routes('team/cache')) {
          const response = await api(ctx.base, path, who);
          assert.equal(response.status, 200, `${path}: ${response.text()}`);
        }
      }
      const list = (await api(ctx.base, '/repositories/team/cache/caches', asPuller)).json();
      assert.deepEqual(list.caches.map((c: { tag: string }) => c.tag), ['cache', 'cache-main']);
      assert.deepEqual(list.caches.map((c: { branch: string }) => c.branch), ['default', 'main']);
      // Within the grant, unknown things are plain 404s.
      assert.equal((await api(ctx.base, '/repositories/team/cache/caches/nope', asPuller)).status, 404);
      assert.equal((await api(ctx.base, '/repositories/team/nothing-here/caches', asPuller)).status, 404);
      // Anonymous pull on public/*: the API answers without credentials.
      assert.equal((await api(ctx.base, '/repositories/public/cache/caches')).status, 200);
      assert.equal((await api(ctx.base, '/repositories/public/cache/caches/cache-main')).status, 200);
    });

    test('the registry-wide list holds only what the caller may pull', async () => {
      const keys = async (headers: Record<string, string>) => {
        const response = await api(ctx.base, '/caches', headers);
        assert.equal(response.status, 200, response.text());
        return [...new Set(response.json().caches.map((c: { repository: string }) => c.repository))].sort();
      };
      assert.deepEqual(await keys(asAdmin), [...repos].sort());
      assert.deepEqual(await keys(asPuller), ['public/cache', 'team/cache']);
      assert.deepEqual(await keys(asOutsider), ['other/cache', 'public/cache']);
      // Anonymous: only what anonymous may pull.
      const anonymous = await api(ctx.base, '/caches');
      assert.equal(anonymous.status, 200, anonymous.text());
      assert.deepEqual([...new Set(anonymous.json().caches.map((c: { repository: string }) => c.repository))], ['public/cache']);
      assert.equal((await api(ctx.base, '/caches', basic(outsider.name, 'nope'))).status, 401);
    });

    test('cache-settings: written by admins only', async () => {
      const body = { branchPattern: '^ci-(?<branch>.+)$', mergeTags: [], fallbackTags: [] };
      assert.equal((await putSettings(ctx.base, 'team/cache', body)).status, 401);
      assert.equal((await putSettings(ctx.base, 'team/cache', body, asPuller)).status, 403);
      assert.equal((await putSettings(ctx.base, 'team/cache', body, asOutsider)).status, 403);
      const ok = await putSettings(ctx.base, 'team/cache', body, asAdmin);
      assert.equal(ok.status, 200, ok.text());
      const read = await api(ctx.base, '/repositories/team/cache/cache-settings', asPuller);
      assert.deepEqual(read.json(), body);
      const list = (await api(ctx.base, '/repositories/team/cache/caches', asPuller)).json();
      assert.deepEqual(list.caches.map((c: { branch: string | null }) => c.branch), [null, null], 'the custom pattern applies');
    });

    test('an import by an authenticated client is counted; /metrics answers loopback scrapers', async () => {
      const detail = (await api(ctx.base, '/repositories/team/cache/caches/cache-main', asPuller)).json();
      assert.equal(detail.importCount, 0);
      const token = await tokenFor(ctx.base, ['repository:team/cache:pull'], asPuller);
      const ua = 'buildkit/v0.24 (authenticated)';
      const denied = await http('GET', `${ctx.base}/v2/team/cache/blobs/${detail.configDigest}`, { headers: { 'user-agent': 'anonymous-probe' } });
      assert.equal(denied.status, 401, 'an anonymous GET is refused');
      const get = await http('GET', `${ctx.base}/v2/team/cache/blobs/${detail.configDigest}`, { headers: { ...bearer(token), 'user-agent': ua } });
      assert.equal(get.status, 200);
      await eventually(async () => {
        const now = (await api(ctx.base, '/repositories/team/cache/caches/cache-main', asPuller)).json();
        assert.equal(now.importCount, 1, 'one import: the refused GET does not count');
        assert.equal(now.lastImporter, ua);
      });
      assert.match(await metrics(ctx.base), /cairn_cache_imports_total\{repository="team\/cache"\} 1/);
    });
  },
  { env: { CAIRN_ADMIN_PASSWORD: ADMIN_PASSWORD } },
);
