// Property tests: hostile and malformed input never throws, stays fast, and gets a clear reason;
// whatever is accepted survives normalising and merging.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  detectCache, mergeCacheConfigs, mergeCacheManifests, normalizeCacheConfig, parseCacheConfig, parseInlineCache,
  type CacheConfig, type ParseResult,
} from '../../src/cache/buildkit/index.js';
import { blobBytes, blobJson, cacheConfigDigests, taggedManifests } from './fixtures.js';
import { Rng } from '../support/prng.js';

const SEED = 20261123;
const BASE = blobJson('a-image-manifest', cacheConfigDigests('a-image-manifest')[0]!) as Record<string, unknown>;
const REFERENCE = mustParse(blobBytes('c-min', cacheConfigDigests('c-min')[0]!));
const NASTY_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];
const FIELD_KEYS = ['layers', 'records', 'blob', 'parent', 'digest', 'inputs', 'link', 'selector', 'layer', 'createdAt', 'chains', 'annotations'];
const D = (c: string): string => `sha256:${c.repeat(64)}`;

function mustParse(bytes: Uint8Array | string): CacheConfig {
  const r = parseCacheConfig(bytes);
  if (!r.ok) assert.fail(r.reason);
  return r.config;
}

/** An object whose own keys may include "__proto__" as plain data (like JSON.parse makes). */
function objectFrom(entries: Array<[string, unknown]>): Record<string, unknown> {
  const obj: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(obj, k, { value: v, enumerable: true, writable: true, configurable: true });
  return obj;
}

function randomValue(rng: Rng, depth: number): unknown {
  switch (rng.int(depth > 0 ? 9 : 6)) {
    case 0: return null;
    case 1: return rng.chance(0.5);
    case 2: return rng.pick([0, -1, -2, 1, 2, 7, 12, 1.5, -0.5, 1e21, 2 ** 53, -(2 ** 31), Number.MAX_SAFE_INTEGER]);
    case 3: return rng.pick(['', 'x', D('a'), 'sha256:ABC', 'random:zz', '2026-11-23T04:29:16Z', '0001-01-01T00:00:00Z', '__proto__', 'ünï', '<&>']);
    case 4: return rng.int(40) - 3;
    case 5: return D(rng.pick(['a', 'b', 'c', '1']));
    case 6: return Array.from({ length: rng.int(4) }, () => randomValue(rng, depth - 1));
    default: return objectFrom(Array.from({ length: rng.int(4) }, () => [
      rng.pick([...FIELD_KEYS, ...NASTY_KEYS]), randomValue(rng, depth - 1),
    ]));
  }
}

/** Replace, delete or duplicate something at a random place in a copy of `value`. */
function mutate(rng: Rng, value: unknown, depth = 0): unknown {
  if (Array.isArray(value)) {
    const copy = [...value];
    if (copy.length === 0 || rng.chance(0.15)) return rng.chance(0.5) ? randomValue(rng, 2) : [...copy, randomValue(rng, 2)];
    const i = rng.int(copy.length);
    if (rng.chance(0.1)) copy.splice(i, 1);
    else if (rng.chance(0.1)) copy.push(copy[i]);
    else copy[i] = mutate(rng, copy[i], depth + 1);
    return copy;
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0 || rng.chance(0.15)) {
      return objectFrom([...entries, [rng.pick([...FIELD_KEYS, ...NASTY_KEYS]), randomValue(rng, 2)]]);
    }
    const i = rng.int(entries.length);
    if (rng.chance(0.15)) entries.splice(i, 1);
    else entries[i] = [entries[i]![0], mutate(rng, entries[i]![1], depth + 1)];
    return objectFrom(entries);
  }
  return rng.chance(0.7) ? randomValue(rng, 1) : value;
}

