/**
 * The sweep: stored bytes that no blob row names and that were written at least one review delay
 * ago are removed. They are left by a crash between writing bytes and recording them, or between
 * the collector's row delete and its byte delete. The delay spares uploads that are between their
 * commit and their row insert (BlobStore.listBlobs promises the commit time); the advisory lock
 * taken by `freeBytes` spares a re-upload recording the same bytes right now.
 *
 * Cost: one listing of the blob store and one indexed query per 500 old objects, which is why it
 * runs at most once per gcSweepInterval on schedule.
 */
import type { Metadata } from '../metadata/stores/index.js';
import type { BlobStore, StoredBlob } from '../storage/blob-store.js';
import { decideOrphan } from './decisions.js';
import { freeBytes } from './reviews.js';

const BATCH = 500;

export interface SweepResult {
  readonly listed: number;
  readonly orphans: ReadonlyArray<{ digest: string; size: number }>;
}

export async function sweepOrphans(metadata: Metadata, storage: BlobStore, now: Date, reviewDelayMs: number, dryRun: boolean): Promise<SweepResult> {
  const orphans: Array<{ digest: string; size: number }> = [];
  let listed = 0;
  let batch: StoredBlob[] = [];
  const flush = async () => {
    const unrecorded = await metadata.stores.gc.unrecorded(batch.map((b) => b.digest.value));
    for (const blob of batch) {
      if (!unrecorded.has(blob.digest.value)) continue;
      if (dryRun || (await freeBytes(metadata, storage, blob.digest.value))) orphans.push({ digest: blob.digest.value, size: blob.size });
    }
    batch = [];
  };
  for await (const blob of storage.listBlobs()) {
    listed++;
    if (!decideOrphan(blob.lastModified, now, reviewDelayMs).delete) continue;
    batch.push(blob);
    if (batch.length >= BATCH) await flush();
  }
  if (batch.length > 0) await flush();
  return { listed, orphans };
}
