/**
 * FilesystemBlobStore: the shared conformance suite on a temp dir, plus checks that only make
 * sense on disk (no stray files, the documented layout, ids that try to leave uploads/).
 */
import { randomUUID } from 'node:crypto';
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf } from '../../src/oci/digest.js';
import { FilesystemBlobStore } from '../../src/storage/filesystem/filesystem-store.js';
import { UploadNotFoundError } from '../../src/storage/errors.js';
import { MALFORMED_UPLOAD_IDS, runBlobStoreConformance } from './conformance.js';

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(parts);
}

async function listUploadIds(store: FilesystemBlobStore): Promise<string[]> {
  const ids: string[] = [];
  for await (const upload of store.listUploads()) ids.push(upload.id);
  return ids.sort();
}

async function tempStore(): Promise<{ root: string; store: FilesystemBlobStore; cleanup(): Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'cairn-fs-store-'));
  return { root, store: new FilesystemBlobStore(root), cleanup: () => rm(root, { recursive: true, force: true }) };
}

runBlobStoreConformance('filesystem', tempStore);

/** Every regular file under `root`, relative to it, sorted. */
async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => !e.isDirectory())
    .map((e) => relative(root, join(e.parentPath ?? e.path, e.name)))
    .sort();
}

const body = (text: string) => Readable.from([Buffer.from(text)], { objectMode: false });

describe('FilesystemBlobStore on disk', () => {
  const withStore = (fn: (s: { root: string; store: FilesystemBlobStore }) => Promise<void>) => async () => {
    const s = await tempStore();
    try {
      await s.store.check();
      await fn(s);
    } finally {
      await s.cleanup();
    }
  };

  test('layout: uploads/<uuid> and its length record while in progress, blobs/<alg>/<2 hex>/<hex> once committed', withStore(async ({ root, store }) => {
    const id = randomUUID();
    await store.createUpload(id);
    await store.appendUpload(id, 0, body('layout'));
    assert.deepEqual(await filesUnder(root), [join('uploads', id), join('uploads', `${id}.length`)]);
    assert.equal(await readFile(join(root, 'uploads', `${id}.length`), 'utf8'), '6');
    const digest = digestOf(Buffer.from('layout'));
    await store.commitUpload(id, digest);
    const blob = join('blobs', 'sha256', digest.encoded.slice(0, 2), digest.encoded);
    assert.deepEqual(await filesUnder(root), [blob, join('uploads', id), join('uploads', `${id}.length`)]);
    // Published: the upload takes no more bytes (they would land in the blob's hard-linked file).
    await assert.rejects(store.appendUpload(id, 6, body('more')), UploadNotFoundError);
    await store.abortUpload(id);
    assert.deepEqual(await filesUnder(root), [blob]);
    assert.equal(await readFile(join(root, blob), 'utf8'), 'layout');
  }));

  test('bytes a killed append left past the length record count for nothing and are cut off', withStore(async ({ root, store }) => {
    const id = randomUUID();
    await store.createUpload(id);
    await store.appendUpload(id, 0, body('acknowledged'));
    // What SIGKILL mid-append leaves: bytes written, length record not yet replaced.
    await appendFile(join(root, 'uploads', id), 'half a chunk');
    assert.equal(await store.uploadSize(id), 12);
    assert.equal((await readAll(await store.readUpload(id))).toString(), 'acknowledged');
    assert.deepEqual((await listUploadIds(store)), [id]);
    // Resuming at the recorded length replaces them; so does committing without a further chunk.
    assert.equal(await store.appendUpload(id, 12, body('+')), 1);
    assert.equal(await readFile(join(root, 'uploads', id), 'utf8'), 'acknowledged+');
    await appendFile(join(root, 'uploads', id), 'junk');
    const digest = digestOf(Buffer.from('acknowledged+'));
    await store.commitUpload(id, digest);
    assert.equal((await readAll(await store.read(digest))).toString(), 'acknowledged+');
  }));

  test('an orphaned length record is listed, so expiry can remove it', withStore(async ({ root, store }) => {
    const id = randomUUID();
    await store.createUpload(id);
    await rm(join(root, 'uploads', id)); // a crash between abort's two removals
    assert.equal(await store.uploadSize(id), undefined);
    assert.deepEqual(await listUploadIds(store), [id]);
    await store.abortUpload(id);
    assert.deepEqual(await filesUnder(root), []);
  }));

  test('abort leaves no stray files', withStore(async ({ root, store }) => {
    const ids = [randomUUID(), randomUUID()];
    for (const id of ids) {
      await store.createUpload(id);
      await store.appendUpload(id, 0, body('to be discarded'));
    }
    for (const id of ids) await store.abortUpload(id);
    assert.deepEqual(await filesUnder(root), []);
  }));

  test('a failed append leaves no stray files and the upload file at its previous length', withStore(async ({ root, store }) => {
    const id = randomUUID();
    await store.createUpload(id);
    await store.appendUpload(id, 0, body('kept'));
    async function* failing() {
      yield Buffer.alloc(2 * 1024 * 1024, 1);
      throw new Error('dropped');
    }
    await assert.rejects(store.appendUpload(id, 4, Readable.from(failing(), { objectMode: false })), /dropped/);
    assert.deepEqual(await filesUnder(root), [join('uploads', id), join('uploads', `${id}.length`)]);
    assert.equal((await readFile(join(root, 'uploads', id), 'utf8')), 'kept');
  }));

  test('concurrent commits of one digest leave exactly one blob file and no uploads', withStore(async ({ root, store }) => {
    const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    for (const id of ids) {
      await store.createUpload(id);
      await store.appendUpload(id, 0, body('racy'));
    }
    const digest = digestOf(Buffer.from('racy'));
    await Promise.all(ids.map((id) => store.commitUpload(id, digest)));
    for (const id of ids) await store.abortUpload(id);
    assert.deepEqual(await filesUnder(root), [join('blobs', 'sha256', digest.encoded.slice(0, 2), digest.encoded)]);
  }));

  test('malformed ids never reach files outside uploads/', withStore(async ({ root, store }) => {
    // uploads/../x is <root>/x: a sentinel there must survive every operation on '../x'.
    const sentinel = join(root, 'x');
    await writeFile(sentinel, 'sentinel');
    for (const id of MALFORMED_UPLOAD_IDS) {
      await store.createUpload(id).catch(() => undefined);
      await store.appendUpload(id, 8, body('overwrite')).catch(() => undefined);
      await store.commitUpload(id, digestOf(Buffer.from('sentinel'))).catch(() => undefined);
      await store.abortUpload(id).catch(() => undefined);
    }
    assert.equal(await readFile(sentinel, 'utf8'), 'sentinel');
    assert.deepEqual(await filesUnder(root), ['x']);
  }));
});
