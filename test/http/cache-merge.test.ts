/**
 * Server-side cache merge and branch fallback, with BuildKit's real h-overwrite exports: a `deps`
 * export, a full export, and the `deps` export again, all to one tag; and with k-export-and-push,
 * whose cache has a record key that is not a digest (BuildKit exported it while pushing an image).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseCacheConfig } from '../../src/cache/buildkit/index.js';
import { FIXTURES, loadBlobPool, type BlobPool } from '../buildkit/fixtures.js';
import { http } from '../support/http.js';
import { blobOf, pushBlob, putManifest, OCI_MANIFEST } from '../support/oci.js';
import { describeOnEachDatabase } from '../support/suite.js';

const pool = loadBlobPool();
const REPO = 'app/cache';

interface CacheManifest {
  config: { digest: string };
  layers: Array<{ digest: string }>;
}

/** The manifest BuildKit pushed in step `n` of h-overwrite, as bytes (stand-in digests applied). */
function stepManifest(n: number): Buffer {
  return taggedManifest(join('h-overwrite', `after-step${n}`));
}

/** The (first) tagged manifest of a fixture directory, as bytes (stand-in digests applied). */
function taggedManifest(dir: string): Buffer {
  const index = JSON.parse(readFileSync(join(FIXTURES, dir, 'fixture-index.json'), 'utf8'));
  return blob(pool, index.tags[0].digest);
}

/** records[0] of k-export-and-push's cacheconfig: an opaque BuildKit ID, not a digest. */
const OPAQUE_KEY = 'hzlv04bns7udz5fz7ypvi2189';
const K_REPO = 'k/app';

function blob(p: BlobPool, digest: string): Buffer {
  const bytes = p.get(p.fix(digest).replace(/^sha256:/, ''));
  assert.ok(bytes, `no fixture bytes for ${digest}`);
  return bytes;
}

async function pushCache(base: string, tag: string, manifest: Buffer, repository = REPO) {
  const m = JSON.parse(manifest.toString()) as CacheManifest;
  for (const d of [m.config, ...m.layers]) await pushBlob(base, repository, blobOf(blob(pool, d.digest)));
  return putManifest(base, repository, tag, manifest, OCI_MANIFEST, 201);
}

async function configOf(base: string, manifest: CacheManifest, repository = REPO) {
  const response = await http('GET', `${base}/v2/${repository}/blobs/${manifest.config.digest}`);
  assert.equal(response.status, 200);
  const parsed = parseCacheConfig(response.body);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
  return parsed.config;
}

