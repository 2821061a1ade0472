import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupCommit } from '../../src/metadata/group-commit.js';

/** A writer whose writes finish only when the test says so. */
function gatedWriter() {
  const writes: number[][] = [];
  const gates: (() => void)[] = [];
  const write = (records: number[]) =>
    new Promise<void>((resolve, reject) => {
      writes.push(records);
      gates.push(() => (records.includes(-1) ? reject(new Error('disk full')) : resolve()));
    });
  const openNext = async () => {
    while (gates.length === 0) await new Promise((r) => setImmediate(r));
    gates.shift()!();
  };
  return { writes, write, openNext };
}

test('one record alone is written at once, on its own', async () => {
  const w = gatedWriter();
  const group = new GroupCommit(w.write);
  const done = group.record(1);
  await w.openNext();
  await done;
  assert.deepEqual(w.writes, [[1]]);
});

test('records that arrive while a write is in flight go together in the next write', async () => {
  const w = gatedWriter();
  const group = new GroupCommit(w.write);
  const first = group.record(1);
  const rest = [2, 3, 4].map((n) => group.record(n));
  await w.openNext();
  await first;
  await w.openNext();
  await Promise.all(rest);
  assert.deepEqual(w.writes, [[1], [2, 3, 4]]);
});

test('a batch never exceeds maxBatch; order is kept across batches', async () => {
  const w = gatedWriter();
  const group = new GroupCommit(w.write, 2);
  const all = [1, 2, 3, 4, 5].map((n) => group.record(n));
  for (let i = 0; i < 3; i++) await w.openNext();
  await Promise.all(all);
  assert.deepEqual(w.writes, [[1], [2, 3], [4, 5]]);
});

test('a failed write rejects exactly the records of its batch; the next batch still goes', async () => {
  const w = gatedWriter();
  const group = new GroupCommit(w.write);
  const first = group.record(1);
  const failing = [group.record(-1), group.record(2)];
  await w.openNext();
  await first;
  const later = group.record(3); // arrives while the failing batch is in flight
  await w.openNext();
  for (const promise of failing) await assert.rejects(promise, /disk full/);
  await w.openNext();
  await later;
  assert.deepEqual(w.writes, [[1], [-1, 2], [3]]);
});
