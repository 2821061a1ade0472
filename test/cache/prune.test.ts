/**
 * Pruning inside a cache (src/cache/buildkit/prune.ts) on the recorded BuildKit v0.24 caches. Expectations
 * are computed from the raw JSON (parent absent = 0, as Go writes it), never through src/cache: which results
 * survive is "every result whose layer chain avoids the dropped blobs", and the output must parse with zero
 * complaints and hold exactly those.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  detectCache, parseCacheConfig, pruneCacheConfig, pruneCacheManifest, sha256Digest, type PruneManifestResult,
} from '../../src/cache/buildkit/index.js';
import { blobBytes, taggedManifests } from './fixtures.js';

interface RawLayer { blob: string; parent?: number }
interface RawRecord { digest: string; layers?: Array<{ layer: number; createdAt?: string }>; chains?: Array<{ layers: number[] }>; inputs?: Array<Array<{ link: number; selector?: string }>> }
interface RawConfig { layers?: RawLayer[]; records?: RawRecord[] }
interface RawDescriptor { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }
interface RawManifest { schemaVersion: number; mediaType: string; config: RawDescriptor; layers: RawDescriptor[] }

/** Image-manifest caches among the fixtures (b-index is the legacy index form, d-inline inline cache). */
const IMAGE_MANIFEST_CACHES = [
  'a-image-manifest', 'b0-default', 'c-min', 'e-zstd', 'e2-zstd-force', 'g-two-refs', 'h-overwrite/after-step1',
  'h-overwrite/after-step2', 'h-overwrite/after-step3', 'i-cross-repo', 'k-export-and-push',
] as const;

function caches(scenario: string) {
  return taggedManifests(scenario).flatMap((t) => {
    const found = detectCache({ mediaType: t.mediaType, manifest: t.manifest });
    if (found.kind !== 'image-manifest') return [];
    return [{ ...t, bytes: blobBytes(scenario, t.digest), config: blobBytes(scenario, found.config.digest) }];
  });
}

const rawJson = <T>(bytes: Uint8Array) => JSON.parse(Buffer.from(bytes).toString('utf8')) as T;

/** A result's layer chain as blob digests, base first, from raw JSON. */
function chainOf(layers: RawLayer[], index: number): string[] {
  const out: string[] = [];
  for (let at = index; at !== -1; at = layers[at]!.parent ?? 0) {
    out.push(layers[at]!.blob);
    assert.ok(out.length <= layers.length, 'looping layers');
  }
  return out.reverse();
}

/** Every result of a config as "record digest → chain", so documents with different indexes compare. */
function resultSet(config: RawConfig): Set<string> {
  const layers = config.layers ?? [];
  const out = new Set<string>();
  for (const r of config.records ?? []) {
    for (const res of r.layers ?? []) out.add(`${r.digest} ${chainOf(layers, res.layer).join(',')}`);
    for (const c of r.chains ?? []) out.add(`${r.digest} chain ${c.layers.map((l) => layers[l]!.blob).join(',')}`);
  }
  return out;
}

function ok(result: PruneManifestResult): Extract<PruneManifestResult, { ok: true }> {
  if (!result.ok) assert.fail(result.reason);
  return result;
}