describeOnEachDatabase(
  'cache merge on push',
  (ctx) => {
    const steps = [1, 2, 3].map(stepManifest);
    const parsed = steps.map((s) => JSON.parse(s.toString()) as CacheManifest);
    let mergedDigest = '';
    let kMerged = '';

    test('deps, full, deps again to one merge-enabled tag: the tag holds the union', async () => {
      const first = await pushCache(ctx.base, 'overwrite', steps[0]!);
      assert.equal(first.headers['cairn-cache-merged'], undefined, 'nothing to merge with yet');
      const second = await pushCache(ctx.base, 'overwrite', steps[1]!);
      assert.equal(second.headers['docker-content-digest'], blobOf(steps[1]!).digest, 'the PUT answers with the pushed digest');
      // The full export already holds every deps record: the union is exactly what was pushed.
      assert.equal(second.headers['cairn-cache-merged'], undefined);
      const third = await pushCache(ctx.base, 'overwrite', steps[2]!);
      assert.equal(third.headers['docker-content-digest'], blobOf(steps[2]!).digest);
      mergedDigest = third.headers['cairn-cache-merged']!;
      assert.ok(mergedDigest, 'deps after full: the tag must move to a merged cache');
      assert.notEqual(mergedDigest, blobOf(steps[2]!).digest);

      const head = await http('HEAD', `${ctx.base}/v2/${REPO}/manifests/overwrite`);
      assert.equal(head.headers['docker-content-digest'], mergedDigest);
      const merged = (await http('GET', `${ctx.base}/v2/${REPO}/manifests/${mergedDigest}`)).json() as CacheManifest;
      const config = await configOf(ctx.base, merged);
      const records = new Set(config.records.map((r) => r.digest));
      const layers = new Set(config.layers.map((l) => l.blob));
      for (const step of [parsed[0]!, parsed[1]!]) {
        const original = await configOf(ctx.base, step);
        for (const r of original.records) assert.ok(records.has(r.digest), `record ${r.digest} lost`);
        for (const l of original.layers) assert.ok(layers.has(l.blob), `layer ${l.blob} lost`);
      }
      // Every layer the merged config names is listed in the manifest and stored in the repository.
      const listed = new Set(merged.layers.map((l) => l.digest));
      for (const l of layers) {
        assert.ok(listed.has(l), `layer ${l} not in the merged manifest`);
        assert.equal((await http('HEAD', `${ctx.base}/v2/${REPO}/blobs/${l}`)).status, 200);
      }
    });

    test('each pushed manifest stays stored under its own digest', async () => {
      for (const step of steps) {
        const response = await http('HEAD', `${ctx.base}/v2/${REPO}/manifests/${blobOf(step).digest}`);
        assert.equal(response.status, 200);
      }
    });

    test('pushing the same cache again is idempotent: same merged digest', async () => {
      const again = await pushCache(ctx.base, 'overwrite', steps[2]!);
      const digest = again.headers['cairn-cache-merged'] ?? (await http('HEAD', `${ctx.base}/v2/${REPO}/manifests/overwrite`)).headers['docker-content-digest'];
      assert.equal(digest, mergedDigest);
      const full = await pushCache(ctx.base, 'overwrite', steps[1]!);
      const afterFull = full.headers['cairn-cache-merged'] ?? (await http('HEAD', `${ctx.base}/v2/${REPO}/manifests/overwrite`)).headers['docker-content-digest'];
      assert.equal(afterFull, mergedDigest);
    });

    test('a tag that is not merge-enabled is replaced as usual (last writer wins)', async () => {
      await pushCache(ctx.base, 'plain', steps[1]!);
      const last = await pushCache(ctx.base, 'plain', steps[0]!);
      assert.equal(last.headers['cairn-cache-merged'], undefined);
      const head = await http('HEAD', `${ctx.base}/v2/${REPO}/manifests/plain`);
      assert.equal(head.headers['docker-content-digest'], blobOf(steps[0]!).digest);
    });

    test('branch fallback: a missing branch tag is served the default branch cache, with a header', async () => {
      const settings = await http('PUT', `${ctx.base}/api/v1/repositories/${REPO}/cache-settings`, {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ branchPattern: null, mergeTags: [], fallbackTags: ['cache-main'] }),
      });
      assert.equal(settings.status, 200, settings.text());
      await pushCache(ctx.base, 'cache-main', steps[1]!);
      const main = blobOf(steps[1]!).digest;

      const first = await http('HEAD', `${ctx.base}/v2/${REPO}/manifests/cache-feature-x`);
      assert.equal(first.status, 200);
      assert.equal(first.headers['docker-content-digest'], main);
      assert.equal(first.headers['cairn-cache-fallback'], 'cache-main');
      const get = await http('GET', `${ctx.base}/v2/${REPO}/manifests/feature-y-cache`);
      assert.deepEqual(get.body, steps[1]);

      // Tags that do not map to a branch get no fallback.
      assert.equal((await http('HEAD', `${ctx.base}/v2/${REPO}/manifests/latest`)).status, 404);

      await pushCache(ctx.base, 'cache-feature-x', steps[0]!);
      const own = await http('HEAD', `${ctx.base}/v2/${REPO}/manifests/cache-feature-x`);
      assert.equal(own.headers['docker-content-digest'], blobOf(steps[0]!).digest);
      assert.equal(own.headers['cairn-cache-fallback'], undefined);
    });

    test('k-export-and-push: a cache with an opaque record key is merged into a merge-enabled tag', async () => {
      const a = taggedManifest('a-image-manifest');
      const k = taggedManifest('k-export-and-push');
      await pushCache(ctx.base, 'cache-main', a, K_REPO);
      const pushed = await pushCache(ctx.base, 'cache-main', k, K_REPO);
      assert.equal(pushed.headers['docker-content-digest'], blobOf(k).digest);
      kMerged = pushed.headers['cairn-cache-merged']!;
      assert.ok(kMerged, 'k over a: the tag must move to a merged cache (a cache the index could not read is passed by)');

      const merged = (await http('GET', `${ctx.base}/v2/${K_REPO}/manifests/${kMerged}`)).json() as CacheManifest;
      const config = await configOf(ctx.base, merged, K_REPO);
      const records = new Set(config.records.map((r) => r.digest));
      assert.ok(records.has(OPAQUE_KEY), 'the opaque key survives the merge');
      const layers = new Set(config.layers.map((l) => l.blob));
      for (const part of [a, k]) {
        const original = await configOf(ctx.base, JSON.parse(part.toString()) as CacheManifest, K_REPO);
        for (const r of original.records) assert.ok(records.has(r.digest), `record ${r.digest} lost`);
        for (const l of original.layers) assert.ok(layers.has(l.blob), `layer ${l.blob} lost`);
      }
      // The records that took the opaque key as an input still do.
      const opaque = config.records.findIndex((r) => r.digest === OPAQUE_KEY);
      assert.ok(config.records.filter((r) => r.inputs.some((alts) => alts.some((x) => x.link === opaque))).length >= 2);
      for (const l of merged.layers) assert.equal((await http('HEAD', `${ctx.base}/v2/${K_REPO}/blobs/${l.digest}`)).status, 200);

      // The index reads the merged cache: parsed, with the opaque record.
      const detail = await http('GET', `${ctx.base}/api/v1/repositories/${K_REPO}/caches/cache-main`);
      assert.equal(detail.status, 200, detail.text());
      const d = detail.json() as { parsed: boolean; manifestDigest: string; records: Array<{ digest: string }> };
      assert.equal(d.parsed, true);
      assert.equal(d.manifestDigest, kMerged);
      assert.ok(d.records.some((r) => r.digest === OPAQUE_KEY));
    });

    test('k-export-and-push: served as branch fallback like any other cache', async () => {
      const settings = await http('PUT', `${ctx.base}/api/v1/repositories/${K_REPO}/cache-settings`, {
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ branchPattern: null, mergeTags: [], fallbackTags: ['cache-main'] }),
      });
      assert.equal(settings.status, 200, settings.text());
      const head = await http('HEAD', `${ctx.base}/v2/${K_REPO}/manifests/cache-feature-k`);
      assert.equal(head.status, 200);
      assert.equal(head.headers['docker-content-digest'], kMerged);
      assert.equal(head.headers['cairn-cache-fallback'], 'cache-main');

      // Pushed unmerged to its own tag, k is served as pushed, and indexed.
      const k = taggedManifest('k-export-and-push');
      await pushCache(ctx.base, 'cache-k-only', k, K_REPO);
      const get = await http('GET', `${ctx.base}/v2/${K_REPO}/manifests/cache-k-only`);
      assert.deepEqual(get.body, k);
      const detail = await http('GET', `${ctx.base}/api/v1/repositories/${K_REPO}/caches/cache-k-only`);
      assert.equal((detail.json() as { parsed: boolean }).parsed, true);
    });
  },
  { env: { CAIRN_CACHE_MERGE: `${REPO}:overwrite,${K_REPO}:cache-main` } },
);
