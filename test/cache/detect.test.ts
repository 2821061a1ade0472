import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CACHE_CONFIG_MEDIA_TYPE, detectCache, layerCreatedAt, layerDiffId,
  type CacheDetection, type Descriptor,
} from '../../src/cache/buildkit/index.js';
import { blobJson, fixtureIndex, fixtureText, taggedManifests, type TaggedManifest } from './fixtures.js';

/** Detect like a registry would: manifest first, then the image config when asked for it. */
function detect(t: TaggedManifest): CacheDetection {
  const first = detectCache({ mediaType: t.mediaType, manifest: t.manifest });
  if (first.kind !== 'needs-image-config') return first;
  return detectCache({ mediaType: t.mediaType, manifest: t.manifest, imageConfig: blobJson(t.scenario, first.config.digest) });
}

/** Layer blobs fixture-index.json says a manifest references. */
function expectedDigests(scenario: string, manifestDigest: string): Set<string> {
  const blobs = Object.entries(fixtureIndex(scenario).blobs)
    .filter(([, b]) => b.role === 'layer' && (b.referencedBy ?? []).includes(manifestDigest));
  return new Set(blobs.map(([d]) => d));
}

/** Digests agree with fixture-index.json; descriptors equal the manifest's own entries. */
function assertLayersMatchIndex(t: TaggedManifest, layers: Descriptor[]): void {
  assert.deepEqual(new Set(layers.map((l) => l.digest)), expectedDigests(t.scenario, t.digest), `${t.ref} layer digests`);
  const m = t.manifest as { layers?: Descriptor[]; manifests?: Descriptor[] };
  const raw = (m.layers ?? m.manifests ?? []).filter((d) => d.mediaType !== CACHE_CONFIG_MEDIA_TYPE);
  assert.deepEqual(layers, raw);
  for (const l of layers) {
    // e2's recompressed base layer has no createdat: BuildKit made it during export, not a build.
    // The captures ran on 2026-11-23 (k-export-and-push on 2026-12-03).
    assert.match(layerCreatedAt(l) ?? '2026-11-23T', /^2026-(11-23|12-03)T/);
    assert.match(layerDiffId(l) ?? '', /^sha256:[a-f0-9]{64}$/);
  }
}

const REGISTRY_CACHES: Array<[string, 'image-manifest' | 'index', number]> = [
  ['a-image-manifest', 'image-manifest', 9],
  ['b-index', 'index', 9],
  ['b0-default', 'image-manifest', 9],
  ['b2-docker-list', 'index', 9],
  ['c-min', 'image-manifest', 3],
  ['e-zstd', 'image-manifest', 9],
  ['e2-zstd-force', 'image-manifest', 9],
  ['f-local', 'image-manifest', 9],
  ['h-overwrite/after-step1', 'image-manifest', 5],
  ['h-overwrite/after-step2', 'image-manifest', 9],
  ['h-overwrite/after-step3', 'image-manifest', 5],
  ['k-export-and-push', 'image-manifest', 9],
];

for (const [scenario, kind, layerCount] of REGISTRY_CACHES) {
  test(`detect ${scenario}: ${kind} form with ${layerCount} layers and its cacheconfig`, () => {
    const [tagged] = taggedManifests(scenario);
    const found = detect(tagged!);
    assert.equal(found.kind, kind);
    if (found.kind !== 'image-manifest' && found.kind !== 'index') return;
    const configs = Object.entries(fixtureIndex(scenario).blobs).filter(([, b]) => b.role === 'cacheconfig');
    assert.equal(found.config.mediaType, CACHE_CONFIG_MEDIA_TYPE);
    assert.ok(configs.some(([d, b]) => d === found.config.digest && b.size === found.config.size));
    assert.equal(found.layers.length, layerCount);
    assertLayersMatchIndex(tagged!, found.layers);
  });
}

