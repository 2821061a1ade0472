import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BUILDKIT_IMPORT_LIMIT, allRecordChains, mergeCacheConfigs, mergeConfigList, normalizeCacheConfig,
  parseCacheConfig, type CacheConfig, type MergeResult,
} from '../../src/cache/buildkit/index.js';
import { blobBytes, cacheConfigDigests } from './fixtures.js';

function config(scenario: string, i = 0): CacheConfig {
  const result = parseCacheConfig(blobBytes(scenario, cacheConfigDigests(scenario)[i]!));
  if (!result.ok) assert.fail(result.reason);
  return result.config;
}

function ok(result: MergeResult): Extract<MergeResult, { ok: true }> {
  if (!result.ok) assert.fail(result.reason);
  // Our own validator must accept every merge output, from its bytes.
  const reparsed = parseCacheConfig(result.bytes);
  if (!reparsed.ok) assert.fail(`merge output rejected: ${reparsed.reason}`);
  assert.deepEqual(reparsed.config, result.config);
  return result;
}

/** Every (record digest, input shape, resolved result chain) of a config, as comparable strings. */
function facts(c: CacheConfig): { records: Set<string>; layers: Set<string>; results: Set<string> } {
  return {
    records: new Set(c.records.map((r) => r.digest)),
    layers: new Set(c.layers.map((l) => l.blob)),
    results: new Set(allRecordChains(c).flatMap((rc) => rc.chains.map((ch) => `${rc.digest}:${ch.join(',')}`))),
  };
}

function assertContains(merged: CacheConfig, part: CacheConfig, label: string): void {
  const m = facts(merged);
  const p = facts(part);
  for (const kind of ['records', 'layers', 'results'] as const) {
    for (const x of p[kind]) assert.ok(m[kind].has(x), `${label}: ${kind} ${x.slice(0, 40)} missing`);
  }
}

const FIXTURE_CONFIGS = [
  'a-image-manifest', 'b-index', 'b2-docker-list', 'c-min', 'e-zstd', 'e2-zstd-force', 'f-local',
  'h-overwrite/after-step1', 'h-overwrite/after-step2', 'i-cross-repo', 'k-export-and-push',
];

test('h-overwrite: deps export ∪ full export keeps every record, layer and result of both', () => {
  const step1 = config('h-overwrite/after-step1');
  const step2 = config('h-overwrite/after-step2');
  const merged = ok(mergeCacheConfigs(step1, step2));
  assertContains(merged.config, step1, 'step1');
  assertContains(merged.config, step2, 'step2');
  assert.equal(merged.stats.records, 13);
  assert.equal(merged.stats.layers, 9);
  // Step 1 is a subset of step 2, so the union is step 2 — byte for byte.
  const step2Bytes = blobBytes('h-overwrite/after-step2', cacheConfigDigests('h-overwrite/after-step2')[0]!);
  assert.deepEqual(Buffer.from(merged.bytes), Buffer.from(step2Bytes));
  assert.deepEqual(merged.dropped, { records: 0, results: 0, layers: 0 });
});

test('merging is deterministic and independent of argument order', () => {
  const a = config('a-image-manifest');
  const c = config('c-min');
  const first = ok(mergeCacheConfigs(a, c));
  const again = ok(mergeCacheConfigs(a, c));
  const swapped = ok(mergeCacheConfigs(c, a));
  assert.deepEqual(Buffer.from(again.bytes), Buffer.from(first.bytes));
  assert.deepEqual(Buffer.from(swapped.bytes), Buffer.from(first.bytes));
  const shuffled: CacheConfig = { layers: [...a.layers], records: [...a.records] };
  const normal = ok(normalizeCacheConfig(reverseRecords(shuffled)));
  assert.deepEqual(Buffer.from(normal.bytes), Buffer.from(ok(normalizeCacheConfig(a)).bytes));
});

/** The same config with records listed in reverse (links rewritten): same content, other order. */
function reverseRecords(c: CacheConfig): CacheConfig {
  const n = c.records.length;
  const records = [...c.records].reverse().map((r) => ({
    ...r,
    inputs: r.inputs.map((alts) => [...alts].reverse().map((a) => ({ ...a, link: n - 1 - a.link }))),
  }));
  return { layers: c.layers, records };
}

for (const scenario of FIXTURE_CONFIGS) {
  test(`merge(A, A) is A's normal form (= BuildKit's bytes): ${scenario}`, () => {
    const a = config(scenario);
    const bytes = blobBytes(scenario, cacheConfigDigests(scenario)[0]!);
    const merged = ok(mergeCacheConfigs(a, a));
    assert.deepEqual(Buffer.from(merged.bytes), Buffer.from(bytes));
  });
}