/** Checks what must hold of any pruned cache, against the original, from raw JSON. */
function checkPruned(original: { bytes: Uint8Array; config: Uint8Array }, drop: Set<string>, out: Extract<PruneManifestResult, { ok: true }>): RawConfig {
  const parsed = parseCacheConfig(out.config);
  if (!parsed.ok) assert.fail(`the rewritten cacheconfig does not parse: ${parsed.reason}`);
  assert.equal(out.configDescriptor.digest, sha256Digest(out.config));
  assert.equal(out.manifestDigest, sha256Digest(out.manifest));
  const before = rawJson<RawConfig>(original.config);
  const after = rawJson<RawConfig>(out.config);
  const afterLayers = after.layers ?? [];
  const afterRecords = after.records ?? [];

  // Results: exactly the original ones whose chain avoids every dropped blob.
  const expected = [...resultSet(before)].filter((r) => !r.split(' ').pop()!.split(',').some((b) => drop.has(b)));
  assert.deepEqual([...resultSet(after)].sort(), expected.sort(), 'results kept');
  // No dropped blob anywhere, and every layer entry is reached by a kept result (directly or as a parent).
  for (const l of afterLayers) assert.ok(!drop.has(l.blob), `dropped blob ${l.blob} still listed`);
  const reached = new Set<number>();
  for (const r of afterRecords) {
    for (const res of r.layers ?? []) for (let at = res.layer; at !== -1; at = afterLayers[at]!.parent ?? 0) reached.add(at);
    for (const c of r.chains ?? []) for (const l of c.layers) for (let at = l; at !== -1; at = afterLayers[at]!.parent ?? 0) reached.add(at);
  }
  assert.equal(reached.size, afterLayers.length, 'every layer entry is used');
  // Records: each has results or is an input of a kept record; links in range, no empty input list.
  const linked = new Set(afterRecords.flatMap((r) => (r.inputs ?? []).flat().map((i) => i.link)));
  afterRecords.forEach((r, i) => {
    assert.ok((r.layers?.length ?? 0) + (r.chains?.length ?? 0) > 0 || linked.has(i), `record ${r.digest} is useless`);
    for (const alts of r.inputs ?? []) {
      assert.ok(alts.length > 0, 'empty input list');
      for (const a of alts) assert.ok(a.link >= 0 && a.link < afterRecords.length, 'link in range');
    }
  });
  // A kept record keeps every input source it had (the records it links to are kept, by the rule above).
  const beforeRecords = before.records ?? [];
  const inputsOf = (records: RawRecord[], r: RawRecord) => JSON.stringify((r.inputs ?? []).map((alts) => alts.map((a) => `${a.selector ?? ''}@${records[a.link]!.digest}`)));
  for (const r of afterRecords) {
    const was = beforeRecords.filter((b) => b.digest === r.digest).map((b) => inputsOf(beforeRecords, b));
    assert.ok(was.includes(inputsOf(afterRecords, r)), `record ${r.digest} keeps its inputs`);
  }

  // The manifest: same fields and media types; the config descriptor replaced; layer descriptors verbatim.
  const m = rawJson<RawManifest>(original.bytes);
  const n = rawJson<RawManifest>(out.manifest);
  assert.deepEqual(Object.keys(n), Object.keys(m));
  assert.equal(n.mediaType, m.mediaType);
  assert.equal(n.schemaVersion, m.schemaVersion);
  assert.deepEqual(n.config, { ...m.config, digest: sha256Digest(out.config), size: out.config.byteLength });
  const named = new Set(afterLayers.map((l) => l.blob));
  assert.deepEqual(n.layers, m.layers.filter((d) => named.has(d.digest)), 'kept descriptors, verbatim and in order');
  assert.deepEqual(named, new Set(n.layers.map((d) => d.digest)), 'the manifest lists exactly the blobs the config names');
  return after;
}

test('dropping nothing gives the same bytes back, for every image-manifest cache', () => {
  for (const scenario of IMAGE_MANIFEST_CACHES) {
    for (const c of caches(scenario)) {
      const out = ok(pruneCacheManifest({ manifest: c.bytes, mediaType: c.mediaType, config: c.config }, new Set()));
      assert.deepEqual(Buffer.from(out.config), Buffer.from(c.config), `${scenario}: cacheconfig`);
      assert.deepEqual(Buffer.from(out.manifest), Buffer.from(c.bytes), `${scenario}: manifest`);
      assert.equal(out.manifestDigest, c.digest);
      assert.deepEqual(out.summary.blobsDropped, []);
    }
  }
});

test('dropping any one layer blob of any cache leaves a valid cache with exactly the results that avoid it', () => {
  let cases = 0;
  for (const scenario of IMAGE_MANIFEST_CACHES) {
    for (const c of caches(scenario)) {
      const blobs = [...new Set((rawJson<RawConfig>(c.config).layers ?? []).map((l) => l.blob))];
      for (const blob of blobs) {
        const drop = new Set([blob]);
        const out = ok(pruneCacheManifest({ manifest: c.bytes, mediaType: c.mediaType, config: c.config }, drop));
        checkPruned(c, drop, out);
        assert.ok(out.summary.blobsDropped.includes(blob), `${scenario}: ${blob} dropped`);
        cases++;
      }
    }
  }
  assert.ok(cases >= 40, `${cases} cases`);
});

test('dropping pairs of blobs (every pair in h-overwrite step 2, the full mode=max build)', () => {
  const [c] = caches('h-overwrite/after-step2');
  const blobs = [...new Set((rawJson<RawConfig>(c!.config).layers ?? []).map((l) => l.blob))];
  for (const a of blobs) {
    for (const b of blobs) {
      if (a >= b) continue;
      const drop = new Set([a, b]);
      checkPruned(c!, drop, ok(pruneCacheManifest({ manifest: c!.bytes, mediaType: c!.mediaType, config: c!.config }, drop)));
    }
  }
});

