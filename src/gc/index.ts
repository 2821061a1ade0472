/**
 * Online garbage collection, after GitLab's container registry: triggers put every object that
 * may have lost its last reference on a review queue (migrations/0001 and 0008) with
 * review_after = now() + review delay; workers on every replica take due rows with
 * FOR UPDATE SKIP LOCKED, re-check the object under lock, delete its row, and only then its bytes.
 *
 *   decisions.ts  the rules, pure (manifest / blob / orphan → delete or keep, and why)
 *   reviews.ts    one review in one transaction; freeing a blob's bytes afterwards
 *   sweep.ts      bytes in storage that no row names
 *   collector.ts  passes (timer, API, CLI), chains, run history, metrics
 *   metadata/stores/gc.ts  the queries and locks; `blobIsReferenced` is the one definition of
 *                 "a manifest still needs this blob" (retention's bytesFreed uses it too)
 *
 * WHY A PUSH NEVER LOSES A BLOB IT IS ABOUT TO REFERENCE
 *
 * Facts the argument rests on (PostgreSQL, READ COMMITTED):
 *   F1. Inserting a row with a foreign key takes FOR KEY SHARE on the referenced row until the
 *       inserting transaction ends; FOR KEY SHARE and FOR UPDATE exclude each other.
 *   F2. Each statement sees everything committed before it started. The collector locks the
 *       object (FOR UPDATE SKIP LOCKED) in one statement and gathers its references in the next,
 *       so it sees every reference committed before it got the lock; and no new reference can be
 *       added while it holds the lock (F1). If the object is locked, it is skipped, never waited
 *       for: the collector holds its queue row while a push may wait for that queue row in a
 *       trigger, so waiting could deadlock.
 *   F3. Referencing needs the row: manifest_blobs, manifest_references, tags and repository_blobs
 *       all have foreign keys, so a reference to a row the collector deleted fails (23503) instead
 *       of pointing at nothing.
 *
 * Blob uploaded, manifest not yet pushed (BuildKit uploads every layer first, then the manifest):
 *   the upload links the blob to the repository, which stamps repository_blobs.created_at and
 *   re-enqueues the blob (trigger, 0008). The rule keeps a blob linked within the last review
 *   delay. So the review delay must exceed the longest push or cache export; default 24 h.
 * Re-upload of content that is already stored (dedup) or a mount: they refresh the link
 *   (ON CONFLICT DO UPDATE SET created_at = now()) — a fresh link, as above — and first take
 *   FOR KEY SHARE on the blob row (UploadService.publish via `holdBlobForLink`; BlobStoreMetadata
 *   .link selects the row FOR KEY SHARE). Either the collector locked the row first — then the
 *   push waits, finds the row gone, and a mount answers "not mounted" (the client uploads) while
 *   an upload records the blob afresh — or the push locked it first and the collector skips it.
 * Manifest PUT: it locks the repository links of its blobs FOR KEY SHARE, so the collector locks
 *   a blob's links too (SKIP LOCKED) and skips the blob when a PUT holds one; otherwise the PUT
 *   could wait for the blob row while the collector's cascade waits for the link (a deadlock).
 *   Its manifest_blobs and manifest_references inserts take FOR KEY SHARE on each
 *   referenced blob and child manifest (F1). If the collector deleted one first, the insert fails
 *   (F3) and ManifestService retries once from the reference check, which then reports
 *   MANIFEST_BLOB_UNKNOWN if the blob really is gone — the push is refused, nothing points at
 *   missing bytes. Otherwise the collector sees the new reference (F2) and keeps the blob.
 * Tag PUT on an untagged manifest under review: the tag insert takes FOR KEY SHARE on the
 *   manifest (F1): the collector skips it, or deleted it first and the PUT's retry stores it anew
 *   (or answers MANIFEST_BLOB_UNKNOWN if its blobs were collected with it).
 * Bytes: the row is deleted and committed first (the database never points at missing bytes),
 *   then `freeBytes` deletes the bytes under an exclusive advisory lock on the digest, only if
 *   no row has come back. A re-upload whose bytes are already stored records them holding the
 *   same lock shared and stats the bytes under it, committing its own upload if they went away.
 *   A first upload of new content commits bytes before any row exists: nothing deletes them but
 *   the sweep, which spares objects younger than the review delay (commit time, listBlobs).
 * What is NOT covered, by design (as in GitLab): a client that HEADs a blob, finds it, skips the
 *   upload and pushes its manifest more than one review delay after the blob's last link, while
 *   nothing references it, may see MANIFEST_BLOB_UNKNOWN and must push again. Nothing it was told
 *   is stored is lost. Process-local caches (5 s link and manifest caches) may answer HEAD for a
 *   just-collected object for up to 5 s, like a delete made through another replica.
 *
 * MANIFEST RULES: a manifest stays while a tag points at it, an index names it, or it has a
 * subject present in the same repository (signatures and SBOMs live as long as what they
 * describe; when the subject goes, trigger 0008 enqueues them). Otherwise it is deleted once it
 * was pushed at least one review delay ago — including manifests pushed by digest and never
 * tagged (multi-arch children get the delay to be named by their index).
 * CHAINS: deleting a manifest enqueues its blobs (trigger), its children and referrers; a real
 * pass reviews them at once by the same rules (the rules, not the queue's timestamp, carry the
 * safety), so deleting a tag frees its unique blobs in one pass once the manifest is old enough.
 */
export { GarbageCollector, type Clock, type ManifestDeletedListener, type GcOptions, type GcStatus, type PassReport, type PassRequest, type PassTrigger } from './collector.js';
export { decideBlob, decideManifest, decideOrphan, type Keep, type Verdict } from './decisions.js';
