/**
 * The BlobStore conformance suite: one set of tests that every storage backend must pass, in the
 * spirit of distribution's `registry/storage/driver/testsuites`. A backend's own test file is a
 * few lines that call `runBlobStoreConformance` with a factory; checks that only make sense for
 * one backend (files on disk, S3 multipart leftovers) belong in that backend's file, not here.
 *
 * Every test gets a fresh store from the factory, so listings can be compared exactly. The suite
 * calls `check()` before using a store, as the application does at startup.
 *
 * What the contract in src/storage/blob-store.ts promises, and where it is tested:
 *   - bytes round-trip through create/append/commit/read, for empty, tiny and multi-MiB blobs
 *   - stat reports committed sizes; read honours inclusive byte ranges
 *   - missing blobs: read → BlobNotFoundError, stat → undefined, delete → false
 *   - append needs the exact current offset (UploadRangeError otherwise, and nothing changes)
 *   - a body that fails midway leaves the upload as it was ("whole or not at all")
 *   - commit is atomic, keeps the upload until abort (committing again is harmless), and
 *     concurrent commits of one digest are safe
 *   - abort discards an upload; unknown or malformed upload ids are refused (UploadNotFoundError)
 *   - list() yields committed digests (for GC), listUploads() in-progress uploads with a time
 *   - listBlobs() yields committed blobs with size and a commit time no earlier than the commit,
 *     even when the upload's last chunk was written long before (GC's sweep relies on it)
 */
