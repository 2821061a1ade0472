/**
 * Git forge webhooks against a real server with authentication on: GitHub (HMAC signature) and
 * GitLab (token) deliveries mark branches gone or live through the configured mapping; wrong
 * secrets, unknown events and replayed deliveries change nothing.
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { ADMIN_PASSWORD, admin, basic } from '../support/auth.js';
import { http, type TestResponse } from '../support/http.js';
import { blobOf, OCI_CONFIG, OCI_MANIFEST } from '../support/oci.js';
import { describeOnEachDatabase } from '../support/suite.js';

const GITHUB_SECRET = 'github-shared-secret';
const GITLAB_TOKEN = 'gitlab-shared-token';
const ZEROS = '0'.repeat(40);

function github(base: string, event: string, payload: unknown, options: { secret?: string; delivery?: string } = {}): Promise<TestResponse> {
  const body = Buffer.from(JSON.stringify(payload));
  const signature = `sha256=${createHmac('sha256', options.secret ?? GITHUB_SECRET).update(body).digest('hex')}`;
  return http('POST', `${base}/api/v1/hooks/github`, {
    headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': options.delivery ?? randomUUID(), 'x-hub-signature-256': signature },
    body,
  });
}

function gitlab(base: string, event: string, payload: unknown, options: { token?: string; delivery?: string } = {}): Promise<TestResponse> {
  return http('POST', `${base}/api/v1/hooks/gitlab`, {
    headers: { 'content-type': 'application/json', 'x-gitlab-event': event, 'x-gitlab-event-uuid': options.delivery ?? randomUUID(), 'x-gitlab-token': options.token ?? GITLAB_TOKEN },
    body: JSON.stringify(payload),
  });
}

/** Pushes a tiny image under a tag, as the admin. */
async function pushTag(base: string, repository: string, tag: string): Promise<void> {
  const auth = basic('admin', ADMIN_PASSWORD);
  const config = blobOf(JSON.stringify({ tag, at: Math.random() }));
  const upload = await http('POST', `${base}/v2/${repository}/blobs/uploads/?digest=${config.digest}`, { headers: { ...auth, 'content-type': 'application/octet-stream' }, body: config.bytes });
  assert.equal(upload.status, 201, upload.text());
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size }, layers: [] });
  const put = await http('PUT', `${base}/v2/${repository}/manifests/${tag}`, { headers: { ...auth, 'content-type': OCI_MANIFEST }, body: manifest });
  assert.equal(put.status, 201, put.text());
}

async function states(base: string, repository: string): Promise<Record<string, string>> {
  const response = await admin(base, 'GET', `/repositories/${repository}/branches`);
  assert.equal(response.status, 200, response.text());
  return Object.fromEntries(response.json().branches.map((b: { branch: string; state: string }) => [b.branch, b.state]));
}

