/**
 * Server-side cache merge and branch fallback, with BuildKit's real h-overwrite exports: a `deps`
 * export, a full export, and the `deps` export again, all to one tag.
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
  const index = JSON.parse(readFileSync(join(FIXTURES, 'h-overwrite', `after-step${n}`, 'fixture-index.json'), 'utf8'));
  return blob(pool, index.tags[0].digest);
}

function blob(p: BlobPool, digest: string): Buffer {
  const bytes = p.get(p.fix(digest).replace(/^sha256:/, ''));
  assert.ok(bytes, `no fixture bytes for ${digest}`);
  return bytes;
}

async function pushCache(base: string, tag: string, manifest: Buffer) {
  const m = JSON.parse(manifest.toString()) as CacheManifest;
  for (const d of [m.config, ...m.layers]) await pushBlob(base, REPO, blobOf(blob(pool, d.digest)));
  return putManifest(base, REPO, tag, manifest, OCI_MANIFEST, 201);
}

async function configOf(base: string, manifest: CacheManifest) {
  const response = await http('GET', `${base}/v2/${REPO}/blobs/${manifest.config.digest}`);
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
  },
  { env: { CAIRN_CACHE_MERGE: `${REPO}:overwrite` } },
);