import { createHash, randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { digestFromHex, digestOf, type Digest } from '../../src/oci/digest.js';
import { BlobNotFoundError, UploadNotFoundError, UploadRangeError } from '../../src/storage/errors.js';
import type { BlobStore, StoredBlob, UploadInfo } from '../../src/storage/blob-store.js';

export interface BlobStoreUnderTest {
  readonly store: BlobStore;
  /** Removes everything the store wrote (temp dir, bucket prefix). */
  cleanup(): Promise<void>;
}

export type BlobStoreFactory = () => Promise<BlobStoreUnderTest>;

/** Ids a backend must refuse: they could escape an uploads directory or key prefix. */
export const MALFORMED_UPLOAD_IDS: readonly string[] = [
  '',
  'not-a-uuid',
  '../x',
  '../../blobs/sha256',
  '../0b0c6f27-2a5e-4d8c-9a44-6f0e8e1f3a10',
  '0b0c6f27-2a5e-4d8c-9a44-6f0e8e1f3a10/../5d1e2a8b-7c3f-4e9a-b1d2-c3e4f5a6b7c8',
  '0b0c6f27-2a5e-4d8c-9a44-6f0e8e1f3a10/',
  '0b0c6f27-2a5e-4d8c-9a44-6f0e8e1f3a10\0',
];

export function runBlobStoreConformance(name: string, factory: BlobStoreFactory): void {
  /** Runs `body` against a fresh, checked store, and cleans up whatever happens. */
  const withStore = (body: (store: BlobStore) => Promise<void>) => async () => {
    const { store, cleanup } = await factory();
    try {
      await store.check();
      await body(store);
    } finally {
      await cleanup();
    }
  };

  describe(`BlobStore conformance: ${name}`, () => {
    test('check() succeeds on a fresh store and can be repeated', withStore(async (store) => {
      await store.check();
      assert.equal(typeof store.kind, 'string');
      assert.ok(store.kind.length > 0);
    }));

    describe('round trip', () => {
      test('create, append several chunks, commit, read', withStore(async (store) => {
        const chunks = [bytes('hello, '), bytes('cairn '), bytes('blob store')];
        const whole = Buffer.concat(chunks);
        const digest = await pushBlob(store, chunks);
        assert.equal(digest.value, digestOf(whole).value);
        assert.equal(await store.stat(digest), whole.length);
        assert.deepEqual(await readAll(await store.read(digest)), whole);
      }));

      test('empty blob (no append at all)', withStore(async (store) => {
        const id = randomUUID();
        await store.createUpload(id);
        assert.equal(await store.uploadSize(id), 0);
        assert.equal((await readAll(await store.readUpload(id))).length, 0);
        const digest = digestOf(new Uint8Array(0));
        await store.commitUpload(id, digest);
        assert.equal(await store.stat(digest), 0);
        assert.equal((await readAll(await store.read(digest))).length, 0);
      }));

      test('empty blob (one empty append returns 0)', withStore(async (store) => {
        const id = randomUUID();
        await store.createUpload(id);
        assert.equal(await store.appendUpload(id, 0, body()), 0);
        assert.equal(await store.uploadSize(id), 0);
        const digest = digestOf(new Uint8Array(0));
        await store.commitUpload(id, digest);
        assert.equal(await store.stat(digest), 0);
        assert.equal((await readAll(await store.read(digest))).length, 0);
      }));

      test('1-byte blob, including its only byte as a range', withStore(async (store) => {
        const one = Buffer.from([0xa5]);
        const digest = await pushBlob(store, [one]);
        assert.equal(await store.stat(digest), 1);
        assert.deepEqual(await readAll(await store.read(digest)), one);
        assert.deepEqual(await readAll(await store.read(digest, { start: 0, end: 0 })), one);
      }));

      test('appendUpload returns the bytes appended; empty chunks change nothing', withStore(async (store) => {
        const id = randomUUID();
        await store.createUpload(id);
        assert.equal(await store.appendUpload(id, 0, body(bytes('abc'))), 3);
        assert.equal(await store.appendUpload(id, 3, body()), 0);
        assert.equal(await store.appendUpload(id, 3, body(bytes('de'), bytes('f'))), 3);
        assert.equal(await store.uploadSize(id), 6);
        assert.deepEqual(await readAll(await store.readUpload(id)), bytes('abcdef'));
      }));

      test(`${BIG_SIZE / MiB} MiB streamed from a generator, in one append and in several`, withStore(async (store) => {
        // One append of the whole pattern: never held in one Buffer, hashed as it is produced.
        const single = randomUUID();
        await store.createUpload(single);
        const hasher = createHash('sha256');
        const written = await store.appendUpload(single, 0, Readable.from(pattern(0, BIG_SIZE, hasher), { objectMode: false }));
        assert.equal(written, BIG_SIZE);
        assert.equal(await store.uploadSize(single), BIG_SIZE);
        const digest = digestFromHex('sha256', hasher.digest('hex'));
        await store.commitUpload(single, digest);
        assert.equal(await store.stat(digest), BIG_SIZE);
        const read = await hashStream(await store.read(digest));
        assert.equal(read.size, BIG_SIZE);
        assert.equal(read.digest, digest.value);

        // The same bytes as uneven appends (3 MiB + 1 byte, then the rest) commit to the same blob.
        const split = 3 * MiB + 1;
        const multi = randomUUID();
        await store.createUpload(multi);
        assert.equal(await store.appendUpload(multi, 0, Readable.from(pattern(0, split), { objectMode: false })), split);
        assert.equal(
          await store.appendUpload(multi, split, Readable.from(pattern(split, BIG_SIZE), { objectMode: false })),
          BIG_SIZE - split,
        );
        const upload = await hashStream(await store.readUpload(multi));
        assert.equal(upload.digest, digest.value);
        await store.commitUpload(multi, digest);
        assert.equal(await store.stat(digest), BIG_SIZE);

        // Ranges inside the big blob, across pattern chunk boundaries and at both ends.
        const ranges = [
          { start: 0, end: 0 },
          { start: BIG_SIZE - 1, end: BIG_SIZE - 1 },
          { start: PATTERN_CHUNK - 3, end: PATTERN_CHUNK + 2 },
          { start: split - 1000, end: split + 5 * PATTERN_CHUNK + 17 },
          { start: BIG_SIZE - MiB - 5, end: BIG_SIZE - 1 },
        ];
        for (const range of ranges) {
          const got = await readAll(await store.read(digest, range));
          assert.equal(got.length, range.end - range.start + 1, `length of ${range.start}-${range.end}`);
          assert.ok(got.equals(patternBytes(range.start, range.end + 1)), `bytes of ${range.start}-${range.end}`);
        }
      }));
    });

    describe('stat and read', () => {
      test('byte ranges: first byte, last byte, middle, whole', withStore(async (store) => {
        const content = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff));
        const digest = await pushBlob(store, [content]);
        const cases: Array<[string, number, number]> = [
          ['first byte', 0, 0],
          ['last byte', 999, 999],
          ['middle', 100, 899],
          ['single middle byte', 500, 500],
          ['whole', 0, 999],
          ['prefix', 0, 9],
          ['suffix', 990, 999],
        ];
        for (const [label, start, end] of cases) {
          const got = await readAll(await store.read(digest, { start, end }));
          assert.deepEqual(got, content.subarray(start, end + 1), label);
        }
        assert.deepEqual(await readAll(await store.read(digest)), content, 'no range');
      }));

      test('missing blob: stat is undefined, read rejects with BlobNotFoundError, delete is false', withStore(async (store) => {
        const missing = digestOf(bytes(`never stored ${randomUUID()}`));
        assert.equal(await store.stat(missing), undefined);
        await assert.rejects(store.read(missing), BlobNotFoundError);
        await assert.rejects(store.read(missing, { start: 0, end: 0 }), BlobNotFoundError);
        assert.equal(await store.delete(missing), false);
      }));

      test('sha512 digests are stored and read like sha256 ones', withStore(async (store) => {
        const content = bytes('sha512 content');
        const digest = digestOf(content, 'sha512');
        const id = randomUUID();
        await store.createUpload(id);
        await store.appendUpload(id, 0, body(content));
        await store.commitUpload(id, digest);
        assert.equal(await store.stat(digest), content.length);
        assert.deepEqual(await readAll(await store.read(digest)), content);
        // Same bytes, different algorithm: a different blob.
        assert.equal(await store.stat(digestOf(content, 'sha256')), undefined);
      }));
    });

    describe('delete', () => {
      test('returns true, then false; the blob is gone from stat, read and list', withStore(async (store) => {
        const keep = await pushBlob(store, [bytes('keep me')]);
        const gone = await pushBlob(store, [bytes('delete me')]);
        assert.equal(await store.delete(gone), true);
        assert.equal(await store.delete(gone), false);
        assert.equal(await store.stat(gone), undefined);
        await assert.rejects(store.read(gone), BlobNotFoundError);
        assert.deepEqual(await listDigests(store), [keep.value]);
        assert.deepEqual(await readAll(await store.read(keep)), bytes('keep me'));
      }));

      test('a deleted digest can be committed again', withStore(async (store) => {
        const digest = await pushBlob(store, [bytes('again')]);
        assert.equal(await store.delete(digest), true);
        assert.equal((await pushBlob(store, [bytes('again')])).value, digest.value);
        assert.deepEqual(await readAll(await store.read(digest)), bytes('again'));
      }));
    });

    describe('uploads', () => {
      test('uploadSize and readUpload follow each append', withStore(async (store) => {
        const id = randomUUID();
        await store.createUpload(id);
        const chunks = [bytes('a'), bytes('bc'), Buffer.alloc(70_000, 0x61), bytes('def')];
        let offset = 0;
        for (const chunk of chunks) {
          assert.equal(await store.appendUpload(id, offset, body(chunk)), chunk.length);
          offset += chunk.length;
          assert.equal(await store.uploadSize(id), offset);
          assert.deepEqual(await readAll(await store.readUpload(id)), Buffer.concat(chunks).subarray(0, offset));
        }
      }));

      test('append at the wrong offset rejects with UploadRangeError and changes nothing', withStore(async (store) => {
        const id = randomUUID();
        await store.createUpload(id);
        await store.appendUpload(id, 0, body(bytes('12345')));
        for (const offset of [0, 4, 6, 1000]) {
          await assert.rejects(store.appendUpload(id, offset, body(bytes('XX'))), (error: unknown) => {
            assert.ok(error instanceof UploadRangeError, `offset ${offset}: ${String(error)}`);
            assert.equal(error.expectedOffset, 5, `offset ${offset}`);
            return true;
          });
          assert.equal(await store.uploadSize(id), 5, `offset ${offset}`);
          assert.deepEqual(await readAll(await store.readUpload(id)), bytes('12345'), `offset ${offset}`);
        }
        // The upload is still usable at the right offset.
        assert.equal(await store.appendUpload(id, 5, body(bytes('67'))), 2);
        assert.deepEqual(await readAll(await store.readUpload(id)), bytes('1234567'));
      }));

      test('a body that fails midway leaves the upload at its previous size', withStore(async (store) => {
        const id = randomUUID();
        await store.createUpload(id);

        // First chunk fails: the upload stays empty.
        await assert.rejects(store.appendUpload(id, 0, failingBody(2 * MiB + 3, 'boom at 0')), /boom at 0/);
        assert.equal(await store.uploadSize(id), 0);

        await store.appendUpload(id, 0, body(bytes('good start')));
        const before = 'good start'.length;

        // A later chunk fails after writing a few MiB: the upload keeps only the earlier chunk.
        await assert.rejects(store.appendUpload(id, before, failingBody(3 * MiB + 5, 'boom later')), /boom later/);
        assert.equal(await store.uploadSize(id), before);
        // …and stays so: no write still in flight lands after the cut.
        await sleep(100);
        assert.equal(await store.uploadSize(id), before);
        assert.deepEqual(await readAll(await store.readUpload(id)), bytes('good start'));

        // A tiny failing chunk (error before any byte arrives) changes nothing either.
        await assert.rejects(store.appendUpload(id, before, failingBody(0, 'boom empty')), /boom empty/);
        assert.equal(await store.uploadSize(id), before);

        // The client retries the chunk from the same offset and the upload completes.
        assert.equal(await store.appendUpload(id, before, body(bytes(' and end'))), 8);
        const digest = digestOf(bytes('good start and end'));
        await store.commitUpload(id, digest);
        assert.deepEqual(await readAll(await store.read(digest)), bytes('good start and end'));
      }));

      test('a body destroyed without an error (client hung up) is not applied either', withStore(async (store) => {
        const id = randomUUID();
        await store.createUpload(id);
        await store.appendUpload(id, 0, body(bytes('kept')));
        // Hands out 1.25 MiB as the store pulls it, then goes away without an error or an end.
        let pulled = 0;
        const hungUp = new Readable({
          read() {
            if (pulled++ < 20) this.push(Buffer.alloc(64 * 1024, 0x42));
            else setImmediate(() => this.destroy());
          },
        });
        await assert.rejects(store.appendUpload(id, 4, hungUp));
        assert.ok(pulled > 20, 'the store read the body before it went away');
        assert.equal(await store.uploadSize(id), 4);
        await sleep(50);
        assert.equal(await store.uploadSize(id), 4);
        assert.deepEqual(await readAll(await store.readUpload(id)), bytes('kept'));
      }));

      test('commit publishes the blob and keeps the upload until abort; committing again is harmless', withStore(async (store) => {
        const id = randomUUID();
        await store.createUpload(id);
        await store.appendUpload(id, 0, body(bytes('committed')));
        const digest = digestOf(bytes('committed'));
        await store.commitUpload(id, digest);
        assert.deepEqual(await readAll(await store.read(digest)), bytes('committed'));
        // What a crash before the registry records the blob leaves: the upload, whole.
        assert.equal(await store.uploadSize(id), 9);
        assert.deepEqual(await readAll(await store.readUpload(id)), bytes('committed'));
        await store.commitUpload(id, digest);
        assert.deepEqual(await readAll(await store.read(digest)), bytes('committed'));

        await store.abortUpload(id);
        assert.equal(await store.uploadSize(id), undefined);
        assert.deepEqual(await listUploadIds(store), []);
        await assert.rejects(store.readUpload(id), UploadNotFoundError);
        await assert.rejects(store.appendUpload(id, 9, body(bytes('x'))), UploadNotFoundError);
        await assert.rejects(store.commitUpload(id, digest), UploadNotFoundError);
        assert.deepEqual(await readAll(await store.read(digest)), bytes('committed'));
      }));

      test('committing a digest that already exists keeps the content intact', withStore(async (store) => {
        const first = await pushBlob(store, [bytes('same '), bytes('bytes')]);
        const second = await pushBlob(store, [bytes('same bytes')]);
        assert.equal(second.value, first.value);
        assert.equal(await store.stat(first), 10);
        assert.deepEqual(await readAll(await store.read(first)), bytes('same bytes'));
        assert.deepEqual(await listDigests(store), [first.value]);
      }));

      test('concurrent commits of the same digest from two uploads both succeed', withStore(async (store) => {
        const content = Buffer.concat([bytes('concurrent '), Buffer.alloc(256 * 1024, 0x5a)]);
        const digest = digestOf(content);
        const ids = [randomUUID(), randomUUID(), randomUUID()];
        for (const id of ids) {
          await store.createUpload(id);
          await store.appendUpload(id, 0, body(content.subarray(0, 100)));
          await store.appendUpload(id, 100, body(content.subarray(100)));
        }
        await Promise.all(ids.map((id) => store.commitUpload(id, digest)));
        assert.equal(await store.stat(digest), content.length);
        assert.deepEqual(await readAll(await store.read(digest)), content);
        for (const id of ids) await store.abortUpload(id);
        assert.deepEqual(await listUploadIds(store), []);
        assert.deepEqual(await listDigests(store), [digest.value]);
        assert.deepEqual(await readAll(await store.read(digest)), content);
      }));

      test('a commit is atomic: stat sees no blob or the whole blob, never part of it', withStore(async (store) => {
        const id = randomUUID();
        await store.createUpload(id);
        const hasher = createHash('sha256');
        const size = 4 * MiB;
        await store.appendUpload(id, 0, Readable.from(pattern(0, size, hasher), { objectMode: false }));
        const digest = digestFromHex('sha256', hasher.digest('hex'));
        let done = false;
        const commit = store.commitUpload(id, digest).finally(() => (done = true));
        const seen = new Set<number | undefined>();
        while (!done) {
          seen.add(await store.stat(digest));
          await sleep(0);
        }
        await commit;
        seen.add(await store.stat(digest));
        for (const s of seen) assert.ok(s === undefined || s === size, `stat saw ${s}`);
        assert.ok(seen.has(size));
      }));

      test('abort removes the upload and its data; aborting again is fine', withStore(async (store) => {
        const keep = randomUUID();
        const drop = randomUUID();
        await store.createUpload(keep);
        await store.createUpload(drop);
        await store.appendUpload(drop, 0, body(Buffer.alloc(100_000, 1)));
        assert.deepEqual(await listUploadIds(store), [drop, keep].sort());

        await store.abortUpload(drop);
        assert.equal(await store.uploadSize(drop), undefined);
        assert.deepEqual(await listUploadIds(store), [keep]);
        await assert.rejects(store.readUpload(drop), UploadNotFoundError);
        await assert.rejects(store.appendUpload(drop, 0, body(bytes('x'))), UploadNotFoundError);
        await assert.rejects(store.commitUpload(drop, digestOf(new Uint8Array(0))), UploadNotFoundError);
        await store.abortUpload(drop);
        assert.deepEqual(await listDigests(store), []);
        assert.equal(await store.uploadSize(keep), 0);
      }));

      test('an unknown upload id: size undefined, operations reject with UploadNotFoundError, abort is fine', withStore(async (store) => {
        const id = randomUUID();
        assert.equal(await store.uploadSize(id), undefined);
        await assert.rejects(store.appendUpload(id, 0, body(bytes('x'))), UploadNotFoundError);
        await assert.rejects(store.readUpload(id), UploadNotFoundError);
        await assert.rejects(store.commitUpload(id, digestOf(bytes('x'))), UploadNotFoundError);
        await store.abortUpload(id);
        assert.deepEqual(await listUploadIds(store), []);
        assert.deepEqual(await listDigests(store), []);
      }));

      for (const id of MALFORMED_UPLOAD_IDS) {
        test(`a malformed upload id is refused: ${JSON.stringify(id)}`, withStore(async (store) => {
          // Defence in depth: the registry only passes UUIDs it minted, but a backend that builds
          // paths or keys from ids must not let one escape its uploads area.
          await assert.rejects(store.createUpload(id), UploadNotFoundError);
          await assert.rejects(store.appendUpload(id, 0, body(bytes('x'))), UploadNotFoundError);
          await assert.rejects(store.readUpload(id), UploadNotFoundError);
          await assert.rejects(store.commitUpload(id, digestOf(bytes('x'))), UploadNotFoundError);
          // "No such upload" may be answered either way for these two, but never by touching data.
          await undefinedOrNotFound(store.uploadSize(id));
          await undefinedOrNotFound(store.abortUpload(id));
          assert.deepEqual(await listUploadIds(store), []);
          assert.deepEqual(await listDigests(store), []);
        }));
      }
    });

    describe('listings', () => {
      test('list() yields every committed digest once, and no uploads or deleted blobs', withStore(async (store) => {
        assert.deepEqual(await listDigests(store), []);
        const a = await pushBlob(store, [bytes('blob a')]);
        const b = await pushBlob(store, [bytes('blob b')]);
        const c = await pushBlob(store, [bytes('blob c')]);
        const sha512 = digestOf(bytes('blob d'), 'sha512');
        const up = randomUUID();
        await store.createUpload(up);
        await store.appendUpload(up, 0, body(bytes('blob d')));
        await store.commitUpload(up, sha512);
        const deleted = await pushBlob(store, [bytes('blob e')]);
        await store.delete(deleted);
        const pending = randomUUID();
        await store.createUpload(pending);
        await store.appendUpload(pending, 0, body(bytes('not committed')));

        const listed = await listDigests(store);
        assert.deepEqual(listed, [a.value, b.value, c.value, sha512.value].sort());
        // The digests come back parsed and usable.
        for await (const digest of store.list()) {
          assert.equal(digest.value, `${digest.algorithm}:${digest.encoded}`);
          assert.notEqual(await store.stat(digest), undefined);
        }
      }));

      test('listBlobs() gives committed blobs with their size and commit time, and nothing else', withStore(async (store) => {
        assert.deepEqual(await listBlobs(store), []);
        const startedAt = Date.now();
        const a = await pushBlob(store, [bytes('listed blob a')]);
        const empty = await pushBlob(store, []);
        const gone = await pushBlob(store, [bytes('listed then deleted')]);
        await store.delete(gone);
        const pending = randomUUID();
        await store.createUpload(pending);
        await store.appendUpload(pending, 0, body(bytes('not committed')));

        const listed = await listBlobs(store);
        assert.deepEqual(listed.map((b) => [b.digest.value, b.size]), [[a.value, 13], [empty.value, 0]].sort((x, y) => String(x[0]).localeCompare(String(y[0]))));
        for (const blob of listed) {
          const t = blob.lastModified.getTime();
          // Allow for coarse timestamps (whole seconds on some filesystems and object stores).
          assert.ok(t >= startedAt - 2_000 && t <= Date.now() + 2_000, `lastModified ${blob.lastModified.toISOString()}`);
        }
      }));

      test('listBlobs(): the commit time is the commit, not the last chunk written', withStore(async (store) => {
        const id = randomUUID();
        await store.createUpload(id);
        const content = bytes('written early, committed late');
        await store.appendUpload(id, 0, body(content));
        await sleep(2_500);
        const beforeCommit = Date.now();
        const digest = digestOf(content);
        await store.commitUpload(id, digest);
        const [blob] = await listBlobs(store);
        assert.equal(blob?.digest.value, digest.value);
        // Whole-second timestamps round down by at most a second.
        assert.ok(blob!.lastModified.getTime() >= beforeCommit - 1_000, `lastModified ${blob!.lastModified.toISOString()} is before the commit`);
      }));

      test('listUploads() gives in-progress uploads with a lastModified time', withStore(async (store) => {
        assert.deepEqual(await listUploadIds(store), []);
        const startedAt = Date.now();
        const one = randomUUID();
        const two = randomUUID();
        await store.createUpload(one);
        await store.createUpload(two);
        await store.appendUpload(two, 0, body(bytes('some bytes')));
        const committed = randomUUID();
        await store.createUpload(committed);
        await store.commitUpload(committed, digestOf(new Uint8Array(0)));
        await store.abortUpload(committed);

        const uploads = await listUploads(store);
        assert.deepEqual(uploads.map((u) => u.id), [one, two].sort());
        for (const upload of uploads) {
          assert.ok(upload.lastModified instanceof Date, 'lastModified is a Date');
          const t = upload.lastModified.getTime();
          // Allow for coarse timestamps (whole seconds on some filesystems and object stores).
          assert.ok(t >= startedAt - 2_000 && t <= Date.now() + 2_000, `lastModified ${upload.lastModified.toISOString()}`);
        }

        // An append does not make an upload look older.
        const before = uploads.find((u) => u.id === one)!.lastModified.getTime();
        await store.appendUpload(one, 0, body(bytes('later')));
        const after = (await listUploads(store)).find((u) => u.id === one)!.lastModified.getTime();
        assert.ok(after >= before, 'lastModified did not go backwards');
      }));
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Helpers

const MiB = 1024 * 1024;
const BIG_SIZE = 8 * MiB;
/** The deterministic pattern is made of chunks this big; each chunk is derived from its index. */
const PATTERN_CHUNK = 64 * 1024;

function bytes(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}

/** A request-like body: a byte stream (not object mode) of the given chunks. */
function body(...chunks: Uint8Array[]): Readable {
  return Readable.from(chunks, { objectMode: false });
}

/** A body that sends `size` bytes in 64 KiB chunks and then fails, like a dropped connection. */
function failingBody(size: number, message: string): Readable {
  async function* generate() {
    yield* pattern(0, size);
    await sleep(1);
    throw new Error(message);
  }
  return Readable.from(generate(), { objectMode: false });
}

/** Creates an upload, appends `chunks` one per call, and commits it under its sha256 digest. */
async function pushBlob(store: BlobStore, chunks: readonly Uint8Array[]): Promise<Digest> {
  const id = randomUUID();
  await store.createUpload(id);
  let offset = 0;
  for (const chunk of chunks) {
    assert.equal(await store.appendUpload(id, offset, body(chunk)), chunk.length);
    offset += chunk.length;
  }
  const digest = digestOf(Buffer.concat(chunks));
  await store.commitUpload(id, digest);
  await store.abortUpload(id); // as the registry does once the blob is recorded
  return digest;
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}

/** Hashes a stream without keeping it in memory. */
async function hashStream(stream: Readable): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Uint8Array);
    size += (chunk as Uint8Array).length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

async function listDigests(store: BlobStore): Promise<string[]> {
  const out: string[] = [];
  for await (const digest of store.list()) out.push(digest.value);
  return out.sort();
}

async function listUploads(store: BlobStore): Promise<UploadInfo[]> {
  const out: UploadInfo[] = [];
  for await (const upload of store.listUploads()) out.push(upload);
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

async function listBlobs(store: BlobStore): Promise<StoredBlob[]> {
  const blobs: StoredBlob[] = [];
  for await (const blob of store.listBlobs()) blobs.push(blob);
  return blobs.sort((x, y) => x.digest.value.localeCompare(y.digest.value));
}

async function listUploadIds(store: BlobStore): Promise<string[]> {
  return (await listUploads(store)).map((u) => u.id);
}

async function undefinedOrNotFound(result: Promise<unknown>): Promise<void> {
  try {
    assert.equal(await result, undefined);
  } catch (error) {
    assert.ok(error instanceof UploadNotFoundError, `expected undefined or UploadNotFoundError, got ${String(error)}`);
  }
}

/** Chunk `index` of the deterministic pattern (xorshift32 seeded by the index). */
function patternChunk(index: number): Buffer {
  const out = Buffer.allocUnsafe(PATTERN_CHUNK);
  let x = (Math.imul(index + 1, 0x9e3779b1) >>> 0) || 1;
  for (let i = 0; i < PATTERN_CHUNK; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, i);
  }
  return out;
}

/** Bytes [from, to) of the pattern, in pieces of at most one pattern chunk, optionally hashed. */
function* pattern(from: number, to: number, hasher?: { update(data: Uint8Array): unknown }): Generator<Buffer> {
  let position = from;
  while (position < to) {
    const index = Math.floor(position / PATTERN_CHUNK);
    const chunkStart = index * PATTERN_CHUNK;
    const piece = patternChunk(index).subarray(position - chunkStart, Math.min(PATTERN_CHUNK, to - chunkStart));
    hasher?.update(piece);
    yield piece;
    position += piece.length;
  }
}

/** Bytes [from, to) of the pattern as one Buffer: only for small ranges. */
function patternBytes(from: number, to: number): Buffer {
  return Buffer.concat([...pattern(from, to)]);
}