test('detect b2-docker-list: a Docker manifest list keeps Docker layer media types', () => {
  const found = detect(taggedManifests('b2-docker-list')[0]!);
  assert.equal(found.kind, 'index');
  if (found.kind !== 'index') return;
  assert.equal(found.mediaType, 'application/vnd.docker.distribution.manifest.list.v2+json');
  assert.ok(found.layers.every((l) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar.gzip'));
});

test('detect e-zstd: mixed gzip base layer and zstd layers; e2 recompresses the base too', () => {
  const types = (s: string): string[] => {
    const found = detect(taggedManifests(s)[0]!);
    return found.kind === 'image-manifest' ? found.layers.map((l) => l.mediaType).sort() : [];
  };
  assert.deepEqual(new Set(types('e-zstd')), new Set(['application/vnd.oci.image.layer.v1.tar+gzip', 'application/vnd.oci.image.layer.v1.tar+zstd']));
  assert.deepEqual(new Set(types('e2-zstd-force')), new Set(['application/vnd.oci.image.layer.v1.tar+zstd']));
});

test('detect g-two-refs: both refs are image-manifest caches (max deps, min final)', () => {
  const found = taggedManifests('g-two-refs').map(detect);
  assert.deepEqual(found.map((f) => f.kind), ['image-manifest', 'image-manifest']);
  for (const [i, t] of taggedManifests('g-two-refs').entries()) {
    const f = found[i]!;
    if (f.kind === 'image-manifest') assertLayersMatchIndex(t, f.layers);
  }
});

test('detect i-cross-repo: copied cache carries source-ref annotations; the pushed image is not a cache', () => {
  const [cache, image] = taggedManifests('i-cross-repo');
  const copied = detect(cache!);
  assert.equal(copied.kind, 'image-manifest');
  if (copied.kind === 'image-manifest') {
    assertLayersMatchIndex(cache!, copied.layers);
    assert.ok(copied.layers.every((l) => l.annotations?.['containerd.io/distribution.source.ref'] === '127.0.0.1:5101/app/cache:imgman'));
  }
  const first = detectCache({ mediaType: image!.mediaType, manifest: image!.manifest });
  assert.equal(first.kind, 'needs-image-config');
  assert.equal(detect(image!).kind, 'not-cache');
});

test('detect d-inline: needs the image config, then inline with history/diff_id annotations', () => {
  const [tagged] = taggedManifests('d-inline');
  const first = detectCache({ mediaType: tagged!.mediaType, manifest: tagged!.manifest });
  assert.equal(first.kind, 'needs-image-config');
  const found = detect(tagged!);
  assert.equal(found.kind, 'inline');
  if (found.kind !== 'inline') return;
  const config = blobJson('d-inline', found.config.digest) as { rootfs: { diff_ids: string[] } };
  assert.equal(found.layers.length, 3);
  assert.deepEqual(found.layers.map(layerDiffId), config.rootfs.diff_ids);
  // Non-empty history entries: COPY rootfs, WORKDIR, COPY /out.
  assert.deepEqual(found.layers.map(layerCreatedAt), [
    '2026-11-23T04:27:58.950341648Z', '2026-11-23T04:31:13.08955946Z', '2026-11-23T04:31:13.595040093Z',
  ]);
  assert.match(found.cache, /^[A-Za-z0-9+/]+=*$/);
});

test('detect base image and the f-local OCI layout index: not caches', () => {
  assert.equal(detect(taggedManifests('base')[0]!).kind, 'not-cache');
  const layout = JSON.parse(fixtureText('f-local/layout-index.json')) as unknown;
  const found = detectCache({ manifest: layout });
  assert.equal(found.kind, 'not-cache');
});

const D = (c: string): string => `sha256:${c.repeat(64)}`;
const layer = (c: string): Descriptor => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D(c), size: 1 });
const ccDesc = (c: string): Descriptor => ({ mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: D(c), size: 2 });

test('index form: the LAST cacheconfig entry wins and layers de-duplicate by digest', () => {
  const manifest = { schemaVersion: 2, manifests: [layer('a'), ccDesc('1'), layer('b'), layer('a'), ccDesc('2')] };
  const found = detectCache({ mediaType: 'application/vnd.oci.image.index.v1+json', manifest });
  assert.equal(found.kind, 'index');
  if (found.kind !== 'index') return;
  assert.equal(found.config.digest, D('2'));
  assert.deepEqual(found.layers.map((l) => l.digest), [D('a'), D('b')]);
});

