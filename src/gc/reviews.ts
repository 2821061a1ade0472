/**
 * One review of one queued object, each in its own short transaction: claim the queue row, lock
 * the object, gather its references in a fresh statement, decide (decisions.ts), then delete the
 * row or drop / postpone the review. Bytes are deleted after the row's transaction commits, in a
 * second one that holds the digest's advisory lock (`freeBytes`). See index.ts for why.
 */
import type { Metadata } from '../metadata/stores/index.js';
import { isForeignKeyViolation } from '../metadata/errors.js';
import type { ManifestFacts } from '../metadata/stores/gc.js';
import { parseDigest } from '../oci/digest.js';
import type { BlobStore } from '../storage/blob-store.js';
import { decideBlob, decideManifest, type Keep } from './decisions.js';

/** Which queue row a review starts from: the next due one, or a given one (a chain). */
export type ManifestTarget = { readonly due: true; readonly skip: readonly number[] } | { readonly id: number };
export type BlobTarget = { readonly due: true; readonly skip: readonly string[] } | { readonly digest: string };

export interface ReviewContext {
  readonly metadata: Metadata;
  readonly now: Date;
  readonly reviewDelayMs: number;
  /** Decide only: nothing is written, locks are released at once. */
  readonly dryRun: boolean;
}

export type ManifestReview =
  | { readonly outcome: 'none' }
  /** Another worker or a push holds the object: left on the queue for a later pass. */
  | { readonly outcome: 'busy'; readonly id: number }
  | { readonly outcome: 'gone'; readonly id: number }
  | { readonly outcome: 'kept'; readonly id: number; readonly keep: Keep }
  | { readonly outcome: 'deleted'; readonly manifest: ManifestFacts; readonly blobs: readonly string[]; readonly manifests: readonly number[] };

export type BlobReview =
  | { readonly outcome: 'none' }
  | { readonly outcome: 'busy'; readonly digest: string }
  | { readonly outcome: 'gone'; readonly digest: string }
  | { readonly outcome: 'kept'; readonly digest: string; readonly keep: Keep }
  | { readonly outcome: 'deleted'; readonly digest: string; readonly size: number };

export function reviewManifest(ctx: ReviewContext, target: ManifestTarget): Promise<ManifestReview> {
  return ctx.metadata.transaction(async ({ gc }) => {
    const id = 'id' in target ? ((await gc.claimManifestReview(target.id)) ? target.id : undefined) : await gc.takeDueManifest(ctx.now, target.skip);
    if (id === undefined) return { outcome: 'none' };
    const manifest = await gc.lockManifest(id);
    if (!manifest) {
      if (await gc.manifestExists(id)) return { outcome: 'busy', id };
      return { outcome: 'gone', id }; // its review row went with it (cascade)
    }
    const verdict = decideManifest(manifest.pushedAt, await gc.manifestReferences(manifest), ctx.now, ctx.reviewDelayMs);
    if (!verdict.delete) {
      if (!ctx.dryRun) {
        if (verdict.reason === 'young') await gc.postponeManifestReview(id, verdict.until);
        // Kept by a reference: whatever removes that reference enqueues the manifest again.
        else await gc.dropManifestReview(id);
      }
      return { outcome: 'kept', id, keep: verdict };
    }
    const dependents = await gc.manifestDependents(manifest);
    if (!ctx.dryRun) await gc.deleteManifest(id);
    return { outcome: 'deleted', manifest, ...dependents };
  });
}

export async function reviewBlob(ctx: ReviewContext, target: BlobTarget): Promise<BlobReview> {
  try {
    return await ctx.metadata.transaction(async ({ gc }) => {
      const digest = 'digest' in target ? ((await gc.claimBlobReview(target.digest)) ? target.digest : undefined) : await gc.takeDueBlob(ctx.now, target.skip);
      if (digest === undefined) return { outcome: 'none' };
      const blob = await gc.lockBlob(digest);
      if (blob && !(await gc.lockBlobLinks(digest))) return { outcome: 'busy', digest };
      if (!blob) {
        if (await gc.blobExists(digest)) return { outcome: 'busy', digest };
        // No row: nothing for this queue to do. Bytes without a row are the sweep's business.
        if (!ctx.dryRun) await gc.dropBlobReview(digest);
        return { outcome: 'gone', digest };
      }
      const verdict = decideBlob(await gc.blobReferences(digest), ctx.now, ctx.reviewDelayMs);
      if (!verdict.delete) {
        if (!ctx.dryRun) {
          if (verdict.reason === 'young') await gc.postponeBlobReview(digest, verdict.until);
          else await gc.dropBlobReview(digest);
        }
        return { outcome: 'kept', digest, keep: verdict };
      }
      if (!ctx.dryRun) {
        // The cascade to repository_blobs enqueues the digest again (trigger): drop it after.
        await gc.deleteBlob(digest);
        await gc.dropBlobReview(digest);
      }
      return { outcome: 'deleted', digest, size: blob.size };
    });
  } catch (error) {
    // Cannot happen while the locks hold (a reference needs FOR KEY SHARE on the row we hold FOR
    // UPDATE), but if it did the foreign key stops the delete and the blob simply stays.
    const digest = 'digest' in target ? target.digest : undefined;
    if (isForeignKeyViolation(error) && digest) return { outcome: 'busy', digest };
    throw error;
  }
}

/**
 * Deletes the bytes of a blob whose row is gone, unless a row came back meanwhile (a re-upload
 * of the same content). Holds the digest's advisory lock, which an upload of bytes that are
 * already stored holds too, shared, while it records them (UploadService.publish). Returns
 * whether bytes were deleted.
 */
export function freeBytes(metadata: Metadata, storage: BlobStore, digestText: string): Promise<boolean> {
  const parsed = parseDigest(digestText);
  if (!parsed.ok) return Promise.resolve(false); // rows hold only digests the registry parsed
  return metadata.transaction(async ({ gc }) => {
    await gc.holdBlobBytesForDeletion(digestText);
    if (await gc.blobExists(digestText)) return false;
    return storage.delete(parsed.digest);
  });
}
