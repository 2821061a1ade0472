/**
 * What only the S3 backend has, checked against a real S3 server: which objects and multipart
 * uploads exist at each step, small chunks buffered until a part is full, two stores (two
 * replicas) continuing one upload, read-back sealing, retries and failures.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { digestOf } from '../../src/oci/digest.js';
import { StorageUnavailableError, UploadRangeError } from '../../src/storage/errors.js';
import type { S3Operations } from '../../src/storage/s3/operations.js';
import type { S3BlobStore } from '../../src/storage/s3/s3-store.js';
import { startFaultProxy } from '../support/fault-proxy.js';
import { listKeys, operations, testStore, type S3Target } from '../support/s3.js';

const MiB = 1024 * 1024;
const PART = 5 * MiB;

const body = (...chunks: Buffer[]) => Readable.from(chunks, { objectMode: false });

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

async function multipartUploads(ops: S3Operations, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const upload of ops.listMultipart(prefix)) keys.push(upload.key.slice(prefix.length));
  return keys;
}

export function s3StoreTests(target: S3Target, bucket: () => string): void {
  /** A store on a fresh prefix, plus raw S3 access to look at what it wrote. */
  const withStore =
    (body: (s: { store: S3BlobStore; ops: S3Operations; prefix: string; second: () => Promise<S3BlobStore> }) => Promise<void>) =>
    async () => {
      const main = await testStore(target, bucket());
      const others: Array<{ cleanup(): Promise<void> }> = [];
      const ops = operations(target, bucket());
      try {
        await main.store.check();
        const second = async () => {
          const other = await testStore(target, bucket(), { prefix: main.prefix });
          others.push({ cleanup: () => other.store.close() });
          return other.store;
        };
        await body({ store: main.store, ops, prefix: main.prefix, second });
      } finally {
        for (const other of others) await other.cleanup();
        await main.cleanup();
        await ops.client.close();
      }
    };

  describe('S3BlobStore on S3', () => {
    test('chunks under 5 MiB stay tail objects; a full part opens the multipart upload; commit and abort leave only the blob', withStore(async ({ store, ops, prefix }) => {
      const id = randomUUID();
      const bytes = randomBytes(PART + 3 * MiB);
      await store.createUpload(id);
      let offset = 0;
      for (const size of [MiB, MiB, 2 * MiB]) {
        await store.appendUpload(id, offset, body(bytes.subarray(offset, offset + size)));
        offset += size;
      }
      assert.deepEqual(await multipartUploads(ops, prefix), [], 'no multipart upload below one part');
      const keys = await listKeys(ops, `${prefix}uploads/${id}/`);
      assert.equal(keys.filter((k) => k.startsWith('tail/')).length, 3);
      assert.ok(keys.includes('state.json'));

      await store.appendUpload(id, offset, body(bytes.subarray(offset)));
      assert.deepEqual(await multipartUploads(ops, prefix), [`uploads/${id}/data`]);
      const after = await listKeys(ops, `${prefix}uploads/${id}/`);
      assert.deepEqual(after.filter((k) => k.startsWith('tail/')).length, 1, 'old tails replaced by one');

      const digest = digestOf(bytes);
      await store.commitUpload(id, digest);
      assert.deepEqual(await multipartUploads(ops, prefix), []);
      // The upload stays until the registry has recorded the blob and aborts it.
      assert.ok((await listKeys(ops, prefix)).includes(`uploads/${id}/state.json`));
      await store.abortUpload(id);
      assert.deepEqual(await listKeys(ops, prefix), [`blobs/sha256/${digest.encoded}`]);
      assert.ok((await readAll(await store.read(digest))).equals(bytes));
    }));

    test('a small blob is one PUT: no multipart upload, no copy of a big object', withStore(async ({ store, ops, prefix }) => {
      const id = randomUUID();
      const bytes = randomBytes(300_000);
      await store.createUpload(id);
      await store.appendUpload(id, 0, body(bytes));
      await store.commitUpload(id, digestOf(bytes));
      await store.abortUpload(id);
      assert.deepEqual(await listKeys(ops, prefix), [`blobs/sha256/${digestOf(bytes).encoded}`]);
    }));

    test('what an append killed before its state swap left counts for nothing, and abort removes it', withStore(async ({ store, ops, prefix }) => {
      const id = randomUUID();
      const bytes = randomBytes(2 * MiB);
      await store.createUpload(id);
      await store.appendUpload(id, 0, body(bytes.subarray(0, MiB)));
      // SIGKILL mid-append: a tail object and a multipart upload that no state records.
      await ops.put(`${prefix}uploads/${id}/tail/000000001048576-killed`, randomBytes(1000));
      await ops.createMultipart(`${prefix}uploads/${id}/data`);
      assert.equal(await store.uploadSize(id), MiB);
      assert.ok((await readAll(await store.readUpload(id))).equals(bytes.subarray(0, MiB)));
      assert.equal(await store.appendUpload(id, MiB, body(bytes.subarray(MiB))), MiB);
      await store.commitUpload(id, digestOf(bytes));
      await store.abortUpload(id);
      assert.deepEqual(await multipartUploads(ops, prefix), []);
      assert.deepEqual(await listKeys(ops, prefix), [`blobs/sha256/${digestOf(bytes).encoded}`]);
      assert.ok((await readAll(await store.read(digestOf(bytes)))).equals(bytes));
    }));

    test('two stores (two replicas) alternate chunks of one upload', withStore(async ({ store, second }) => {
      const other = await second();
      const id = randomUUID();
      const sizes = [3 * MiB, 4 * MiB, 1 * MiB, 6 * MiB + 7, 2 * MiB];
      const bytes = randomBytes(sizes.reduce((a, b) => a + b));
      await store.createUpload(id);
      let offset = 0;
      for (const [i, size] of sizes.entries()) {
        const replica = i % 2 === 0 ? store : other;
        assert.equal(await replica.appendUpload(id, offset, body(bytes.subarray(offset, offset + size))), size);
        offset += size;
        assert.equal(await (i % 2 === 0 ? other : store).uploadSize(id), offset);
      }
      const digest = digestOf(bytes);
      await other.commitUpload(id, digest);
      assert.ok((await readAll(await store.read(digest))).equals(bytes));
    }));

    test('readUpload seals the parts; a later append re-opens the multipart upload', withStore(async ({ store, ops, prefix }) => {
      const id = randomUUID();
      const bytes = randomBytes(2 * PART + MiB);
      await store.createUpload(id);
      await store.appendUpload(id, 0, body(bytes.subarray(0, PART + MiB)));
      assert.ok((await readAll(await store.readUpload(id))).equals(bytes.subarray(0, PART + MiB)));
      assert.deepEqual(await multipartUploads(ops, prefix), [], 'sealed: the multipart upload was completed');
      await store.appendUpload(id, PART + MiB, body(bytes.subarray(PART + MiB)));
      assert.deepEqual(await multipartUploads(ops, prefix), [`uploads/${id}/data`]);
      assert.ok((await readAll(await store.readUpload(id))).equals(bytes));
      await store.commitUpload(id, digestOf(bytes));
      assert.ok((await readAll(await store.read(digestOf(bytes)))).equals(bytes));
    }));

    test('abort removes the multipart upload and every object of the upload', withStore(async ({ store, ops, prefix }) => {
      const id = randomUUID();
      await store.createUpload(id);
      await store.appendUpload(id, 0, body(randomBytes(PART + 10)));
      assert.equal((await multipartUploads(ops, prefix)).length, 1);
      await store.abortUpload(id);
      assert.deepEqual(await multipartUploads(ops, prefix), []);
      assert.deepEqual(await listKeys(ops, prefix), []);
    }));

    test('two replicas appending at the same offset: one wins, the other gets UploadRangeError', withStore(async ({ store, second }) => {
      const other = await second();
      const id = randomUUID();
      await store.createUpload(id);
      const a = randomBytes(100);
      const b = randomBytes(200);
      const results = await Promise.allSettled([store.appendUpload(id, 0, body(a)), other.appendUpload(id, 0, body(b))]);
      const won = results.filter((r) => r.status === 'fulfilled');
      assert.equal(won.length, 1, JSON.stringify(results.map((r) => r.status)));
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      assert.ok(lost.reason instanceof UploadRangeError, String(lost.reason));
      const size = await store.uploadSize(id);
      const content = await readAll(await store.readUpload(id));
      assert.ok(content.equals(size === 100 ? a : b));
    }));

    test('503 SlowDown answers are retried and the upload goes through', async () => {
      const proxy = await startFaultProxy(target.endpoint);
      const { store, cleanup } = await testStore({ ...target, endpoint: proxy.endpoint }, bucket(), { maxAttempts: 5 });
      try {
        const id = randomUUID();
        const bytes = randomBytes(PART + MiB);
        proxy.failNext(3);
        await store.createUpload(id);
        proxy.failNext(2, (method) => method === 'PUT');
        await store.appendUpload(id, 0, body(bytes));
        proxy.failNext(2);
        await store.commitUpload(id, digestOf(bytes));
        assert.ok((await readAll(await store.read(digestOf(bytes)))).equals(bytes));
        assert.ok(proxy.seen.filter((r) => r.status === 503).length >= 7);
      } finally {
        await cleanup();
        await proxy.close();
      }
    });

    test('S3 unreachable: StorageUnavailableError, the upload unchanged, and usable once S3 is back', async () => {
      const proxy = await startFaultProxy(target.endpoint);
      const { store, cleanup } = await testStore({ ...target, endpoint: proxy.endpoint }, bucket(), { maxAttempts: 2 });
      try {
        const id = randomUUID();
        const bytes = randomBytes(PART + MiB);
        await store.createUpload(id);
        await store.appendUpload(id, 0, body(bytes.subarray(0, MiB)));
        proxy.down();
        await assert.rejects(store.appendUpload(id, MiB, body(bytes.subarray(MiB))), StorageUnavailableError);
        await assert.rejects(store.check(), /unreachable/);
        proxy.up();
        assert.equal(await store.uploadSize(id), MiB);
        await store.appendUpload(id, MiB, body(bytes.subarray(MiB)));
        await store.commitUpload(id, digestOf(bytes));
        assert.ok((await readAll(await store.read(digestOf(bytes)))).equals(bytes));
      } finally {
        proxy.up();
        await cleanup();
        await proxy.close();
      }
    });

    test('check() names the problem: wrong secret, unknown key, missing bucket', async () => {
      const cases: Array<[Partial<S3Target>, string, RegExp]> = [
        [{ secretAccessKey: 'wrong-secret' }, bucket(), /AWS_SECRET_ACCESS_KEY/],
        [{ accessKeyId: 'NOSUCHKEY' }, bucket(), /AWS_ACCESS_KEY_ID/],
        [{}, `cairn-missing-${randomBytes(4).toString('hex')}`, /does not exist/],
      ];
      for (const [override, bucketName, message] of cases) {
        const { store, cleanup } = await testStore({ ...target, ...override }, bucketName, { maxAttempts: 1 });
        try {
          await assert.rejects(store.check(), (error: unknown) => {
            assert.ok(error instanceof StorageUnavailableError);
            assert.match(error.message, message);
            assert.doesNotMatch(error.message, /wrong-secret|testsecretkey/);
            return true;
          });
        } finally {
          await store.close();
          await cleanup().catch(() => undefined);
        }
      }
    });
  });
}