test('media type falls back to the mediaType field, then to the shape', () => {
  const manifest = { schemaVersion: 2, config: ccDesc('1'), layers: [layer('a')] };
  assert.equal(detectCache({ manifest }).kind, 'image-manifest');
  assert.equal(detectCache({ manifest: { schemaVersion: 2, manifests: [ccDesc('1')] } }).kind, 'index');
  const typed = { ...manifest, mediaType: 'application/vnd.oci.image.index.v1+json' };
  assert.equal(detectCache({ manifest: typed }).kind, 'not-cache'); // an "index" without manifests[]
});

test('not caches: images of other kinds, artifacts, indexes of images, garbage', () => {
  const cases: unknown[] = [
    null, 42, 'x', [], {},
    { schemaVersion: 2, config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', digest: D('1'), size: 1 }, layers: [] },
    { schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('1'), size: 1 }] },
  ];
  for (const manifest of cases) assert.equal(detectCache({ manifest }).kind, 'not-cache', JSON.stringify(manifest));
  assert.equal(detectCache({ mediaType: 'text/plain', manifest: {} }).kind, 'not-cache');
});

test('invalid caches: bad descriptors in a cache manifest or index give a reason', () => {
  const bad = [
    { schemaVersion: 2, config: { ...ccDesc('1'), digest: 'sha256:nothex' }, layers: [] },
    { schemaVersion: 2, config: ccDesc('1'), layers: [{ ...layer('a'), size: -1 }] },
    { schemaVersion: 2, config: ccDesc('1'), layers: [{ ...layer('a'), annotations: { k: 1 } }] },
    { schemaVersion: 2, config: ccDesc('1'), layers: 'nope' },
    { schemaVersion: 2, manifests: [ccDesc('1'), 'x'] },
  ];
  for (const manifest of bad) {
    const found = detectCache({ manifest });
    assert.equal(found.kind, 'invalid', JSON.stringify(manifest));
    if (found.kind === 'invalid') assert.ok(found.reason.length > 0);
  }
});

test('inline: null cache is "none"; wrong type, bad diff_ids or a count mismatch are invalid', () => {
  const manifest = {
    schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: D('c'), size: 1 },
    layers: [layer('a')],
  };
  const rootfs = { type: 'layers', diff_ids: [D('d')] };
  const run = (imageConfig: unknown): string => detectCache({ manifest, imageConfig }).kind;
  assert.equal(run({ rootfs, 'moby.buildkit.cache.v0': null }), 'not-cache');
  assert.equal(run({ rootfs, 'moby.buildkit.cache.v0': 5 }), 'invalid');
  assert.equal(run({ rootfs: { diff_ids: [] }, 'moby.buildkit.cache.v0': 'W10=' }), 'invalid');
  assert.equal(run({ rootfs: { diff_ids: ['zzz'] }, 'moby.buildkit.cache.v0': 'W10=' }), 'invalid');
  assert.equal(run('not an object'), 'invalid');
  assert.equal(run({ rootfs, 'moby.buildkit.cache.v0': 'W10=' }), 'inline');
});

test('detection ignores inherited and __proto__ keys', () => {
  const manifest = JSON.parse(`{"__proto__": {"config": ${JSON.stringify(ccDesc('1'))}}, "schemaVersion": 2}`) as unknown;
  assert.equal(detectCache({ manifest }).kind, 'not-cache');
  const annotated = JSON.parse(`{"schemaVersion":2,"config":${JSON.stringify(ccDesc('1'))},"layers":[{"mediaType":"m","digest":"${D('a')}","size":1,"annotations":{"__proto__":"x"}}]}`) as unknown;
  const found = detectCache({ manifest: annotated });
  assert.equal(found.kind, 'image-manifest');
  if (found.kind === 'image-manifest') {
    assert.equal(Object.getPrototypeOf(found.layers[0]!.annotations), Object.prototype);
    assert.equal(Object.hasOwn(found.layers[0]!.annotations!, '__proto__'), true);
  }
});