test('two cold builds: same cache keys, different blobs → records coalesce, both results kept', () => {
  const a = config('a-image-manifest');
  const b = config('b-index');
  const merged = ok(mergeCacheConfigs(a, b));
  assertContains(merged.config, a, 'a');
  assertContains(merged.config, b, 'b');
  assert.equal(merged.stats.records, 14); // 12 shared keys + each build's own checksum of /out
  assert.equal(merged.stats.layers, 17); // the busybox base layer is the only shared blob
  assert.ok(merged.config.records.every((r) => r.results.length === 0 || r.results.length === 2));
});

test('every pair of fixture configs merges into a valid config containing both', () => {
  for (const x of FIXTURE_CONFIGS) {
    for (const y of FIXTURE_CONFIGS) {
      if (x >= y) continue;
      const merged = ok(mergeCacheConfigs(config(x), config(y)));
      assertContains(merged.config, config(x), x);
      assertContains(merged.config, config(y), y);
    }
  }
  const all = ok(mergeConfigList(FIXTURE_CONFIGS.map((s) => config(s))));
  for (const s of FIXTURE_CONFIGS) assertContains(all.config, config(s), s);
});

const D = (c: string): string => `sha256:${c.repeat(64)}`;
const rec = (digest: string, inputs: number[][] = [], results: CacheConfig['records'][number]['results'] = []) => ({
  digest, results, chains: [], inputs: inputs.map((alts) => alts.map((link) => ({ link }))),
});

test('same digest on different bases stays two records; a shared source joins them', () => {
  // Roots F1 and F2 (two base images), and "WORKDIR /app" (digest w) on each.
  const onF1: CacheConfig = { layers: [], records: [rec(D('1')), rec(D('e'), [[0]])] };
  const onF2: CacheConfig = { layers: [], records: [rec(D('2')), rec(D('e'), [[0]])] };
  const separate = ok(mergeCacheConfigs(onF1, onF2));
  assert.equal(separate.config.records.filter((r) => r.digest === D('e')).length, 2);
  // A third export knows F1 and F2 as alternative keys of the same input: BuildKit would join
  // both existing records into it ("multiple matching dependencies" if we left two behind).
  const bridge: CacheConfig = { layers: [], records: [rec(D('1')), rec(D('2')), rec(D('e'), [[0, 1]])] };
  const joined = ok(mergeConfigList([onF1, onF2, bridge]));
  const w = joined.config.records.filter((r) => r.digest === D('e'));
  assert.equal(w.length, 1);
  assert.deepEqual(w[0]!.inputs, [[{ link: 0 }, { link: 1 }]]);
  const stepwise = ok(mergeCacheConfigs(separate.config, bridge));
  assert.deepEqual(Buffer.from(stepwise.bytes), Buffer.from(joined.bytes));
});

test('joining propagates downstream: children of joined records join too', () => {
  // x: F1 → W → R ; y: F2 → W → R ; z: {F1,F2} → W. After joining W, both R records join.
  const chain = (root: string): CacheConfig => ({ layers: [], records: [rec(D(root)), rec(D('e'), [[0]]), rec(D('f'), [[1]])] });
  const bridge: CacheConfig = { layers: [], records: [rec(D('1')), rec(D('2')), rec(D('e'), [[0, 1]])] };
  const merged = ok(mergeConfigList([chain('1'), chain('2'), bridge]));
  assert.deepEqual(merged.config.records.map((r) => r.digest), [D('1'), D('2'), D('e'), D('f')]);
});

test('a join that would make a record its own source drops that source, as BuildKit does', () => {
  // R2 = (e, [[root]]) and R3 = (e, [[root, /R2]]) share "root", so they are one record; its
  // "/R2" source would then be itself. BuildKit drops such sources when it joins; so do we.
  const c: CacheConfig = {
    layers: [{ blob: D('a'), parent: -1 }],
    records: [rec(D('1')), rec(D('e'), [[0]], [{ layer: 0 }]), { ...rec(D('e'), [[0]]), inputs: [[{ link: 0 }, { selector: '/', link: 1 }]] }],
  };
  const normal = ok(normalizeCacheConfig(c));
  assert.deepEqual(normal.config.records.map((r) => r.inputs), [[], [[{ link: 0 }]]]);
  assert.deepEqual(normal.loops, { sources: 1, records: 0 });
  assert.deepEqual(ok(mergeCacheConfigs(c, c)).bytes, normal.bytes);
});

const T = (hour: number): string => `2024-01-01T${String(hour).padStart(2, '0')}:00:00Z`;

const hex = (prefix: string, i: number, pad: string): string => `sha256:${(prefix + i.toString(16).padStart(4, '0')).padStart(64, pad)}`;
/** Cache key of step i of build `prefix` ('a' or 'b'). */
const stepKey = (prefix: string, i: number): string => hex(prefix, i, 'd');

