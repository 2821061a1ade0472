import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  detectCache, layerChain, normalizeCacheConfig, parseCacheConfig, parseInlineCache, serializeCacheConfig,
  type CacheConfig,
} from '../../src/cache/buildkit/index.js';
import { blobBytes, blobJson, cacheConfigDigests, taggedManifests, type RawConfig } from './fixtures.js';

const REGISTRY_SCENARIOS = [
  'a-image-manifest', 'b-index', 'b0-default', 'b2-docker-list', 'c-min', 'e-zstd', 'e2-zstd-force', 'f-local',
  'g-two-refs', 'h-overwrite/after-step1', 'h-overwrite/after-step2', 'h-overwrite/after-step3', 'i-cross-repo',
  'k-export-and-push',
];

function parseOk(bytes: Uint8Array | string): CacheConfig & { stats: Extract<ReturnType<typeof parseCacheConfig>, { ok: true }>['stats'] } {
  const result = parseCacheConfig(bytes);
  if (!result.ok) assert.fail(result.reason);
  return { ...result.config, stats: result.stats };
}

for (const scenario of REGISTRY_SCENARIOS) {
  for (const digest of cacheConfigDigests(scenario)) {
    test(`parse ${scenario} ${digest.slice(7, 19)}: counts match the raw cacheconfig`, () => {
      const raw = blobJson(scenario, digest) as RawConfig;
      const parsed = parseOk(blobBytes(scenario, digest));
      const rawLayers = raw.layers ?? [];
      const rawRecords = raw.records ?? [];
      assert.equal(parsed.stats.layers, rawLayers.length);
      assert.equal(parsed.stats.records, rawRecords.length);
      assert.equal(parsed.stats.recordsWithoutResults, rawRecords.filter((r) => !r.layers).length);
      assert.equal(parsed.stats.rootRecords, rawRecords.filter((r) => !r.inputs).length);
      assert.equal(parsed.stats.results, rawRecords.reduce((n, r) => n + (r.layers?.length ?? 0), 0));
      // The parent trap: an absent parent is 0, never "no parent".
      assert.deepEqual(parsed.layers.map((l) => l.parent), rawLayers.map((l) => l.parent ?? 0));
      assert.deepEqual(parsed.records.map((r) => r.digest), rawRecords.map((r) => r.digest));
    });

    test(`parse ${scenario} ${digest.slice(7, 19)}: serialise and normalise give BuildKit's exact bytes`, () => {
      const bytes = blobBytes(scenario, digest);
      const parsed = parseOk(bytes);
      assert.deepEqual(Buffer.from(serializeCacheConfig(parsed)), Buffer.from(bytes));
      const normal = normalizeCacheConfig(parsed);
      if (!normal.ok) assert.fail(normal.reason);
      assert.deepEqual(Buffer.from(normal.bytes), Buffer.from(bytes));
    });
  }
}

test('h-overwrite: layer/record/result counts after each step (fixture README table)', () => {
  const counts = (scenario: string): number[] => {
    const [digest] = cacheConfigDigests(scenario);
    const { stats } = parseOk(blobBytes(scenario, digest!));
    return [stats.layers, stats.records, stats.records - stats.recordsWithoutResults];
  };
  assert.deepEqual(counts('h-overwrite/after-step1'), [5, 7, 4]);
  assert.deepEqual(counts('h-overwrite/after-step2'), [9, 13, 8]);
  assert.deepEqual(counts('h-overwrite/after-step3'), [5, 7, 4]);
  assert.deepEqual(cacheConfigDigests('h-overwrite/after-step1'), cacheConfigDigests('h-overwrite/after-step3'));
});