test('an absent parent means layer 0: dropping layer 0 drops the layer stacked on it without a parent field', () => {
  const [c] = caches('h-overwrite/after-step2');
  const raw = rawJson<RawConfig>(c!.config);
  const onZero = raw.layers!.filter((l) => !('parent' in l));
  assert.ok(onZero.length > 0, 'the fixture has a layer whose parent field is absent');
  const drop = new Set([raw.layers![0]!.blob]);
  const out = ok(pruneCacheManifest({ manifest: c!.bytes, mediaType: c!.mediaType, config: c!.config }, drop));
  const after = checkPruned(c!, drop, out);
  for (const l of onZero) {
    assert.ok(!after.layers!.some((k) => k.blob === l.blob), `${l.blob} sat on the dropped layer 0 and must go too`);
    assert.ok(out.summary.blobsDropped.includes(l.blob));
  }
});

test('h-overwrite: pruning the full build down to the layers of the deps export gives BuildKit\'s own deps export', () => {
  // Step 1 exported only the deps stage; step 2 the full build (a superset). Dropping the layers only the full
  // build has must leave what BuildKit itself wrote for the deps stage alone: every surviving record, input
  // and layer, byte for byte.
  const [deps] = caches('h-overwrite/after-step1');
  const [full] = caches('h-overwrite/after-step2');
  const depsBlobs = new Set((rawJson<RawConfig>(deps!.config).layers ?? []).map((l) => l.blob));
  const drop = new Set((rawJson<RawConfig>(full!.config).layers ?? []).map((l) => l.blob).filter((b) => !depsBlobs.has(b)));
  assert.ok(drop.size >= 2);
  const out = ok(pruneCacheManifest({ manifest: full!.bytes, mediaType: full!.mediaType, config: full!.config }, drop));
  checkPruned(full!, drop, out);
  assert.deepEqual(resultSet(rawJson<RawConfig>(out.config)), resultSet(rawJson<RawConfig>(deps!.config)));
  assert.deepEqual(Buffer.from(out.config).toString(), Buffer.from(deps!.config).toString(), 'the deps export\'s cacheconfig');
});

test('dropping the base layer empties the cache: no layers, no records, still a valid cacheconfig', () => {
  const [c] = caches('h-overwrite/after-step2');
  const raw = rawJson<RawConfig>(c!.config);
  const base = raw.layers!.find((l) => l.parent === -1)!.blob;
  const out = ok(pruneCacheManifest({ manifest: c!.bytes, mediaType: c!.mediaType, config: c!.config }, new Set([base])));
  assert.equal(Buffer.from(out.config).toString(), '{}');
  assert.ok(parseCacheConfig(out.config).ok);
  assert.deepEqual(rawJson<RawManifest>(out.manifest).layers, []);
  assert.equal(out.summary.layersAfter, 0);
  assert.equal(out.summary.recordsAfter, 0);
});

test('the legacy index form and inline cache are not rewritten; bytes that do not match the config digest are refused', () => {
  const index = taggedManifests('b-index')[0]!;
  const inline = taggedManifests('d-inline')[0]!;
  const [c] = caches('c-min');
  const indexOut = pruneCacheManifest({ manifest: blobBytes('b-index', index.digest), mediaType: index.mediaType, config: new Uint8Array() }, new Set());
  assert.deepEqual(indexOut, { ok: false, reason: 'a legacy index-form cache: only image-manifest caches are rewritten' });
  const inlineOut = pruneCacheManifest({ manifest: blobBytes('d-inline', inline.digest), mediaType: inline.mediaType, config: new Uint8Array() }, new Set());
  assert.equal(inlineOut.ok, false);
  const wrong = pruneCacheManifest({ manifest: c!.bytes, mediaType: c!.mediaType, config: Buffer.from('{}') }, new Set());
  assert.equal(wrong.ok, false);
  assert.match((wrong as { reason: string }).reason, /do not match/);
});

test('pruneCacheConfig refuses a looping config instead of walking it forever', () => {
  const looping = { layers: [{ blob: `sha256:${'a'.repeat(64)}`, parent: 1 }, { blob: `sha256:${'b'.repeat(64)}`, parent: 0 }], records: [] };
  const out = pruneCacheConfig(looping, new Set());
  assert.equal(out.ok, false);
  assert.match((out as { reason: string }).reason, /looping layer/);
});
