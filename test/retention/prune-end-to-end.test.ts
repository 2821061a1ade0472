/**
 * Pruning inside a cache, end to end (issue 10): BuildKit's full mode=max cache (h-overwrite step 2) pushed,
 * then imported the way BuildKit v0.24 imported it — the recorded requests, which fetched the four layers of
 * the deps stage from the cache repository (the base layer came with the FROM image, from another
 * repository) and nothing of the build stage. A policy with `prune.unusedDays` plans the rewrite with exact
 * bytes, the run rewrites the cache, a GC pass frees exactly those bytes from storage (filesystem or S3), and
 * the rewritten cache is importable: the repository's cache parser accepts it without a warning and a replay
 * of BuildKit's import is served every blob the new cacheconfig names, byte-exact.
 *
 * Expectations come from the fixtures' raw JSON, never from src/cache: the layers the build stage added are
 * those of step 2 that BuildKit's own deps-only export (step 1) does not list, and what the rewrite must
 * produce is that very export's cacheconfig, byte for byte.
 *
 *   cache-feature-x   h-overwrite/after-step2   pruned: the build stage's layers were never fetched
 *   cache-other       c-min                     never fetched either, but a protected tag: left as it is
 *   e2e/elsewhere     an image                  holds one of the dropped layers: its bytes are not freed
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCacheConfig } from '../../src/cache/buildkit/index.js';
import { importLikeBuildKit, recordedLayerFetches } from '../buildkit/import.js';
import { fixtureBlob, fixtureManifest, pushFixture, referencedDigests } from '../cache-api/support.js';
import { http, type TestResponse } from '../support/http.js';
import { blobOf, OCI_CONFIG, OCI_MANIFEST, pushBlob, putManifest, sha256 } from '../support/oci.js';
import { describeOnEachDatabase } from '../support/suite.js';
import { blobOfKey, storedObjects } from './storage.js';

const REPOSITORY = 'e2e/prune';
const ELSEWHERE = 'e2e/elsewhere';
const TAG = 'cache-feature-x';
const REVIEW_DELAY_MS = 1_000;
/** Unused for this long: long enough that a layer fetched during the test still counts as used. */
const UNUSED_SECONDS = 30;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function api(base: string, method: string, path: string, body?: unknown): Promise<TestResponse> {
  return http(method, `${base}/api/v1${path}`, {
    headers: body !== undefined ? { 'content-type': 'application/json' } : {},
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
}

interface RawManifest {
  config: { digest: string; size: number };
  layers: Array<{ mediaType: string; digest: string; size: number; annotations?: Record<string, string> }>;
}
const raw = (bytes: Buffer) => JSON.parse(bytes.toString('utf8')) as RawManifest;
const sizeOf = (digests: Iterable<string>) => [...digests].reduce((sum, d) => sum + fixtureBlob(d).length, 0);

describeOnEachDatabase(
  'pruning inside a cache: plan → apply → GC frees exactly the planned bytes; the rewritten cache imports',
  (ctx) => {
    const full = fixtureManifest('h-overwrite/after-step2');
    const deps = fixtureManifest('h-overwrite/after-step1');
    const other = fixtureManifest('c-min');
    const depsLayers = new Set(raw(deps.bytes).layers.map((l) => l.digest));
    const depsConfig = fixtureBlob(raw(deps.bytes).config.digest);
    const buildStage = raw(full.bytes).layers.map((l) => l.digest).filter((d) => !depsLayers.has(d));
    const sharedElsewhere = buildStage[buildStage.length - 1]!;
    const otherBlobs = new Set(referencedDigests(other.bytes));
    // What the run leaves unreferenced: the full cache's blobs the rewrite no longer names — the build stage's
    // layers and the old cacheconfig — minus the layer another repository's image holds.
    const expectedFreed = referencedDigests(full.bytes).filter((d) => !depsLayers.has(d) && d !== sharedElsewhere && !otherBlobs.has(d));
    let pushedAt = 0;
    let planned: { bytesFreed: number; blobsFreed: number };
    let rewrittenDigest = '';
    let before: Map<string, number>;
    const config = blobOf(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));

    test('setup: the scenario is what it claims, caches pushed, a pruning policy', async () => {
      assert.ok(recordedLayerFetches().every((d) => depsLayers.has(d)), 'BuildKit fetched deps layers only');
      assert.equal(recordedLayerFetches().length, depsLayers.size - 1, 'every deps layer but the base, which came with the FROM image');
      assert.ok(buildStage.length >= 3, `${buildStage.length} layers only the full build has`);
      assert.ok(expectedFreed.includes(raw(full.bytes).config.digest), 'the old cacheconfig is freed');
      pushedAt = Date.now();
      await pushFixture(ctx.base, full, REPOSITORY, TAG);
      await pushFixture(ctx.base, other, REPOSITORY, 'cache-other');
      const layer = blobOf(fixtureBlob(sharedElsewhere));
      for (const blob of [config, layer]) await pushBlob(ctx.base, ELSEWHERE, blob);
      const image = JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.size }],
      });
      await putManifest(ctx.base, ELSEWHERE, 'v1', Buffer.from(image), OCI_MANIFEST, 201);
      const policy = await api(ctx.base, 'PUT', '/retention/policies/prune', {
        repositories: [REPOSITORY],
        protect: { branches: [], tags: ['cache-other'] },
        prune: { unusedDays: UNUSED_SECONDS / 86_400 },
      });
      assert.equal(policy.status, 200, policy.text());
      const early = (await api(ctx.base, 'POST', '/retention/plan', { policy: 'prune' })).json();
      assert.ok(early.decisions.every((d: { action: string }) => d.action === 'keep'), 'a cache younger than D days is not judged yet');
    });

    test('BuildKit imports the cache: the recorded request sequence fetches the deps stage\'s layers', async () => {
      await sleep(Math.max(0, pushedAt + (UNUSED_SECONDS + 1) * 1000 - Date.now()));
      const imported = await importLikeBuildKit(ctx.base, REPOSITORY, TAG, 'recorded');
      assert.equal(imported.digest, full.digest);
      // Fetches are counted in batches (every 5 s): wait until this cache's usage shows them.
      let usage: { layersFetched: number; importCount: number } | undefined;
      for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(250)) {
        const caches = (await api(ctx.base, 'GET', `/repositories/${REPOSITORY}/cache-usage`)).json().caches as Array<{ tag: string; layersFetched: number; importCount: number }>;
        usage = caches.find((c) => c.tag === TAG);
        if (usage?.layersFetched === recordedLayerFetches().length && usage.importCount === 1) break;
      }
      assert.equal(usage?.layersFetched, recordedLayerFetches().length);
      assert.equal(usage?.importCount, 1);
    });

    test('the plan rewrites the cache (rule and reason), keeps the protected one, and counts exactly the unique bytes', async () => {
      const response = await api(ctx.base, 'GET', '/retention/plan?policy=prune');
      assert.equal(response.status, 200, response.text());
      const plan = response.json();
      const byTag = Object.fromEntries(plan.decisions.map((d: { tag: string }) => [d.tag, d]));
      assert.equal(byTag[TAG].action, 'rewrite');
      assert.equal(byTag[TAG].rule, 'prune-unused');
      assert.match(byTag[TAG].reason, new RegExp(`^${buildStage.length} of ${depsLayers.size + buildStage.length} layers unused for `));
      assert.equal(byTag['cache-other'].action, 'keep');
      assert.equal(byTag['cache-other'].rule, 'protected-tag');
      assert.equal(plan.rewrites.length, 1);
      assert.deepEqual(plan.rewrites[0].blobsDropped.sort(), [...buildStage].sort());
      assert.deepEqual(plan.manifests.map((m: { digest: string }) => m.digest), [full.digest], 'the old manifest goes');
      rewrittenDigest = plan.rewrites[0].rewrittenDigest;
      assert.equal(plan.bytesFreed, sizeOf(expectedFreed), 'the build stage\'s layers and the old cacheconfig, not the layer another image holds');
      assert.equal(plan.blobsFreed, expectedFreed.length);
      planned = { bytesFreed: plan.bytesFreed, blobsFreed: plan.blobsFreed };
      const posted = (await api(ctx.base, 'POST', '/retention/plan', { policy: 'prune' })).json();
      assert.deepEqual({ bytesFreed: posted.bytesFreed, blobsFreed: posted.blobsFreed }, planned, 'POST /retention/plan agrees');
      assert.deepEqual(posted.decisions.find((d: { tag: string }) => d.tag === TAG), { repository: REPOSITORY, tag: TAG, digest: full.digest, action: 'rewrite', rule: 'prune-unused', reason: byTag[TAG].reason });
    });

    test('apply, wait past the review delay, collect: exactly the planned bytes leave storage, one new cacheconfig arrives', async () => {
      before = await storedObjects(ctx.server);
      // The measure is real: storage holds exactly the distinct blobs pushed, each at its size, and nothing else.
      const pushed = new Map([...referencedDigests(full.bytes), ...otherBlobs, sharedElsewhere].map((d) => [d, fixtureBlob(d).length]));
      pushed.set(config.digest, config.size);
      assert.deepEqual(new Map([...before].map(([key, size]) => [blobOfKey(key), size])), pushed, 'storage holds the pushed blobs');

      const applied = await api(ctx.base, 'POST', '/retention/runs', { policy: 'prune' });
      assert.equal(applied.status, 201, applied.text());
      const [run] = applied.json().runs;
      assert.equal(run.error, null);
      assert.equal(run.tagsDeleted, 0);
      assert.equal(run.tagsRewritten, 1);
      assert.deepEqual(run.rewritten.map((r: { tag: string; digest: string; rewrittenDigest: string; rule: string }) => [r.tag, r.digest, r.rewrittenDigest, r.rule]), [[TAG, full.digest, rewrittenDigest, 'prune-unused']]);
      assert.deepEqual(run.deleted.map((d: { digest: string; rule: string }) => [d.digest, d.rule]), [[full.digest, 'prune-unused']]);
      assert.equal(run.bytesFreed, planned.bytesFreed);
      assert.equal(run.blobsFreed, planned.blobsFreed);

      const afterRun = await storedObjects(ctx.server);
      const added = [...afterRun.keys()].filter((k) => !before.has(k));
      assert.deepEqual(added.map(blobOfKey), [sha256(depsConfig)], 'the run stored one blob: the new cacheconfig');
      assert.equal(afterRun.get(added[0]!), depsConfig.length);
      assert.equal(afterRun.size, before.size + 1, 'retention deletes rows; the collector frees bytes');

      await sleep(REVIEW_DELAY_MS + 500);
      const pass = await http('POST', `${ctx.base}/api/v1/gc/runs`);
      assert.equal(pass.status, 200, pass.text());
      const report = pass.json() as { bytesFreed: number; deleted: { blobs: Array<{ digest: string }>; orphans: unknown[] } };
      assert.deepEqual(report.deleted.blobs.map((b) => b.digest).sort(), [...expectedFreed].sort());
      assert.deepEqual(report.deleted.orphans, []);
      assert.equal(report.bytesFreed, planned.bytesFreed);

      const afterGc = await storedObjects(ctx.server);
      const removed = [...before.keys()].filter((k) => !afterGc.has(k));
      assert.deepEqual(removed.map(blobOfKey).sort(), [...expectedFreed].sort(), 'the objects gone are the planned blobs');
      const gone = removed.reduce((sum, k) => sum + before.get(k)!, 0);
      assert.equal(gone, planned.bytesFreed, `storage: ${gone} bytes gone; the plan said ${planned.bytesFreed}`);
      assert.deepEqual([...afterGc.keys()].filter((k) => !before.has(k)), added, 'and nothing else changed');
    });

    test('the rewritten cache is BuildKit\'s own deps export, parses without a warning, and imports: every blob served byte-exact', async () => {
      const imported = await importLikeBuildKit(ctx.base, REPOSITORY, TAG, 'all');
      assert.equal(imported.digest, rewrittenDigest);
      assert.ok(imported.config.equals(depsConfig), 'the cacheconfig BuildKit wrote for the deps stage alone');
      const parsed = parseCacheConfig(imported.config);
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
      const named = new Set(parsed.config.layers.map((l) => l.blob));
      assert.deepEqual(named, depsLayers, 'the new cacheconfig names the deps layers');
      assert.deepEqual(new Set(imported.layers.keys()), depsLayers, 'every blob it names was served');
      for (const [digest, bytes] of imported.layers) assert.ok(bytes.equals(fixtureBlob(digest)), `${digest} reads back byte-exact`);
      // The manifest keeps its media types and each kept layer's descriptor, annotations and all.
      const original = raw(full.bytes);
      const rewritten = raw(imported.manifest);
      assert.deepEqual(rewritten.layers, original.layers.filter((l) => depsLayers.has(l.digest)));
      assert.deepEqual({ ...rewritten.config, digest: '', size: 0 }, { ...original.config, digest: '', size: 0 });
      // Cairn's cache index (the same parser, on push) sees a valid cache with no warnings.
      const cache = await api(ctx.base, 'GET', `/repositories/${REPOSITORY}/caches/${TAG}`);
      assert.equal(cache.status, 200, cache.text());
      assert.equal(cache.json().parsed, true);
      assert.deepEqual(cache.json().warnings, []);
      assert.equal(cache.json().manifestDigest, rewrittenDigest);
      assert.equal(cache.json().format, 'image-manifest');
      // Its history came along: not taken for never imported, nor its kept layers for never used.
      const usage = (await api(ctx.base, 'GET', `/repositories/${REPOSITORY}/cache-usage`)).json().caches.find((c: { tag: string }) => c.tag === TAG);
      assert.ok(usage.importCount >= 1);
      assert.ok(usage.layersFetched >= recordedLayerFetches().length);
      // The protected cache is untouched, and a second plan has nothing more to rewrite or free.
      assert.equal((await http('HEAD', `${ctx.base}/v2/${REPOSITORY}/manifests/cache-other`)).headers['docker-content-digest'], other.digest);
      const again = (await api(ctx.base, 'POST', '/retention/plan', { policy: 'prune' })).json();
      assert.equal(again.decisions.find((d: { tag: string }) => d.tag === TAG).action, 'keep');
      assert.equal(again.bytesFreed, 0);
    });
  },
  { env: { CAIRN_GC_REVIEW_DELAY: '1s', CAIRN_GC_INTERVAL: '0' } },
);