/** Structurally random config: indexes anywhere in [-2, n+1], so loops and out-of-range abound. */
function randomGraph(rng: Rng): unknown {
  const nl = rng.chance(0.5) ? 0 : rng.int(12); // no layers: the record rules get exercised too
  const nr = rng.int(12);
  const idx = (n: number): number => rng.int(n + 4) - 2;
  return {
    layers: Array.from({ length: nl }, () => (rng.chance(0.2) ? { blob: D(rng.pick(['a', 'b'])) } : { blob: D(rng.pick(['a', 'b', 'c'])), parent: idx(nl) })),
    records: Array.from({ length: nr }, () => ({
      digest: D(rng.pick(['1', '2', '3'])),
      ...(rng.chance(0.5) ? { layers: [{ layer: idx(nl), createdAt: '2026-01-01T00:00:00Z' }] } : {}),
      ...(rng.chance(0.6) ? { inputs: Array.from({ length: rng.int(3) }, () => Array.from({ length: rng.int(3) }, () => ({ link: idx(nr) }))) } : {}),
    })),
  };
}

function hostileText(rng: Rng): string | Uint8Array {
  const text = JSON.stringify(BASE);
  switch (rng.int(4)) {
    case 0: return text.slice(0, rng.int(text.length));
    case 1: {
      const bytes = new TextEncoder().encode(text);
      for (let i = 0; i < 3; i++) bytes[rng.int(bytes.length)] = rng.int(256);
      return bytes;
    }
    case 2: return Uint8Array.from({ length: rng.int(64) }, () => rng.int(256));
    default: return text.replace(/"parent":\d+/, '"parent":' + rng.pick(['"1"', 'true', '[1]', '{}', '1e400', '-1.0e0']));
  }
}

/** A parse that neither throws nor dawdles; accepted configs must survive normalise and merge. */
function checkParse(input: string | Uint8Array, label: string): ParseResult {
  const started = performance.now();
  let result: ParseResult;
  try {
    result = parseCacheConfig(input);
  } catch (err) {
    assert.fail(`${label}: threw ${String(err)}`);
  }
  assert.ok(performance.now() - started < 5000, `${label}: too slow`); // a blow-up guard, not a benchmark
  if (!result.ok) {
    assert.ok(result.reason.length > 10 && result.reason.length < 400, `${label}: unclear reason "${result.reason}"`);
    assert.doesNotMatch(result.reason, /[\u0000-\u001f]/, `${label}: control characters in the reason`);
    return result;
  }
  const normal = normalizeCacheConfig(result.config);
  assert.ok(normal.ok, `${label}: accepted config does not normalise: ${normal.ok ? '' : normal.reason}`);
  const merged = mergeCacheConfigs(result.config, REFERENCE);
  assert.ok(merged.ok, `${label}: accepted config does not merge: ${merged.ok ? '' : merged.reason}`);
  if (merged.ok) assert.equal(parseCacheConfig(merged.bytes).ok, true, `${label}: merge output invalid`);
  return result;
}

const serialize = (value: unknown): string => JSON.stringify(value);

test('mutated fixture configs: never throw, fast, clear reasons', () => {
  const rng = new Rng(SEED);
  let accepted = 0;
  for (let i = 0; i < 1000; i++) {
    const value = mutate(rng, mutate(rng, BASE));
    if (checkParse(serialize(value), `mutation #${i}`).ok) accepted++;
  }
  assert.ok(accepted > 0 && accepted < 1000, `accepted ${accepted}`); // both paths exercised
});

