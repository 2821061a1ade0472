import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ANNOTATION_CREATED_AT, ANNOTATION_SOURCE_REF, detectCache, mergeCacheManifests, parseCacheConfig, sha256Digest,
  type CacheManifestInput, type Descriptor, type ManifestMergeResult,
} from '../../src/cache/buildkit/index.js';
import { blobBytes, cacheConfigDigests, taggedManifests } from './fixtures.js';

function input(scenario: string, tag = 0): CacheManifestInput & { digest: string } {
  const t = taggedManifests(scenario)[tag]!;
  const found = detectCache({ mediaType: t.mediaType, manifest: t.manifest });
  if (found.kind !== 'image-manifest' && found.kind !== 'index') assert.fail(found.kind);
  return { manifest: t.manifest, mediaType: t.mediaType, config: blobBytes(scenario, found.config.digest), digest: t.digest };
}

function ok(result: ManifestMergeResult): Extract<ManifestMergeResult, { ok: true }> {
  if (!result.ok) assert.fail(result.reason);
  assert.equal(result.manifestDigest, sha256Digest(result.manifest));
  assert.equal(result.configDescriptor.digest, sha256Digest(result.config));
  const again = detectCache({ manifest: JSON.parse(Buffer.from(result.manifest).toString('utf8')) });
  assert.equal(again.kind, 'image-manifest');
  if (again.kind === 'image-manifest') assert.deepEqual(again.layers, result.layers);
  const parsed = parseCacheConfig(result.config);
  if (!parsed.ok) assert.fail(parsed.reason);
  // Every blob the config names is listed in the manifest, once, in config order.
  assert.deepEqual(result.layers.map((l) => l.digest), [...new Set(parsed.config.layers.map((l) => l.blob))]);
  return result;
}

test('h-overwrite: merging the deps export into the full export reproduces BuildKit\'s step-2 manifest', () => {
  const step1 = input('h-overwrite/after-step1');
  const step2 = input('h-overwrite/after-step2');
  const merged = ok(mergeCacheManifests(step1, step2));
  assert.equal(merged.manifestDigest, step2.digest);
  assert.deepEqual(Buffer.from(merged.manifest), Buffer.from(blobBytes('h-overwrite/after-step2', step2.digest)));
  assert.equal(merged.configDescriptor.digest, cacheConfigDigests('h-overwrite/after-step2')[0]);
});

test('h-overwrite: after the step-3 overwrite, a merge restores the full build (step 3 wins annotations)', () => {
  const step2 = input('h-overwrite/after-step2');
  const step3 = input('h-overwrite/after-step3');
  const merged = ok(mergeCacheManifests(step2, step3));
  assert.equal(merged.stats.records, 13);
  assert.equal(merged.layers.length, 9);
  const step3Layers = (detectCache({ manifest: step3.manifest }) as { layers: Descriptor[] }).layers;
  for (const l of step3Layers) {
    const out = merged.layers.find((m) => m.digest === l.digest)!;
    assert.equal(out.annotations?.[ANNOTATION_CREATED_AT], l.annotations?.[ANNOTATION_CREATED_AT]);
    assert.equal(out.annotations?.[ANNOTATION_SOURCE_REF], l.annotations?.[ANNOTATION_SOURCE_REF]);
  }
});

test('index and Docker-list caches merge into an OCI image-manifest cache with OCI layer types', () => {
  const merged = ok(mergeCacheManifests(input('b2-docker-list'), input('b-index')));
  assert.ok(merged.layers.every((l) => l.mediaType.startsWith('application/vnd.oci.image.layer.v1.tar')));
  assert.equal(merged.stats.records, 14);
  const mixed = ok(mergeCacheManifests(input('a-image-manifest'), input('e-zstd')));
  assert.ok(mixed.layers.some((l) => l.mediaType.endsWith('+zstd')) && mixed.layers.some((l) => l.mediaType.endsWith('+gzip')));
});

test('the budget holds for both the manifest and the cacheconfig', () => {
  const merged = ok(mergeCacheManifests(input('a-image-manifest'), input('c-min'), { maxBytes: 3000 }));
  assert.ok(merged.manifest.byteLength <= 3000 && merged.config.byteLength <= 3000);
  assert.ok(merged.dropped.records > 0);
  const roomy = ok(mergeCacheManifests(input('a-image-manifest'), input('c-min')));
  assert.equal(roomy.dropped.records, 0);
});

test('refusals: inline images, configs that do not match their descriptor, non-caches', () => {
  const a = input('a-image-manifest');
  const tampered = { ...a, config: new Uint8Array([...a.config, 0x20]) };
  const bad = mergeCacheManifests(a, tampered);
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.match(bad.reason, /^next: cacheconfig bytes do not match/);
  const image = taggedManifests('d-inline')[0]!;
  const inline = mergeCacheManifests({ manifest: image.manifest, mediaType: image.mediaType, config: new Uint8Array() }, a);
  assert.equal(inline.ok, false);
  if (!inline.ok) assert.match(inline.reason, /^previous: not a registry cache manifest/);
  assert.equal(mergeCacheManifests({ manifest: 'x', config: new Uint8Array() }, a).ok, false);
});

test('results whose blobs the manifest does not list are dropped; their records stay', () => {
  const a = input('a-image-manifest');
  const manifest = JSON.parse(JSON.stringify(a.manifest)) as { layers: Descriptor[] };
  const removed = manifest.layers.findIndex((l) => l.digest.startsWith('sha256:3881d272')); // [deps 4/5] RUN
  manifest.layers.splice(removed, 1);
  const merged = ok(mergeCacheManifests({ ...a, manifest }, { ...a, manifest }));
  assert.equal(merged.stats.records, 13);
  // Only WORKDIR /app, COPY deps.lock and WORKDIR /srv/app + the final COPY do not sit on that layer.
  assert.equal(merged.stats.results, 4);
  assert.ok(merged.layers.every((l) => !l.digest.startsWith('sha256:3881d272')));
});