test('mode guess: max for max exports (multi-stage or deps-only), min for min exports', () => {
  const mode = (scenario: string, i = 0): string => parseOk(blobBytes(scenario, cacheConfigDigests(scenario)[i]!)).stats.mode;
  for (const s of ['a-image-manifest', 'b-index', 'b0-default', 'b2-docker-list', 'e-zstd', 'e2-zstd-force', 'f-local', 'i-cross-repo']) {
    assert.equal(mode(s), 'max', s);
  }
  assert.equal(mode('c-min'), 'min');
  assert.equal(mode('h-overwrite/after-step1'), 'max'); // deps target only: a linear chain, every step has a result
  const g = cacheConfigDigests('g-two-refs').map((d) => parseOk(blobBytes('g-two-refs', d)).stats);
  assert.deepEqual(g.map((s) => [s.records, s.mode]).sort(), [[13, 'min'], [7, 'max']]);
  assert.equal(parseOk('{}').stats.mode, 'empty');
});

test('c-min: the layer without "parent" sits on layer 0, so the final result is a 3-layer chain', () => {
  const [digest] = cacheConfigDigests('c-min');
  const raw = blobJson('c-min', digest!) as RawConfig;
  const parsed = parseOk(blobBytes('c-min', digest!));
  const trap = raw.layers!.findIndex((l) => l.parent === undefined);
  assert.equal(trap, 2);
  assert.equal(parsed.layers[trap]!.parent, 0);
  const copyFrom = parsed.records.find((r) => r.digest.startsWith('sha256:217149d2'))!;
  const chain = layerChain(parsed, copyFrom.results[0]!.layer).map((i) => parsed.layers[i]!.blob.slice(7, 15));
  assert.deepEqual(chain, ['70f44005', '3de7b56d', 'c30e9f1d']);
  assert.equal(parsed.stats.recordsWithoutResults, 11);
});

test('a-image-manifest: the five root records are exactly the records without results', () => {
  const parsed = parseOk(blobBytes('a-image-manifest', cacheConfigDigests('a-image-manifest')[0]!));
  const keyOnly = parsed.records.filter((r) => r.results.length === 0).map((r) => r.digest.slice(7, 15));
  assert.deepEqual(keyOnly, ['3e2c73e0', '42299bec', '45cf84d8', '75e02c79', '8631a5f7']);
  assert.ok(parsed.records.every((r) => (r.results.length === 0) === (r.inputs.length === 0)));
});

test('d-inline: records from the image config, the image layers as the chain, always min', () => {
  const [tagged] = taggedManifests('d-inline');
  const first = detectCache({ mediaType: tagged!.mediaType, manifest: tagged!.manifest });
  assert.equal(first.kind, 'needs-image-config');
  if (first.kind !== 'needs-image-config') return;
  const found = detectCache({ mediaType: tagged!.mediaType, manifest: tagged!.manifest, imageConfig: blobJson('d-inline', first.config.digest) });
  assert.equal(found.kind, 'inline');
  if (found.kind !== 'inline') return;
  const parsed = parseInlineCache(found.cache, found.layers);
  if (!parsed.ok) assert.fail(parsed.reason);
  const raw = JSON.parse(Buffer.from(found.cache, 'base64').toString('utf8')) as NonNullable<RawConfig['records']>;
  assert.equal(parsed.stats.records, raw.length);
  assert.equal(parsed.stats.records, 13);
  assert.equal(parsed.stats.layers, 3);
  assert.deepEqual(parsed.config.layers.map((l) => l.parent), [-1, 0, 1]);
  assert.deepEqual(parsed.config.layers.map((l) => l.blob), found.layers.map((l) => l.digest));
  assert.equal(parsed.stats.results, 2);
  assert.equal(parsed.stats.recordsWithoutResults, 11);
  assert.equal(parsed.stats.mode, 'min');
  const top = parsed.config.records.find((r) => r.digest.startsWith('sha256:217149d2'))!;
  assert.deepEqual(layerChain(parsed.config, top.results[0]!.layer), [0, 1, 2]);
});