test('random graphs (loops, out-of-range indexes, absent parents): never throw', () => {
  const rng = new Rng(SEED + 1);
  const reasons = new Set<string>();
  for (let i = 0; i < 1500; i++) {
    const r = checkParse(serialize(randomGraph(rng)), `graph #${i}`);
    if (!r.ok) reasons.add(r.reason.replace(/\d+/g, 'N').replace(/"[^"]*"/g, 'S'));
  }
  for (const expected of ['looping layer', 'looping record', 'out of range']) {
    assert.ok([...reasons].some((r) => r.includes(expected)), `no case hit "${expected}"`);
  }
});

test('random JSON values, broken text and random bytes: never throw', () => {
  const rng = new Rng(SEED + 2);
  for (let i = 0; i < 800; i++) checkParse(serialize(randomValue(rng, 4)) ?? 'undefined', `value #${i}`);
  for (let i = 0; i < 800; i++) checkParse(hostileText(rng), `text #${i}`);
});

test('prototype-pollution keys stay data', () => {
  const text = '{"__proto__":{"polluted":1},"layers":[{"blob":"' + D('a') + '","parent":-1,"__proto__":{"parent":0},' +
    '"annotations":{"__proto__":{"x":1},"additional":{"__proto__":"v","constructor":"c"}}}],' +
    '"records":[{"digest":"' + D('1') + '","constructor":{"layers":[{"layer":0}]},"__proto__":{"inputs":[[{"link":0}]]}}]}';
  const ok = checkParse(text, 'proto');
  assert.ok(ok.ok);
  if (ok.ok) {
    assert.deepEqual(ok.config.records[0], { digest: D('1'), results: [], chains: [], inputs: [] });
    assert.equal(ok.config.layers[0]!.parent, -1);
    const additional = ok.config.layers[0]!.annotations!.additional!;
    assert.equal(Object.getPrototypeOf(additional), Object.prototype);
    assert.deepEqual(Object.keys(additional).sort(), ['__proto__', 'constructor']);
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(({} as Record<string, unknown>).parent, undefined);
});

test('huge inputs are refused quickly by the limits', () => {
  const timed = (label: string, input: string, fragment: string): void => {
    const started = performance.now();
    const r = parseCacheConfig(input);
    const ms = performance.now() - started;
    assert.equal(r.ok, false, label);
    if (!r.ok) assert.ok(r.reason.includes(fragment), `${label}: ${r.reason}`);
    assert.ok(ms < 10_000, `${label}: ${ms} ms`);
  };
  const blob = D('a');
  const deep = `{"layers":[${Array.from({ length: 50_000 }, (_, i) => `{"blob":"${blob}","parent":${i - 1}}`).join(',')}]}`;
  timed('50,000-deep layer chain', deep, 'deeper than the limit');
  const wide = `{"layers":[${Array(100_001).fill(`{"blob":"${blob}","parent":-1}`).join(',')}]}`;
  timed('100,001 layers', wide, 'exceed the limit');
  const records = `{"records":[${Array.from({ length: 20_000 }, (_, i) => (i === 0 ? `{"digest":"${blob}"}` : `{"digest":"${blob}","inputs":[[{"link":${i - 1}}]]}`)).join(',')}]}`;
  timed('20,000-deep record chain', records, 'input chain is deeper');
  const links = `{"records":[{"digest":"${blob}"},{"digest":"${blob}","inputs":[${Array(2000).fill(`[${Array(600).fill('{"link":0}').join(',')}]`).join(',')}]}]}`;
  timed('1.2 million links', links, 'more than 1000000 links');
  timed('nesting 1,000,000 deep', '['.repeat(1_000_000) + ']'.repeat(1_000_000), 'expected a JSON object');
  timed('17 MiB', `{"pad":"${'x'.repeat(17 * 1024 * 1024)}"}`, 'over the limit');
});

test('deep but legal chains are handled iteratively', () => {
  const blob = (i: number): string => `sha256:${i.toString(16).padStart(64, '0')}`;
  const n = 4000;
  const config = {
    layers: Array.from({ length: n }, (_, i) => ({ blob: blob(i), parent: i - 1 })),
    records: Array.from({ length: n }, (_, i) => ({
      digest: blob(i), layers: [{ layer: i }], ...(i > 0 ? { inputs: [[{ link: i - 1 }]] } : {}),
    })),
  };
  const started = performance.now();
  const r = checkParse(JSON.stringify(config), 'deep legal');
  assert.ok(r.ok);
  if (r.ok) assert.equal(r.stats.maxLayerDepth, n);
  assert.ok(performance.now() - started < 15_000);
});

test('many records sharing one cache key coalesce in near-linear time', () => {
  const hx = (p: string, i: number): string => `sha256:${(p + i.toString(16)).padStart(64, '0')}`;
  const timed = (label: string, records: unknown[], expectedRecords: number): void => {
    const config = mustParse(JSON.stringify({ records }));
    const started = performance.now();
    const merged = mergeCacheConfigs(config, config);
    if (!merged.ok) assert.fail(`${label}: ${merged.reason}`);
    assert.equal(merged.stats.records, expectedRecords, label);
    assert.ok(performance.now() - started < 10_000, `${label}: too slow`);
  };
  const n = 3000;
  // The same COPY on one base with n different context checksums: n records, none join.
  const copies: unknown[] = [{ digest: hx('b', 0) }];
  for (let i = 0; i < n; i++) copies.push({ digest: hx('c', i) }, { digest: hx('d', 0), inputs: [[{ link: 0 }], [{ link: copies.length }]] });
  timed('shared base', copies, 2 * n + 1);
  // Each record bridges two sources: all n join into one record with n + 1 sources.
  const bridges: unknown[] = Array.from({ length: n + 1 }, (_, i) => ({ digest: hx('e', i) }));
  for (let i = 0; i < n; i++) bridges.push({ digest: hx('d', 1), inputs: [[{ link: i }, { link: i + 1 }]] });
  timed('bridging chain', bridges, n + 2);
  // A ring through the second input on a shared first input: all join.
  const ring: unknown[] = [{ digest: hx('b', 0) }, ...Array.from({ length: n }, (_, i) => ({ digest: hx('c', i) }))];
  for (let i = 0; i < n; i++) ring.push({ digest: hx('d', 2), inputs: [[{ link: 0 }], [{ link: 1 + i }, { link: 1 + ((i + 1) % n) }]] });
  timed('ring', ring, n + 2);
});

/** A random VALID config over small digest pools, so merges collide a lot. */
function randomValidConfig(rng: Rng): CacheConfig {
  const nl = rng.int(8);
  const layers = Array.from({ length: nl }, (_, i) => ({ blob: D(rng.pick(['a', 'b', 'c', 'd'])), parent: i === 0 || rng.chance(0.3) ? -1 : rng.int(i) }));
  const records: CacheConfig['records'] = [];
  const n = 1 + rng.int(10);
  for (let i = 0; i < n; i++) {
    const inputs = i === 0 || rng.chance(0.3) ? [] : Array.from({ length: 1 + rng.int(2) }, () =>
      Array.from({ length: 1 + rng.int(2) }, () => (rng.chance(0.3) ? { selector: rng.pick(['/', '/out']), link: rng.int(i) } : { link: rng.int(i) })));
    const results = nl > 0 && rng.chance(0.6) ? [{ layer: rng.int(nl), createdAt: `2026-01-0${1 + rng.int(9)}T00:00:00Z` }] : [];
    records.push({ digest: D(rng.pick(['1', '2', '3', '4'])), results, chains: [], inputs });
  }
  return mustParse(JSON.stringify({
    layers: layers.map((l) => (l.parent === 0 ? { blob: l.blob } : l)),
    records: records.map((r) => ({ digest: r.digest, ...(r.results.length ? { layers: r.results } : {}), ...(r.inputs.length ? { inputs: r.inputs } : {}) })),
  }));
}

/** (digest, chain) pairs of results: what a build can get from the cache. */
function resultFacts(c: CacheConfig): Set<string> {
  const chain = (l: number): string => {
    const blobs: string[] = [];
    for (let at = l; at !== -1; at = c.layers[at]!.parent) blobs.push(c.layers[at]!.blob.slice(7, 8));
    return blobs.join('');
  };
  return new Set(c.records.flatMap((r) => r.results.map((res) => `${r.digest.slice(7, 8)}:${chain(res.layer)}`)));
}

/** No two records that BuildKit's importer could still join (same digest, a shared source per input). */
function assertClosed(c: CacheConfig, label: string): void {
  for (let i = 0; i < c.records.length; i++) {
    for (let j = i + 1; j < c.records.length; j++) {
      const [a, b] = [c.records[i]!, c.records[j]!];
      if (a.digest !== b.digest || a.inputs.length !== b.inputs.length) continue;
      const joinable = a.inputs.every((alts, k) => alts.some((x) => b.inputs[k]!.some((y) => y.link === x.link && (y.selector ?? '') === (x.selector ?? ''))));
      assert.ok(!joinable, `${label}: records ${i} and ${j} could still be joined`);
    }
  }
}

test('random valid configs: merge is a closed, order-independent, idempotent union', () => {
  const rng = new Rng(SEED + 3);
  let idempotentChecks = 0;
  for (let i = 0; i < 400; i++) {
    const a = randomValidConfig(rng);
    const b = randomValidConfig(rng);
    const ab = mergeCacheConfigs(a, b);
    const ba = mergeCacheConfigs(b, a);
    if (!ab.ok || !ba.ok) assert.fail(`#${i}: ${ab.ok ? '' : ab.reason} ${ba.ok ? '' : ba.reason}`);
    assert.deepEqual(Buffer.from(ab.bytes), Buffer.from(ba.bytes), `#${i}: order matters`);
    assert.equal(parseCacheConfig(ab.bytes).ok, true);
    assertClosed(ab.config, `#${i}`);
    const facts = resultFacts(ab.config);
    for (const f of [...resultFacts(a), ...resultFacts(b)]) assert.ok(facts.has(f), `#${i}: lost result ${f}`);
    const again = mergeCacheConfigs(ab.config, a);
    if (!again.ok) assert.fail(again.reason);
    // Idempotent unless joining closed a loop (only these heavily colliding random keys do that):
    // the loop's sources are then dropped, and A brings some of them back.
    if (ab.loops.sources === 0 && again.loops.sources === 0) {
      assert.deepEqual(Buffer.from(again.bytes), Buffer.from(ab.bytes), `#${i}: (A∪B)∪A ≠ A∪B`);
      idempotentChecks++;
    }
    const budget = Math.max(2, Math.floor(ab.bytes.byteLength / 2));
    const trimmed = mergeCacheConfigs(a, b, { maxBytes: budget });
    if (!trimmed.ok) assert.fail(`#${i}: ${trimmed.reason}`);
    assert.ok(trimmed.bytes.byteLength <= budget);
    assert.equal(parseCacheConfig(trimmed.bytes).ok, true);
  }
  assert.ok(idempotentChecks > 200, `only ${idempotentChecks} loop-free cases`);
});

test('detection, inline parsing and manifest merging never throw on random input', () => {
  const rng = new Rng(SEED + 4);
  const real = taggedManifests('a-image-manifest')[0]!;
  const config = blobBytes('a-image-manifest', cacheConfigDigests('a-image-manifest')[0]!);
  for (let i = 0; i < 1500; i++) {
    const manifest = rng.chance(0.5) ? mutate(rng, real.manifest) : randomValue(rng, 4);
    const mediaType = rng.chance(0.5) ? undefined : rng.pick([real.mediaType, 'application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.v2+json', 'x']);
    const imageConfig = rng.chance(0.5) ? undefined : mutate(rng, { rootfs: { diff_ids: [D('a')] }, 'moby.buildkit.cache.v0': 'W10=' });
    const found = detectCache({ mediaType, manifest, imageConfig });
    assert.ok(typeof found.kind === 'string');
    const cache = rng.chance(0.5) ? Buffer.from(JSON.stringify(randomValue(rng, 3)) ?? '').toString('base64') : randomValue(rng, 1);
    const inline = parseInlineCache(cache, [{ mediaType: 'm', digest: D('a'), size: 1 }]);
    if (!inline.ok) assert.ok(inline.reason.length > 10);
    const merged = mergeCacheManifests({ manifest: real.manifest, config }, { manifest, mediaType, config: rng.chance(0.5) ? config : new Uint8Array(3) });
    if (!merged.ok) assert.ok(merged.reason.length > 10);
  }
});
