/**
 * Retention end to end (issue 10): recorded BuildKit caches for three branches pushed into one
 * repository, a branch marked gone by a signed GitHub webhook, the exact dry run, the run, a GC pass
 * — and the bytes that actually left storage (files under <dataDir>/blobs, or objects under the
 * server's S3 prefix) equal the plan's bytesFreed. The expectation is computed from the pushed
 * manifests' raw JSON, never from the server.
 *
 *   cache-main       h-overwrite/after-step1   protected (main)
 *   cache-feature-a  h-overwrite/after-step2   branch gone → delete; shares 4 layers + the base with main
 *   cache-feature-b  c-min                     kept; shares only the base layer with both
 */
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { http, type TestResponse } from '../support/http.js';
import { sha256 } from '../support/oci.js';
import { describeOnEachDatabase } from '../support/suite.js';
import { fixtureBlob, fixtureManifest, pushFixture, referencedDigests, type FixtureManifest } from '../cache-api/support.js';
import { storedBytes } from './storage.js';

const SECRET = 'e2e-github-secret';
const REPOSITORY = 'e2e/app';
const GIT_REPOSITORY = 'org/app';
const REVIEW_DELAY_MS = 1_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function api(base: string, method: string, path: string, body?: unknown): Promise<TestResponse> {
  return http(method, `${base}/api/v1${path}`, {
    headers: body !== undefined ? { 'content-type': 'application/json' } : {},
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
}

function githubDelete(base: string, branch: string, secret: string): Promise<TestResponse> {
  const body = Buffer.from(JSON.stringify({ ref: branch, ref_type: 'branch', repository: { full_name: GIT_REPOSITORY } }));
  return http('POST', `${base}/api/v1/hooks/github`, {
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'delete',
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
    },
    body,
  });
}

/** The manifest by tag and every blob it names, each checked against its digest. */
async function assertCacheReadsBack(base: string, tag: string, cache: FixtureManifest): Promise<void> {
  const manifest = await http('GET', `${base}/v2/${REPOSITORY}/manifests/${tag}`, { headers: { accept: cache.mediaType } });
  assert.equal(manifest.status, 200, `${tag}: ${manifest.text()}`);
  assert.equal(sha256(manifest.body), cache.digest, `${tag}'s manifest reads back byte-exact`);
  const config = JSON.parse(cache.bytes.toString('utf8')) as { config: { mediaType: string } };
  assert.equal(config.config.mediaType, 'application/vnd.buildkit.cacheconfig.v0', `${tag} is an image-manifest cache (cacheconfig as config)`);
  for (const digest of referencedDigests(cache.bytes)) {
    const blob = await http('GET', `${base}/v2/${REPOSITORY}/blobs/${digest}`);
    assert.equal(blob.status, 200, `${tag}: blob ${digest}: ${blob.status}`);
    assert.equal(sha256(blob.body), digest, `${tag}: blob ${digest} reads back byte-exact`);
  }
}

describeOnEachDatabase(
  'retention end to end: plan → apply → GC frees exactly the planned bytes',
  (ctx) => {
    const main = fixtureManifest('h-overwrite/after-step1');
    const featureA = fixtureManifest('h-overwrite/after-step2');
    const featureB = fixtureManifest('c-min');
    const kept = new Set([...referencedDigests(main.bytes), ...referencedDigests(featureB.bytes)]);
    const uniqueToA = referencedDigests(featureA.bytes).filter((d) => !kept.has(d));
    const sharedWithA = referencedDigests(featureA.bytes).filter((d) => kept.has(d));
    // Sizes of the bytes themselves (the fixture's), not of any server answer.
    const expectedFreed = uniqueToA.reduce((sum, d) => sum + fixtureBlob(d).length, 0);
    let planned: number;
    let storedBefore: number;

    test('setup: three branch caches in one repository, overlapping as designed', async () => {
      // The scenario is what it claims to be, or the byte figures below would prove little.
      assert.ok(uniqueToA.length >= 2 && sharedWithA.length >= 2, `feature-a: ${uniqueToA.length} unique, ${sharedWithA.length} shared`);
      assert.ok(referencedDigests(featureB.bytes).some((d) => referencedDigests(featureA.bytes).includes(d)), 'feature-b shares a layer with feature-a');
      await pushFixture(ctx.base, main, REPOSITORY, 'cache-main');
      await pushFixture(ctx.base, featureA, REPOSITORY, 'cache-feature-a');
      await pushFixture(ctx.base, featureB, REPOSITORY, 'cache-feature-b');
      const mapped = await api(ctx.base, 'PUT', `/retention/git-mappings/${encodeURIComponent(GIT_REPOSITORY)}`, { repositories: [REPOSITORY] });
      assert.equal(mapped.status, 200, mapped.text());
      const policy = await api(ctx.base, 'PUT', '/retention/policies/branches', {
        repositories: [REPOSITORY],
        tags: { kind: 'cache' },
        protect: { branches: ['main'] },
        delete: { branchGone: { graceHours: 0 } },
      });
      assert.equal(policy.status, 200, policy.text());
    });

    test('a wrongly signed delete webhook is refused and changes nothing', async () => {
      const forged = await githubDelete(ctx.base, 'feature-a', 'not-the-secret');
      assert.equal(forged.status, 401, forged.text());
      assert.equal(forged.json().error.code, 'unauthorized');
      const branches = (await api(ctx.base, 'GET', `/repositories/${REPOSITORY}/branches`)).json().branches;
      assert.deepEqual(branches.map((b: { branch: string; state: string }) => `${b.branch}:${b.state}`), ['feature-a:live', 'feature-b:live', 'main:live']);
      const plan = (await api(ctx.base, 'GET', '/retention/plan?policy=branches')).json();
      assert.equal(plan.bytesFreed, 0);
      assert.ok(plan.decisions.every((d: { action: string }) => d.action === 'keep'));
    });

    test('a signed delete webhook marks feature-a gone', async () => {
      const response = await githubDelete(ctx.base, 'feature-a', SECRET);
      assert.equal(response.status, 200, response.text());
      assert.deepEqual(response.json(), { status: 'applied', gitRepository: GIT_REPOSITORY, branch: 'feature-a', state: 'gone', repositories: [REPOSITORY] });
      const branches = (await api(ctx.base, 'GET', `/repositories/${REPOSITORY}/branches`)).json().branches;
      assert.deepEqual(branches.map((b: { branch: string; state: string }) => `${b.branch}:${b.state}`), ['feature-a:gone', 'feature-b:live', 'main:live']);
    });

    test('the plan deletes feature-a for branch-gone and counts only its unique blobs', async () => {
      const response = await api(ctx.base, 'GET', '/retention/plan?policy=branches');
      assert.equal(response.status, 200, response.text());
      const plan = response.json() as { decisions: Array<{ tag: string; action: string; rule: string }>; bytesFreed: number; blobsFreed: number; manifests: Array<{ digest: string }> };
      const byTag = Object.fromEntries(plan.decisions.map((d) => [d.tag, d]));
      assert.deepEqual(Object.keys(byTag).sort(), ['cache-feature-a', 'cache-feature-b', 'cache-main']);
      assert.equal(byTag['cache-feature-a']!.action, 'delete');
      assert.equal(byTag['cache-feature-a']!.rule, 'branch-gone');
      assert.equal(byTag['cache-main']!.action, 'keep');
      assert.equal(byTag['cache-main']!.rule, 'protected-branch');
      assert.equal(byTag['cache-feature-b']!.action, 'keep');
      assert.deepEqual(plan.manifests.map((m) => m.digest), [featureA.digest]);
      assert.equal(plan.bytesFreed, expectedFreed, 'feature-a\'s unique blobs, shared layers not counted');
      assert.equal(plan.blobsFreed, uniqueToA.length);
      planned = plan.bytesFreed;
    });

    test('apply, wait past the review delay, collect: the bytes gone from storage are the planned ones', async () => {
      storedBefore = await storedBytes(ctx.server);
      // The measure is real: storage holds exactly the distinct blobs pushed, and nothing else.
      const pushed = new Set([...kept, ...referencedDigests(featureA.bytes)]);
      assert.equal(storedBefore, [...pushed].reduce((sum, d) => sum + fixtureBlob(d).length, 0), 'storage holds the pushed blobs');
      const applied = await api(ctx.base, 'POST', '/retention/runs', { policy: 'branches' });
      assert.equal(applied.status, 201, applied.text());
      const [run] = applied.json().runs;
      assert.equal(run.error, null);
      assert.equal(run.tagsDeleted, 1);
      assert.equal(run.bytesFreed, planned);
      assert.equal(await storedBytes(ctx.server), storedBefore, 'retention deletes rows; the collector frees bytes');

      await sleep(REVIEW_DELAY_MS + 500);
      const pass = await http('POST', `${ctx.base}/api/v1/gc/runs`);
      assert.equal(pass.status, 200, pass.text());
      const report = pass.json() as { bytesFreed: number; deleted: { blobs: Array<{ digest: string }>; orphans: unknown[] } };
      assert.deepEqual(report.deleted.blobs.map((b) => b.digest).sort(), [...uniqueToA].sort());
      assert.deepEqual(report.deleted.orphans, []);
      assert.equal(report.bytesFreed, planned);

      const gone = storedBefore - (await storedBytes(ctx.server));
      assert.equal(gone, planned, `storage: ${storedBefore} bytes before, ${gone} gone; the plan said ${planned}`);
      const status = await http('GET', `${ctx.base}/api/v1/gc`);
      assert.equal(status.status, 200, status.text());
      assert.equal(status.json().bytesFreed, planned, 'GET /api/v1/gc agrees');
    });

    test('main and feature-b read back byte-exact; feature-a and its unique blobs are gone', async () => {
      await assertCacheReadsBack(ctx.base, 'cache-main', main);
      await assertCacheReadsBack(ctx.base, 'cache-feature-b', featureB);
      const tag = await http('GET', `${ctx.base}/v2/${REPOSITORY}/manifests/cache-feature-a`);
      assert.equal(tag.status, 404);
      assert.equal(tag.json().errors[0].code, 'MANIFEST_UNKNOWN');
      assert.equal((await http('GET', `${ctx.base}/v2/${REPOSITORY}/manifests/${featureA.digest}`)).status, 404);
      for (const digest of uniqueToA) {
        const blob = await http('GET', `${ctx.base}/v2/${REPOSITORY}/blobs/${digest}`);
        assert.equal(blob.status, 404, `feature-a's unique blob ${digest}`);
        assert.equal(blob.json().errors[0].code, 'BLOB_UNKNOWN');
      }
      // Nothing more to do: a second plan frees nothing.
      assert.equal((await api(ctx.base, 'GET', '/retention/plan?policy=branches')).json().bytesFreed, 0);
    });
  },
  { env: { CAIRN_GC_REVIEW_DELAY: '1s', CAIRN_GC_INTERVAL: '0', CAIRN_GITHUB_WEBHOOK_SECRET: SECRET } },
);
