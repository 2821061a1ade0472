import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  allRecordChains, detectCache, diffConfigs, layerChain, parseCacheConfig, reachableLayerDigests, recordChains,
  recordsWithoutResults, sizeMap, sumBytes, type CacheConfig,
} from '../../src/cache/buildkit/index.js';
import { blobBytes, cacheConfigDigests, fixtureIndex, taggedManifests } from './fixtures.js';

function config(scenario: string): CacheConfig {
  const result = parseCacheConfig(blobBytes(scenario, cacheConfigDigests(scenario)[0]!));
  if (!result.ok) assert.fail(result.reason);
  return result.config;
}

const short = (c: CacheConfig, indexes: number[]): string[] => indexes.map((i) => c.layers[i]!.blob.slice(7, 15));

test('worked example (fixture README §5): [build 2/2] RUN resolves to layers 5 4 6 2 1 3 7', () => {
  const a = config('a-image-manifest');
  const run = a.records.findIndex((r) => r.digest.startsWith('sha256:fb436629'));
  assert.equal(run, 12);
  assert.deepEqual(layerChain(a, a.records[run]!.results[0]!.layer), [5, 4, 6, 2, 1, 3, 7]);
  const copyFrom = recordChains(a, 1);
  assert.equal(copyFrom.digest.slice(7, 15), '217149d2');
  assert.deepEqual(copyFrom.chains.map((ch) => ch.map((b) => b.slice(7, 15))), [['70f44005', 'dc317f4c', '03ad7ec9']]);
  assert.deepEqual(short(a, layerChain(a, 8)), ['70f44005', 'dc317f4c']);
});

test('allRecordChains: one chain per result, none for key-only records', () => {
  const a = config('a-image-manifest');
  const chains = allRecordChains(a);
  assert.equal(chains.length, 13);
  assert.deepEqual(chains.filter((c) => c.chains.length === 0).map((c) => c.record), recordsWithoutResults(a));
  assert.deepEqual(recordsWithoutResults(a), [2, 3, 4, 6, 9]);
  assert.ok(chains.every((c) => c.chains.every((ch) => ch[0] === 'sha256:70f44005e38a3ad4ea39328975d1ed195da2a0cd2161405f3708159cc676f754')));
});

test('reachable layers and their bytes, sized from the manifest descriptors', () => {
  const a = config('a-image-manifest');
  const reachable = reachableLayerDigests(a);
  assert.equal(reachable.size, 9);
  const found = detectCache({ manifest: taggedManifests('a-image-manifest')[0]!.manifest });
  if (found.kind !== 'image-manifest') assert.fail(found.kind);
  const expected = Object.values(fixtureIndex('a-image-manifest').blobs)
    .filter((b) => b.role === 'layer').reduce((n, b) => n + b.size, 0);
  assert.deepEqual(sumBytes(reachable, sizeMap(found.layers)), { bytes: expected, missing: [] });
  const partial = sumBytes([...reachable, 'sha256:unknown'], new Map([[a.layers[0]!.blob, 631]]));
  assert.equal(partial.bytes, 631);
  assert.equal(partial.missing.length, 9);
  assert.equal(reachableLayerDigests(config('c-min')).size, 3);
});

test('diff: h-overwrite step 1 is a subset of step 2; two cold builds share only the base layer', () => {
  const d = diffConfigs(config('h-overwrite/after-step1'), config('h-overwrite/after-step2'));
  assert.deepEqual([d.records.onlyInA.length, d.records.onlyInB.length, d.records.common.length], [0, 6, 7]);
  assert.deepEqual([d.layers.onlyInA.length, d.layers.onlyInB.length, d.layers.common.length], [0, 4, 5]);
  const cold = diffConfigs(config('a-image-manifest'), config('b-index'));
  assert.equal(cold.layers.common.length, 1);
  assert.equal(cold.records.common.length, 12); // cache keys are stable; only /out's checksum differs
  assert.equal(cold.records.onlyInA.length, 1);
});

test('walks terminate on a looping (unvalidated) config', () => {
  const loop: CacheConfig = {
    layers: [{ blob: 'sha256:a', parent: 1 }, { blob: 'sha256:b', parent: 0 }],
    records: [{ digest: 'sha256:r', results: [{ layer: 0 }], chains: [], inputs: [] }],
  };
  assert.ok(layerChain(loop, 0).length <= 3);
  assert.equal(reachableLayerDigests(loop).size, 2);
  assert.deepEqual(recordChains(loop, 5), { record: 5, digest: '', chains: [] });
});