/** A linear build: root → step 0 → step 1 → …, one layer per step, all created at `at`. */
function build(prefix: string, steps: number, at: string | undefined): CacheConfig {
  const layers = Array.from({ length: steps }, (_, i) => ({ blob: hex(prefix, i, '0'), parent: i - 1 }));
  const records = [rec(`sha256:${prefix.repeat(64)}`)];
  for (let i = 0; i < steps; i++) {
    records.push(rec(stepKey(prefix, i), [[i]], [at === undefined ? { layer: i } : { layer: i, createdAt: at }]));
  }
  return { layers, records };
}

test('budget: the oldest build goes first, the output fits and stays valid', () => {
  const old = build('a', 20, T(1));
  const recent = build('b', 20, T(2));
  const full = ok(mergeCacheConfigs(old, recent));
  const budget = Math.ceil(full.bytes.byteLength * 0.6);
  const trimmed = ok(mergeCacheConfigs(old, recent, { maxBytes: budget }));
  assert.ok(trimmed.bytes.byteLength <= budget);
  assertContains(trimmed.config, recent, 'recent build');
  const oldSteps = new Map(Array.from({ length: 20 }, (_, i): [string, number] => [stepKey('a', i), i]));
  const keptOld = trimmed.config.records.flatMap((r) => (oldSteps.has(r.digest) ? [oldSteps.get(r.digest)!] : []));
  assert.ok(keptOld.length > 0 && keptOld.length < 20, `kept ${keptOld.length} old steps`);
  assert.ok(trimmed.dropped.records > 0);
  // Dropped from the end of the old chain first: whatever is kept of it is a prefix.
  assert.deepEqual(keptOld.sort((x, y) => x - y), keptOld.map((_, i) => i));
  const again = ok(mergeCacheConfigs(old, recent, { maxBytes: budget }));
  assert.deepEqual(Buffer.from(again.bytes), Buffer.from(trimmed.bytes));
});

test('budget: layer createdat annotations stand in for missing result times', () => {
  const old = build('a', 10, undefined);
  const recent = build('b', 10, undefined);
  const layerCreatedAt = new Map<string, string>([
    ...old.layers.map((l): [string, string] => [l.blob, T(1)]),
    ...recent.layers.map((l): [string, string] => [l.blob, T(2)]),
  ]);
  const full = ok(mergeCacheConfigs(old, recent));
  const budget = Math.ceil(full.bytes.byteLength * 0.55);
  const trimmed = ok(mergeCacheConfigs(old, recent, { maxBytes: budget, layerCreatedAt }));
  assertContains(trimmed.config, recent, 'recent build');
  const swapped = new Map([...layerCreatedAt].map(([k, v]): [string, string] => [k, v === T(1) ? T(3) : v]));
  const other = ok(mergeCacheConfigs(old, recent, { maxBytes: budget, layerCreatedAt: swapped }));
  assertContains(other.config, old, 'now-recent old build');
});

test('budget: newest result per record first; impossible budgets fail with a reason', () => {
  const a = config('a-image-manifest');
  const b = config('b-index');
  const bBytes = blobBytes('b-index', cacheConfigDigests('b-index')[0]!).byteLength;
  const trimmed = ok(mergeCacheConfigs(a, b, { maxBytes: bBytes + 200 }));
  assert.equal(trimmed.dropped.records, 0);
  assert.equal(trimmed.dropped.results, 8); // build a (04:29) lost to build b (04:30)
  assertContains(trimmed.config, b, 'newer build');
  const tiny = mergeCacheConfigs(a, b, { maxBytes: 1 });
  assert.equal(tiny.ok, false);
  const empty = ok(mergeCacheConfigs(a, b, { maxBytes: 2 }));
  assert.deepEqual(empty.config, { layers: [], records: [] });
  assert.ok(ok(mergeCacheConfigs(a, b, { maxBytes: BUILDKIT_IMPORT_LIMIT })).dropped.records === 0);
});

test('merge refuses invalid inputs with a reason instead of throwing', () => {
  const loop: CacheConfig = { layers: [], records: [{ digest: D('1'), results: [], chains: [], inputs: [[{ link: 0 }]] }] };
  const result = mergeCacheConfigs(config('c-min'), loop);
  assert.equal(result.ok, false);
  if (!result.ok) assert.match(result.reason, /^input 1: .*looping record/);
  const outOfRange: CacheConfig = { layers: [], records: [{ digest: D('1'), results: [{ layer: 3 }], chains: [], inputs: [] }] };
  assert.equal(mergeCacheConfigs(outOfRange, outOfRange).ok, false);
});