describeOnEachDatabase(
  'retention webhooks',
  (ctx) => {
    test('setup: repositories with branch caches, and mappings (admin only)', async () => {
      for (const tag of ['cache-main', 'cache-feature-login', 'cache-fix-crash', 'cache-mr-x']) await pushTag(ctx.base, 'web/app', tag);
      await pushTag(ctx.base, 'web/app-arm', 'cache-feature-login');
      const unauthenticated = await http('PUT', `${ctx.base}/api/v1/retention/git-mappings/org%2Fapp`, { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ repositories: ['web/app'] }) });
      assert.equal(unauthenticated.status, 401);
      assert.equal((await admin(ctx.base, 'GET', '/retention/plan')).status, 200);
      assert.equal((await http('GET', `${ctx.base}/api/v1/retention/plan`)).status, 401, 'the retention API needs an admin');
      const mapped = await admin(ctx.base, 'PUT', '/retention/git-mappings/org%2Fapp', { repositories: ['web/app', 'web/app-arm'], lowercase: true });
      assert.equal(mapped.status, 200, mapped.text());
      assert.deepEqual(mapped.json().repositories, ['web/app', 'web/app-arm']);
      assert.equal((await admin(ctx.base, 'PUT', '/retention/git-mappings/group%2Fsub%2Fapp', { repositories: ['web/app'] })).status, 200);
      assert.equal((await admin(ctx.base, 'PUT', '/retention/git-mappings/not-a-path', { repositories: ['web/app'] })).status, 400);
      assert.equal((await admin(ctx.base, 'PUT', '/retention/git-mappings/org%2Fx', { repositories: ['Not Valid'] })).status, 400);
      assert.equal((await admin(ctx.base, 'PUT', '/retention/git-mappings/org%2Fx', { repositories: ['web/app'], typo: 1 })).status, 400, 'unknown properties are refused, not dropped');
      const listed = (await admin(ctx.base, 'GET', '/retention/git-mappings')).json().mappings;
      assert.deepEqual(listed.map((m: { gitRepository: string }) => m.gitRepository), ['group/sub/app', 'org/app']);
      const audit = (await admin(ctx.base, 'GET', '/audit-events?action=git_mapping.save')).json().events;
      assert.deepEqual([audit[0].actor, audit[0].actorKind, audit[0].target], ['admin', 'account', 'group/sub/app']);
    });

    test('GitHub: a signed branch delete marks the branch gone in every mapped repository, sanitised and lower-cased', async () => {
      const response = await github(ctx.base, 'delete', { ref: 'Feature/Login', ref_type: 'branch', repository: { full_name: 'org/app' } });
      assert.equal(response.status, 200, response.text());
      assert.deepEqual(response.json(), { status: 'applied', gitRepository: 'org/app', branch: 'feature-login', state: 'gone', repositories: ['web/app', 'web/app-arm'] });
      assert.equal((await states(ctx.base, 'web/app'))['feature-login'], 'gone');
      assert.equal((await states(ctx.base, 'web/app-arm'))['feature-login'], 'gone');
      // The forge acts on the operator's configuration (shared secret, mapping): actor kind 'system'.
      const audit = (await admin(ctx.base, 'GET', '/audit-events?actor=github&action=branch.update')).json().events;
      assert.deepEqual([audit[0].actorKind, audit[0].target, audit[0].details.branch], ['system', 'org/app', 'feature-login']);
    });

    test('GitHub: a closed pull request marks its head branch gone; create brings a branch back', async () => {
      const pr = { action: 'closed', repository: { full_name: 'org/app' }, pull_request: { head: { ref: 'fix/crash', repo: { full_name: 'org/app' } } } };
      assert.equal((await github(ctx.base, 'pull_request', pr)).status, 200);
      assert.equal((await states(ctx.base, 'web/app'))['fix-crash'], 'gone');
      assert.equal((await github(ctx.base, 'create', { ref: 'fix/crash', ref_type: 'branch', repository: { full_name: 'org/app' } })).status, 200);
      assert.equal((await states(ctx.base, 'web/app'))['fix-crash'], 'live');
    });

    test('GitHub: a bad signature is 401 and changes nothing; unknown events 204; replays and unmapped repositories 202', async () => {
      const payload = { ref: 'main', ref_type: 'branch', repository: { full_name: 'org/app' } };
      const forged = await github(ctx.base, 'delete', payload, { secret: 'wrong' });
      assert.equal(forged.status, 401);
      assert.equal(forged.json().error.code, 'unauthorized');
      const unsigned = await http('POST', `${ctx.base}/api/v1/hooks/github`, { headers: { 'content-type': 'application/json', 'x-github-event': 'delete', 'x-github-delivery': randomUUID() }, body: JSON.stringify(payload) });
      assert.equal(unsigned.status, 401);
      assert.equal((await states(ctx.base, 'web/app')).main, 'live');

      assert.equal((await github(ctx.base, 'ping', { zen: 'Keep it logically awesome.', repository: { full_name: 'org/app' } })).status, 204);
      assert.equal((await github(ctx.base, 'push', { ref: 'refs/heads/main', repository: { full_name: 'org/app' } })).status, 204);

      const delivery = randomUUID();
      const first = await github(ctx.base, 'delete', { ref: 'mr/x', ref_type: 'branch', repository: { full_name: 'org/app' } }, { delivery });
      assert.equal(first.status, 200);
      // The branch comes back; a replay of the old delivery must not mark it gone again.
      assert.equal((await admin(ctx.base, 'PUT', '/repositories/web/app/branches/mr-x', { state: 'live' })).status, 200);
      const replay = await github(ctx.base, 'delete', { ref: 'mr/x', ref_type: 'branch', repository: { full_name: 'org/app' } }, { delivery });
      assert.equal(replay.status, 202);
      assert.equal(replay.json().status, 'ignored');
      assert.equal((await states(ctx.base, 'web/app'))['mr-x'], 'live');

      const unmapped = await github(ctx.base, 'delete', { ref: 'x', ref_type: 'branch', repository: { full_name: 'org/unknown' } });
      assert.equal(unmapped.status, 202);
      assert.match(unmapped.json().reason, /no mapping/);

      const notJson = await http('POST', `${ctx.base}/api/v1/hooks/github`, {
        headers: { 'content-type': 'application/json', 'x-github-event': 'delete', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': `sha256=${createHmac('sha256', GITHUB_SECRET).update('{nope').digest('hex')}` },
        body: '{nope',
      });
      assert.equal(notJson.status, 400);
      assert.equal(notJson.json().error.code, 'invalid_request');
      assert.equal(forged.headers['www-authenticate'], undefined, 'no Basic challenge for a forge');
    });

    test('GitLab: a push deleting a branch and a merged merge request mark branches gone; bad tokens, unknown events, replays do nothing', async () => {
      const project = { path_with_namespace: 'group/sub/app' };
      const push = { object_kind: 'push', ref: 'refs/heads/feature/login', before: 'a'.repeat(40), after: ZEROS, project };
      assert.equal((await gitlab(ctx.base, 'Push Hook', push, { token: 'wrong' })).status, 401);
      const delivery = randomUUID();
      const applied = await gitlab(ctx.base, 'Push Hook', push, { delivery });
      assert.equal(applied.status, 200, applied.text());
      assert.equal(applied.json().branch, 'feature-login', 'this mapping does not lower-case');
      assert.equal((await gitlab(ctx.base, 'Push Hook', push, { delivery })).status, 202);
      const merged = { object_kind: 'merge_request', project, object_attributes: { action: 'merge', state: 'merged', source_branch: 'mr-x', source_project_id: 7, target_project_id: 7 } };
      assert.equal((await gitlab(ctx.base, 'Merge Request Hook', merged)).status, 200);
      assert.equal((await states(ctx.base, 'web/app'))['mr-x'], 'gone');
      assert.equal((await gitlab(ctx.base, 'Issue Hook', { object_kind: 'issue', project })).status, 204);
      assert.equal((await gitlab(ctx.base, 'Push Hook', { ...push, after: 'b'.repeat(40) })).status, 204, 'an ordinary push is not acted on');
    });

    test('mappings can be deleted', async () => {
      assert.equal((await admin(ctx.base, 'DELETE', '/retention/git-mappings/group%2Fsub%2Fapp')).status, 204);
      assert.equal((await admin(ctx.base, 'DELETE', '/retention/git-mappings/group%2Fsub%2Fapp')).status, 404);
    });
  },
  { env: { CAIRN_ADMIN_PASSWORD: ADMIN_PASSWORD, CAIRN_GITHUB_WEBHOOK_SECRET: GITHUB_SECRET, CAIRN_GITLAB_WEBHOOK_TOKEN: GITLAB_TOKEN } },
);

describeOnEachDatabase('retention webhooks without secrets', (ctx) => {
  test('a receiver without a configured secret answers 404', async () => {
    const response = await http('POST', `${ctx.base}/api/v1/hooks/github`, { headers: { 'content-type': 'application/json', 'x-github-event': 'ping' }, body: '{}' });
    assert.equal(response.status, 404);
    assert.equal(response.json().error.code, 'not_found');
  });
});
