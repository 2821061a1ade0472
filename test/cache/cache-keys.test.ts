// Record keys are opaque identifiers to BuildKit, not content digests: a build that also pushes an
// image writes keys such as "hzlv04bns7udz5fz7ypvi2189" (fixture k-export-and-push), and BuildKit
// imports them. These tests pin what we accept (any short visible-ASCII string), what we still
// refuse (and why), and that layer blob references stay real digests.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  mergeCacheConfigs, normalizeCacheConfig, parseCacheConfig, parseInlineCache, serializeCacheConfig,
  type CacheConfig, type ParseResult,
} from '../../src/cache/buildkit/index.js';
import { blobBytes, blobJson, cacheConfigDigests, type RawConfig } from './fixtures.js';

const OPAQUE = 'hzlv04bns7udz5fz7ypvi2189';
const D = (c: string): string => `sha256:${c.repeat(64)}`;
const K_BYTES = blobBytes('k-export-and-push', cacheConfigDigests('k-export-and-push')[0]!);

function parsed(result: ParseResult): CacheConfig {
  if (!result.ok) assert.fail(result.reason);
  return result.config;
}

/** A config with one layer, a root record keyed `key`, and a record on top of it with a result. */
function withKey(key: unknown): string {
  return JSON.stringify({
    layers: [{ blob: D('a'), parent: -1 }],
    records: [{ digest: key }, { digest: D('1'), layers: [{ layer: 0 }], inputs: [[{ link: 0 }]] }],
  });
}

test('k-export-and-push: the opaque root key is parsed, linked, and kept byte-exact', () => {
  const raw = blobJson('k-export-and-push', cacheConfigDigests('k-export-and-push')[0]!) as RawConfig;
  const config = parsed(parseCacheConfig(K_BYTES));
  assert.equal(config.records.length, raw.records!.length);
  assert.equal(config.layers.length, raw.layers!.length);
  assert.deepEqual(config.records[0], { digest: OPAQUE, results: [], chains: [], inputs: [] });
  // Records 9 and 12 take it as an input (fixture README), so dropping it would cut their chains.
  const linking = config.records.flatMap((r, i) => (r.inputs.some((alts) => alts.some((a) => a.link === 0)) ? [i] : []));
  assert.deepEqual(linking, [9, 12]);
  assert.deepEqual(Buffer.from(serializeCacheConfig(config)), Buffer.from(K_BYTES));
  const normal = normalizeCacheConfig(config);
  assert.ok(normal.ok);
  if (normal.ok) assert.deepEqual(Buffer.from(normal.bytes), Buffer.from(K_BYTES));
});

test('opaque keys are accepted: digests, BuildKit IDs, every visible ASCII character, up to 256 characters', () => {
  const visibleAscii = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).join('');
  for (const key of [D('1'), OPAQUE, 'x', 'sha256:NOT-HEX', visibleAscii, 'k'.repeat(256), '"\\{}[]<>']) {
    const config = parsed(parseCacheConfig(withKey(key)));
    assert.equal(config.records[0]!.digest, key);
    // Serialised and read back unchanged (JSON escaping of quotes and backslashes included).
    assert.equal(parsed(parseCacheConfig(serializeCacheConfig(config))).records[0]!.digest, key);
  }
});

test('hostile keys are still refused, with the record path and a clean reason', () => {
  const cases: Array<[string, unknown, string]> = [
    ['too long', 'k'.repeat(257), 'exceeds the limit of 256'],
    ['empty', '', 'empty cache key'],
    ['a space', 'two words', 'other than visible ASCII'],
    ['a newline (log forging)', 'a\nlevel=error msg=forged', 'other than visible ASCII'],
    ['NUL (PostgreSQL text cannot hold it)', 'a\u0000b', 'other than visible ASCII'],
    ['DEL', 'a\u007f', 'other than visible ASCII'],
    ['non-ASCII', 'clé', 'other than visible ASCII'],
    ['an emoji', 'key-\u{1F600}', 'other than visible ASCII'],
    ['a bidi override', 'a\u202eb', 'other than visible ASCII'],
    ['a number', 42, 'expected a cache key string, got number'],
    ['null', null, 'expected a cache key string, got null'],
    ['an object', { digest: D('1') }, 'expected a cache key string, got object'],
    ['a random: key', `random:${D('1').slice(7)}`, 'random: keys are never exported'],
  ];
  for (const [label, key, fragment] of cases) {
    const result = parseCacheConfig(withKey(key));
    assert.equal(result.ok, false, label);
    if (result.ok) continue;
    assert.match(result.reason, /^cacheconfig records\[0\]\.digest: /, `${label}: ${result.reason}`);
    assert.ok(result.reason.includes(fragment), `${label}: ${result.reason}`);
    assert.doesNotMatch(result.reason, /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/, `${label}: control characters in the reason`);
    assert.ok(result.reason.length < 300, `${label}: reason too long`);
  }
});

test('layer blob references are still real digests', () => {
  const doc = JSON.stringify({ layers: [{ blob: OPAQUE, parent: -1 }], records: [{ digest: OPAQUE, layers: [{ layer: 0 }] }] });
  const result = parseCacheConfig(doc);
  assert.equal(result.ok, false);
  if (!result.ok) assert.match(result.reason, /^cacheconfig layers\[0\]\.blob: not a digest/);
});

test('inline cache accepts opaque keys too', () => {
  const records = [{ digest: OPAQUE, layers: [{ layer: 0 }] }];
  const cache = Buffer.from(JSON.stringify(records)).toString('base64');
  const config = parsed(parseInlineCache(cache, [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D('a'), size: 3 }]));
  assert.equal(config.records[0]!.digest, OPAQUE);
});

test('merge keeps opaque keys, coalesces equal ones, and is order-independent', () => {
  const k = parsed(parseCacheConfig(K_BYTES));
  const a = parsed(parseCacheConfig(blobBytes('a-image-manifest', cacheConfigDigests('a-image-manifest')[0]!)));
  const ka = mergeCacheConfigs(k, a);
  const ak = mergeCacheConfigs(a, k);
  assert.ok(ka.ok && ak.ok);
  if (!ka.ok || !ak.ok) return;
  assert.deepEqual(Buffer.from(ka.bytes), Buffer.from(ak.bytes));
  assert.equal(ka.config.records.filter((r) => r.digest === OPAQUE).length, 1);
  const reparsed = parsed(parseCacheConfig(ka.bytes));
  assert.ok(reparsed.records.some((r) => r.digest === OPAQUE));
  // Two caches that both carry the same opaque root join it: a root joins by key alone.
  const twice = mergeCacheConfigs(k, k);
  assert.ok(twice.ok);
  if (twice.ok) assert.deepEqual(Buffer.from(twice.bytes), Buffer.from(K_BYTES));
  // Different opaque roots stay apart, and each keeps its dependants.
  const other = parsed(parseCacheConfig(Buffer.from(Buffer.from(K_BYTES).toString('utf8').replace(OPAQUE, 'zzzz04bns7udz5fz7ypvi2189'))));
  const both = mergeCacheConfigs(k, other);
  assert.ok(both.ok);
  if (both.ok) {
    const keys = both.config.records.map((r) => r.digest);
    assert.ok(keys.includes(OPAQUE) && keys.includes('zzzz04bns7udz5fz7ypvi2189'));
  }
});