const D = (c: string): string => `sha256:${c.repeat(64)}`;
const doc = (value: unknown): string => JSON.stringify(value);
const L = (c: string, parent?: number): Record<string, unknown> => (parent === undefined ? { blob: D(c) } : { blob: D(c), parent });

/** [name, document, expected fragment of the reason] */
const INVALID: Array<[string, Uint8Array | string, string]> = [
  ['not JSON', '{"layers":[', 'not JSON'],
  ['not UTF-8', new Uint8Array([0x7b, 0xff, 0x7d]), 'UTF-8'],
  ['byte-order mark', '\ufeff{}', 'not JSON'],
  ['top-level array', '[]', 'expected a JSON object'],
  ['top-level null', 'null', 'expected a JSON object'],
  ['layers not an array', doc({ layers: {} }), 'layers: expected an array'],
  ['layer not an object', doc({ layers: [1] }), 'layers[0]: expected an object'],
  ['blob not a digest', doc({ layers: [{ blob: 'nope', parent: -1 }] }), 'layers[0].blob'],
  ['blob uppercase hex', doc({ layers: [{ blob: D('A'), parent: -1 }] }), 'layers[0].blob'],
  ['parent past the end', doc({ layers: [L('a', 5)] }), 'layers[0].parent: index 5 is out of range'],
  ['parent below -1', doc({ layers: [L('a', -2)] }), 'out of range'],
  ['parent not an integer', doc({ layers: [L('a', -1), L('b', 0.5)] }), 'expected an integer'],
  ['parent a string', doc({ layers: [L('a', -1), { blob: D('b'), parent: '0' }] }), 'expected an integer'],
  ['absent parent on layer 0 loops to itself', doc({ layers: [L('a')] }), 'looping layer'],
  ['two-layer loop', doc({ layers: [L('a', 1), L('b', 0)] }), 'looping layer'],
  ['annotations wrong type', doc({ layers: [{ blob: D('a'), parent: -1, annotations: 'x' }] }), 'annotations'],
  ['record digest missing', doc({ records: [{}] }), 'records[0].digest'],
  ['record digest random:', doc({ records: [{ digest: 'random:abc' }] }), 'random:'],
  ['result layer out of range', doc({ layers: [L('a', -1)], records: [{ digest: D('1'), layers: [{ layer: 1 }] }] }), 'records[0].layers[0].layer'],
  ['result without layers', doc({ records: [{ digest: D('1'), layers: [{}] }] }), 'layers is empty'],
  ['result createdAt not a time', doc({ layers: [L('a', -1)], records: [{ digest: D('1'), layers: [{ layer: 0, createdAt: 'yesterday' }] }] }), 'RFC 3339'],
  ['result createdAt impossible date', doc({ layers: [L('a', -1)], records: [{ digest: D('1'), layers: [{ layer: 0, createdAt: '2026-02-30T00:00:00Z' }] }] }), 'RFC 3339'],
  ['empty inputs[k]', doc({ records: [{ digest: D('1') }, { digest: D('2'), inputs: [[]] }] }), 'records[1].inputs[0]: empty list'],
  ['null inputs[k]', doc({ records: [{ digest: D('1'), inputs: [null] }] }), 'empty list'],
  ['link out of range', doc({ records: [{ digest: D('1'), inputs: [[{ link: 3 }]] }] }), 'records[0].inputs[0][0].link'],
  ['link negative', doc({ records: [{ digest: D('1'), inputs: [[{ link: -1 }]] }] }), 'out of range'],
  ['absent link is 0: a self loop', doc({ records: [{ digest: D('1'), inputs: [[{}]] }] }), 'looping record'],
  ['record loop', doc({ records: [{ digest: D('1'), inputs: [[{ link: 1 }]] }, { digest: D('2'), inputs: [[{ link: 0 }]] }] }), 'looping record'],
  ['selector wrong type', doc({ records: [{ digest: D('1') }, { digest: D('2'), inputs: [[{ link: 0, selector: 5 }]] }] }), 'selector'],
  ['chain layer out of range', doc({ records: [{ digest: D('1'), chains: [{ layers: [0] }] }] }), 'chains[0].layers[0]'],
];

