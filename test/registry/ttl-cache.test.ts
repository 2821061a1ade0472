import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TtlCache } from '../../src/registry/ttl-cache.js';

function clock() {
  let now = 1_000;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

test('an entry is served until its TTL has passed, then forgotten', () => {
  const time = clock();
  const cache = new TtlCache<string, number>({ ttlMs: 100, maxEntries: 10, now: time.now });
  cache.set('a', 1);
  time.advance(99);
  assert.equal(cache.get('a'), 1);
  time.advance(1);
  assert.equal(cache.get('a'), undefined);
});

test('setting again restarts the TTL; delete forgets at once', () => {
  const time = clock();
  const cache = new TtlCache<string, number>({ ttlMs: 100, maxEntries: 10, now: time.now });
  cache.set('a', 1);
  time.advance(60);
  cache.set('a', 2);
  time.advance(60);
  assert.equal(cache.get('a'), 2);
  cache.delete('a');
  assert.equal(cache.get('a'), undefined);
});

test('the oldest entries go first when there are too many', () => {
  const cache = new TtlCache<string, number>({ ttlMs: 1_000, maxEntries: 2 });
  cache.set('a', 1);
  cache.set('b', 2);
  cache.set('c', 3);
  assert.deepEqual([cache.get('a'), cache.get('b'), cache.get('c')], [undefined, 2, 3]);
});

test('weight is bounded, and a value heavier than the bound is not cached', () => {
  const cache = new TtlCache<string, string>({ ttlMs: 1_000, maxEntries: 10, maxWeight: 5, weigh: (v) => v.length });
  cache.set('a', 'xx');
  cache.set('b', 'yyy');
  cache.set('c', 'z');
  assert.deepEqual([cache.get('a'), cache.get('b'), cache.get('c')], [undefined, 'yyy', 'z']);
  cache.set('d', 'too heavy');
  assert.equal(cache.get('d'), undefined);
  assert.equal(cache.get('b'), 'yyy');
});
