/**
 * Caches BuildKit could not use, built by hand and pushed over HTTP: the push is still accepted (201), the cache
 * is indexed with the reason, the API shows the warning, the log says so and /metrics counts it.
 *   - oversize: a valid cacheconfig over 1 MiB (many records), and a cache manifest over 1 MiB;
 *   - missing blobs: a cacheconfig naming a layer the manifest does not list;
 *   - unparseable: not JSON, a layer loop, a record loop, an out-of-range index, an index-form cache with a
 *     broken cacheconfig, inline cache that is not base64, inline cache whose diff_ids do not match the layers.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { http } from '../support/http.js';
import { blobOf, OCI_INDEX, OCI_MANIFEST, sha256, type Blob } from '../support/oci.js';
import { startCairn } from '../support/registry.js';
import { describeOnEachDatabase } from '../support/suite.js';
import { apiJson, assertDetail, CACHECONFIG, eventually, expectCache, INLINE_KEY, metricValue, metrics, pushManifest } from './support.js';

const REPO = 'warn/app';
const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const MIB = 1024 * 1024;
const CREATED = '2026-01-02T03:04:05.123456789Z';

const fakeDigest = () => `sha256:${randomBytes(32).toString('hex')}`;

interface Built {
  manifest: Buffer;
  mediaType: string;
  blobs: Map<string, Buffer>;
  config: Blob;
}

function layerDescriptor(b: Blob) {
  return { mediaType: LAYER, digest: b.digest, size: b.size, annotations: { 'buildkit/createdat': CREATED } };
}

/** An image-manifest cache: the cacheconfig bytes as given, `listed` as the manifest's layers. */
function imageManifestCache(config: Buffer | string, listed: Blob[], extra: Record<string, unknown> = {}): Built {
  const c = blobOf(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: CACHECONFIG, digest: c.digest, size: c.size },
      layers: listed.map(layerDescriptor),
      ...extra,
    }),
  );
  return { manifest, mediaType: OCI_MANIFEST, blobs: new Map([[c.digest, c.bytes], ...listed.map((b) => [b.digest, b.bytes] as [string, Buffer])]), config: c };
}

/** A legacy index-form cache: layers, then the cacheconfig, as manifests[] entries. */
function indexCache(config: Buffer | string, listed: Blob[]): Built {
  const c = blobOf(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [...listed.map(layerDescriptor), { mediaType: CACHECONFIG, digest: c.digest, size: c.size }],
    }),
  );
  return { manifest, mediaType: OCI_INDEX, blobs: new Map([[c.digest, c.bytes], ...listed.map((b) => [b.digest, b.bytes] as [string, Buffer])]), config: c };
}

/** An image with inline cache: `cache` is the raw value of moby.buildkit.cache.v0. */
function inlineImage(cache: string, layers: Blob[], diffIds = layers.length): Built {
  const config = blobOf(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: Array.from({ length: diffIds }, fakeDigest) },
      history: layers.map(() => ({ created: CREATED })),
      [INLINE_KEY]: cache,
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config.digest, size: config.size },
      layers: layers.map((b) => ({ mediaType: LAYER, digest: b.digest, size: b.size })),
    }),
  );
  return { manifest, mediaType: OCI_MANIFEST, blobs: new Map([[config.digest, config.bytes], ...layers.map((b) => [b.digest, b.bytes] as [string, Buffer])]), config };
}

const layerBlob = () => blobOf(randomBytes(300));