for (const [name, input, fragment] of INVALID) {
  test(`invalid cacheconfig: ${name}`, () => {
    const result = parseCacheConfig(input);
    assert.equal(result.ok, false);
    if (!result.ok) assert.ok(result.reason.includes(fragment), `reason "${result.reason}" lacks "${fragment}"`);
  });
}

test('limits: size, counts, links and depth are enforced with a reason', () => {
  const chain = (n: number): string => doc({ layers: Array.from({ length: n }, (_, i) => ({ blob: D('a'), parent: i - 1 })) });
  const check = (result: ReturnType<typeof parseCacheConfig>, fragment: string): void => {
    assert.equal(result.ok, false);
    if (!result.ok) assert.ok(result.reason.includes(fragment), result.reason);
  };
  check(parseCacheConfig('{}'.padEnd(100, ' '), { maxBytes: 50 }), 'over the limit of 50');
  check(parseCacheConfig(chain(10), { maxLayers: 5 }), 'layers: 10 entries exceed the limit of 5');
  check(parseCacheConfig(chain(10), { maxChainDepth: 9 }), 'deeper than the limit of 9');
  assert.equal(parseCacheConfig(chain(10), { maxChainDepth: 10 }).ok, true);
  const twoByTwo = [[{ link: 0 }, { link: 0 }], [{ link: 0 }, { link: 0 }]];
  const records = doc({ records: [{ digest: D('1') }, { digest: D('2'), inputs: twoByTwo }] });
  check(parseCacheConfig(records, { maxLinks: 3 }), 'more than 3 links');
  const deepRecords = doc({ records: Array.from({ length: 6 }, (_, i) => (i === 0 ? { digest: D('1') } : { digest: D('1'), inputs: [[{ link: i - 1 }]] })) });
  check(parseCacheConfig(deepRecords, { maxChainDepth: 4 }), 'input chain is deeper than the limit of 4');
});

test('Go decoding rules: null means absent, absent ints are 0, unknown keys are ignored', () => {
  const parsed = parseOk(doc({
    layers: [{ blob: D('a'), parent: -1 }, { blob: D('b'), parent: null }],
    records: [{ digest: D('1'), layers: [{ layer: 1, createdAt: null }], inputs: null, chains: null, extra: 1 }],
    unknown: { anything: true },
  }));
  assert.deepEqual(parsed.layers.map((l) => l.parent), [-1, 0]);
  assert.deepEqual(parsed.records[0], { digest: D('1'), results: [{ layer: 1 }], chains: [], inputs: [] });
  assert.deepEqual(parseOk(doc({ layers: null, records: null })).stats.records, 0);
});

test('inline cache: strict base64 and a JSON array of records', () => {
  const layers = [{ mediaType: 'm', digest: D('a'), size: 1 }];
  const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64');
  const fails = (cache: unknown, fragment: string): void => {
    const r = parseInlineCache(cache, layers);
    assert.equal(r.ok, false);
    if (!r.ok) assert.ok(r.reason.includes(fragment), r.reason);
  };
  fails(5, 'expected a base64 string');
  fails('a$b=', 'not valid base64');
  fails('abc', 'not valid base64');
  fails(b64({ records: [] }), 'expected a JSON array');
  fails(Buffer.from('[').toString('base64'), 'not JSON');
  fails(b64([{ digest: D('1'), layers: [{ layer: 1 }] }]), 'out of range');
  const ok = parseInlineCache(b64([{ digest: D('1'), layers: [{ layer: 0 }] }]), layers);
  assert.equal(ok.ok, true);
  if (ok.ok) assert.equal(ok.stats.mode, 'min');
});
