/**
 * InstrumentedBlobStore: the decorator keeps the BlobStore contract (the shared conformance suite
 * through it, over the filesystem backend), and counts what it passes on: operations, failures
 * (an absent blob is not one), bytes appended and uploads in flight.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { test } from 'node:test';
import { randomUUID } from 'node:crypto';
import { Metrics } from '../../src/metrics.js';
import { digestOf } from '../../src/oci/digest.js';
import { BlobNotFoundError, UploadNotFoundError } from '../../src/storage/errors.js';
import { FilesystemBlobStore } from '../../src/storage/filesystem/filesystem-store.js';
import { InstrumentedBlobStore } from '../../src/storage/instrumented-store.js';
import { runBlobStoreConformance } from './conformance.js';

async function tempStore(metrics = new Metrics()) {
  const root = await mkdtemp(join(tmpdir(), 'cairn-instrumented-'));
  return { store: new InstrumentedBlobStore(new FilesystemBlobStore(root), metrics), cleanup: () => rm(root, { recursive: true, force: true }) };
}

runBlobStoreConformance('instrumented filesystem', () => tempStore());

async function sample(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const found = metric?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  return found?.value ?? 0;
}

test('counts operations, bytes and failures; an absent blob or upload is not a failure', async () => {
  const metrics = new Metrics();
  const { store, cleanup } = await tempStore(metrics);
  try {
    const bytes = Buffer.from('instrumented bytes');
    const digest = digestOf(bytes);
    const id = randomUUID();
    await store.check(); // lays out the directories, as at start-up
    await store.createUpload(id);
    // The body stays open until the gauge is read: the append is in flight for certain.
    const body = new PassThrough();
    const appending = store.appendUpload(id, 0, body);
    body.write(bytes);
    assert.equal(await sample(metrics, 'cairn_uploads_in_flight', {}), 1);
    body.end();
    assert.equal(await appending, bytes.length);
    assert.equal(await sample(metrics, 'cairn_uploads_in_flight', {}), 0);
    await store.commitUpload(id, digest);
    await assert.rejects(store.read(digestOf(Buffer.from('absent'))), BlobNotFoundError);
    await assert.rejects(store.appendUpload(randomUUID(), 0, Readable.from([bytes])), UploadNotFoundError);
    // A wrong offset is the client's mistake, but a failed store call all the same.
    await assert.rejects(store.appendUpload(id, 99, Readable.from([bytes])));

    const fs = { backend: 'filesystem' };
    assert.equal(await sample(metrics, 'cairn_storage_written_bytes_total', fs), bytes.length);
    assert.equal(await sample(metrics, 'cairn_storage_operations_total', { ...fs, operation: 'append_upload' }), 3);
    assert.equal(await sample(metrics, 'cairn_storage_operations_total', { ...fs, operation: 'commit_upload' }), 1);
    assert.equal(await sample(metrics, 'cairn_storage_operations_total', { ...fs, operation: 'read' }), 1);
    assert.equal(await sample(metrics, 'cairn_storage_operations_total', { ...fs, operation: 'check' }), 1);
    assert.equal(await sample(metrics, 'cairn_storage_errors_total', { ...fs, operation: 'read' }), 0);
    assert.equal(await sample(metrics, 'cairn_storage_errors_total', { ...fs, operation: 'append_upload' }), 1);
    assert.equal(await sample(metrics, 'cairn_uploads_in_flight', {}), 0);
  } finally {
    await cleanup();
  }
});