describeOnEachDatabase('cache API: warnings for caches BuildKit cannot use', (ctx) => {
  const push = (tag: string, built: Built) => pushManifest(ctx.base, REPO, tag, built.manifest, built.mediaType, { blobs: built.blobs });
  const detail = (tag: string) => apiJson(ctx.base, `/repositories/${REPO}/caches/${tag}`);
  const pushes = { 'image-manifest': 0, index: 0, inline: 0 };
  let lastTotal = -1;

  test('a valid cacheconfig over 1 MiB is indexed in full, with an oversize warning', async () => {
    const base = layerBlob();
    const records = Array.from({ length: 9000 }, () => ({ digest: fakeDigest(), layers: [{ layer: 0, createdAt: CREATED }] }));
    const config = JSON.stringify({ layers: [{ blob: base.digest, parent: -1 }], records });
    assert.ok(Buffer.byteLength(config) > 1.2 * MIB, `config is ${Buffer.byteLength(config)} bytes`);
    const built = imageManifestCache(config, [base]);
    await push('big-config', built);
    pushes['image-manifest']++;
    const d = await detail('big-config');
    assert.equal(d.parsed, true, d.reason);
    assert.equal(d.records.length, 9000);
    assert.equal(d.layers.length, 1);
    assert.equal(d.configBytes, built.config.size);
    assert.equal(d.totalBytes, built.config.size + base.size);
    lastTotal = d.totalBytes;
    assert.equal(d.warnings.length, 1, JSON.stringify(d.warnings));
    assert.match(d.warnings[0], /^oversize:/);
    assert.match(d.warnings[0], /cacheconfig/);
    assert.match(d.warnings[0], new RegExp(`${built.config.size}`));
    const listed = (await apiJson(ctx.base, `/repositories/${REPO}/caches`)).caches.find((c: { tag: string }) => c.tag === 'big-config');
    assert.equal(listed.records, 9000, 'the list counts every record');
    assert.deepEqual(listed.warnings, d.warnings);
  });

  test('a cache manifest over 1 MiB gets an oversize warning too', async () => {
    const base = layerBlob();
    const config = JSON.stringify({ layers: [{ blob: base.digest, parent: -1 }], records: [{ digest: fakeDigest(), layers: [{ layer: 0, createdAt: CREATED }] }] });
    const built = imageManifestCache(config, [base], { annotations: { padding: 'x'.repeat(MIB + 1000) } });
    assert.ok(built.manifest.length > MIB);
    await push('big-manifest', built);
    pushes['image-manifest']++;
    const d = await detail('big-manifest');
    assert.equal(d.parsed, true, d.reason);
    assert.equal(d.warnings.length, 1, JSON.stringify(d.warnings));
    assert.match(d.warnings[0], /^oversize:/);
    assert.match(d.warnings[0], /manifest/);
    assert.equal(d.manifestBytes, built.manifest.length);
    lastTotal = d.totalBytes;
  });

  test('a cacheconfig naming a layer the manifest lacks: missing-blob warning, the rest indexed', async () => {
    const listed = layerBlob();
    const absent = fakeDigest();
    const config = JSON.stringify({
      layers: [{ blob: listed.digest, parent: -1 }, { blob: absent }], // absent parent: on layer 0
      records: [
        { digest: fakeDigest() },
        { digest: fakeDigest(), layers: [{ layer: 1, createdAt: CREATED }], inputs: [[{ link: 0 }]] },
      ],
    });
    const built = imageManifestCache(config, [listed]);
    await push('missing-blob', built);
    pushes['image-manifest']++;
    const d = await detail('missing-blob');
    assert.equal(d.parsed, true, d.reason);
    assert.equal(d.warnings.length, 1, JSON.stringify(d.warnings));
    assert.match(d.warnings[0], /^missing blobs:/);
    assert.match(d.warnings[0], /\b1 layer/);
    assert.deepEqual(d.layers[1], { digest: absent, parent: 0, size: null, mediaType: null, createdAt: null });
    assert.deepEqual(d.records[1].results, [[listed.digest, absent]]);
    assert.equal(d.totalBytes, built.config.size + listed.size);
    // Everything but the warning is as the JSON says.
    const want = expectCache(built.manifest, built.blobs);
    assertDetail({ ...d, warnings: [] }, want, 'missing-blob');
    lastTotal = d.totalBytes;
  });

  const broken: Array<{ tag: string; reason: RegExp; build: () => Built; format: 'image-manifest' | 'index' | 'inline' }> = [
    { tag: 'not-json', format: 'image-manifest', reason: /JSON/i, build: () => imageManifestCache('{"layers": [ this is not json', [layerBlob()]) },
    {
      tag: 'layer-loop',
      format: 'image-manifest',
      reason: /loop|cycle/i,
      build: () => {
        const [x, y] = [layerBlob(), layerBlob()];
        return imageManifestCache(JSON.stringify({ layers: [{ blob: x.digest, parent: 1 }, { blob: y.digest }], records: [{ digest: fakeDigest(), layers: [{ layer: 0 }] }] }), [x, y]);
      },
    },
    {
      tag: 'record-loop',
      format: 'image-manifest',
      reason: /loop|cycle/i,
      build: () => {
        const x = layerBlob();
        const records = [
          { digest: fakeDigest(), layers: [{ layer: 0 }], inputs: [[{ link: 1 }]] },
          { digest: fakeDigest(), inputs: [[{ link: 0 }]] },
        ];
        return imageManifestCache(JSON.stringify({ layers: [{ blob: x.digest, parent: -1 }], records }), [x]);
      },
    },
    {
      tag: 'out-of-range',
      format: 'image-manifest',
      reason: /range|index|layer/i,
      build: () => {
        const x = layerBlob();
        return imageManifestCache(JSON.stringify({ layers: [{ blob: x.digest, parent: -1 }], records: [{ digest: fakeDigest(), layers: [{ layer: 5 }] }] }), [x]);
      },
    },
    { tag: 'index-not-json', format: 'index', reason: /JSON/i, build: () => indexCache('not json at all', [layerBlob()]) },
    { tag: 'inline-not-base64', format: 'inline', reason: /base64/i, build: () => inlineImage('!!! not base64 !!!', [layerBlob()]) },
    {
      tag: 'inline-diff-ids',
      format: 'inline',
      reason: /diff_ids/,
      build: () => inlineImage(Buffer.from(JSON.stringify([{ digest: fakeDigest() }])).toString('base64'), [layerBlob(), layerBlob()], 1),
    },
  ];

  test('unparseable caches: the push is accepted, the entry says parsed=false and why', async () => {
    for (const c of broken) {
      const built = c.build();
      await push(c.tag, built); // asserts 201 and the digest
      pushes[c.format]++;
      const d = await detail(c.tag);
      assert.equal(d.parsed, false, `${c.tag}: parsed`);
      assert.equal(d.format, c.format, `${c.tag}: format`);
      assert.match(d.reason ?? '', c.reason, `${c.tag}: reason`);
      assert.equal(d.mode, null, `${c.tag}: mode`);
      assert.deepEqual(d.layers, [], `${c.tag}: layers`);
      assert.deepEqual(d.records, [], `${c.tag}: records`);
      assert.equal(d.manifestDigest, sha256(built.manifest), `${c.tag}: manifestDigest`);
      assert.ok(d.warnings.some((w: string) => w.startsWith('unparseable:') && w.includes(d.reason)), `${c.tag}: warnings ${JSON.stringify(d.warnings)}`);
      // The manifest is served as pushed.
      const get = await http('GET', `${ctx.base}/v2/${REPO}/manifests/${c.tag}`, { headers: { accept: built.mediaType } });
      assert.equal(get.status, 200, `${c.tag}: GET manifest`);
      assert.ok(get.body.equals(built.manifest), `${c.tag}: manifest bytes`);
      lastTotal = d.totalBytes;
    }
  });

  // (Was a bug, fixed in e234c52: an index has no `config`, and the entry named no cacheconfig.)
  test('an unparseable cache still names its cacheconfig (so its imports are recognised)', async () => {
    for (const tag of ['not-json', 'index-not-json']) {
      const d = await detail(tag);
      assert.match(d.configDigest ?? '', /^sha256:[0-9a-f]{64}$/, `${tag}: configDigest ${d.configDigest}`);
      assert.equal(typeof d.configBytes, 'number', `${tag}: configBytes`);
    }
  });

  test('the list shows every cache with its warnings; the log and /metrics count them', async () => {
    const list = (await apiJson(ctx.base, `/repositories/${REPO}/caches`)).caches as Array<{ tag: string; parsed: boolean; reason: string | null; warnings: string[] }>;
    const byTag = new Map(list.map((c) => [c.tag, c]));
    for (const c of broken) {
      assert.equal(byTag.get(c.tag)?.parsed, false, c.tag);
      assert.match(byTag.get(c.tag)!.reason ?? '', c.reason, c.tag);
    }
    assert.equal(byTag.get('missing-blob')?.warnings.length, 1);
    const kinds = (kind: string) => list.reduce((n, c) => n + c.warnings.filter((w) => w.startsWith(`${kind}:`)).length, 0);
    const text = await metrics(ctx.base);
    for (const kind of ['oversize', 'missing blobs', 'unparseable']) {
      assert.equal(metricValue(text, 'cairn_cache_warnings_total', { repository: REPO, kind }), kinds(kind), `warnings_total{kind="${kind}"}`);
    }
    assert.equal(kinds('oversize'), 2);
    assert.equal(kinds('missing blobs'), 1);
    assert.equal(kinds('unparseable'), broken.length);
    for (const [format, n] of Object.entries(pushes)) {
      assert.equal(metricValue(text, 'cairn_cache_pushes_total', { repository: REPO, format }), n, `pushes_total{format="${format}"}`);
    }
    assert.equal(metricValue(text, 'cairn_cache_bytes', { repository: REPO }), lastTotal, 'cache bytes of the last push');
    assert.match(text, /# TYPE cairn_cache_imports_total counter/);
    // Logged at push time, with the tag and the warnings.
    const logged = ctx.server.logs
      .map((l) => {
        try {
          return JSON.parse(l) as { msg?: string; tag?: string; warnings?: string[] };
        } catch {
          return {};
        }
      })
      .filter((l) => l.msg === 'cache pushed with warnings');
    for (const tag of ['big-config', 'big-manifest', 'missing-blob', ...broken.map((c) => c.tag)]) {
      const entry = logged.find((l) => l.tag === tag);
      assert.ok(entry, `no warning logged for ${tag}`);
      assert.deepEqual(entry.warnings, byTag.get(tag)!.warnings, `${tag}: logged warnings`);
    }
  });
  // Import counts are batched in memory; stopping the server must flush them, and a restarted server must
  // recognise the cacheconfigs indexed before it started. PostgreSQL only: a second PGlite start costs ~20 s and
  // the flush does not depend on the database.
  test('imports survive a restart (flushed at shutdown) and are still recognised afterwards', async (t) => {
    if (ctx.database !== 'postgres') return t.skip('restart checked on PostgreSQL only');
    const before = await detail('missing-blob');
    assert.equal(before.importCount, 0);
    const fetch = async (base: string, ua: string) => {
      const response = await http('GET', `${base}/v2/${REPO}/blobs/${before.configDigest}`, { headers: { 'user-agent': ua } });
      assert.equal(response.status, 200);
    };
    await fetch(ctx.base, 'buildkit/v0.24 (before restart)');
    await ctx.server.stop({ keepData: true });
    const again = await startCairn({ database: ctx.database, dataDir: ctx.server.dataDir, databaseUrl: ctx.server.databaseUrl });
    t.after(() => again.stop({ keepData: true }));
    const after = await apiJson(again.url, `/repositories/${REPO}/caches/missing-blob`);
    assert.equal(after.importCount, 1, 'the import counted before the stop was flushed');
    assert.equal(after.lastImporter, 'buildkit/v0.24 (before restart)');
    await fetch(again.url, 'buildkit/v0.24 (after restart)');
    await eventually(async () => {
      const now = await apiJson(again.url, `/repositories/${REPO}/caches/missing-blob`);
      assert.equal(now.importCount, 2);
      assert.equal(now.lastImporter, 'buildkit/v0.24 (after restart)');
    });
  });
});
