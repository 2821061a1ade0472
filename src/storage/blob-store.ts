/**
 * The blob storage contract. Every backend (filesystem, S3, memory) implements exactly this, and
 * test/storage/conformance.ts runs one suite against each.
 *
 * Blob bytes only: metadata (which repository links which blob, sizes for HEAD) lives in the
 * database. The registry writes bytes first and links them in the database second, so the
 * database never points at bytes that are not there.
 *
 * Digests arrive parsed (`Digest`), and upload ids are validated UUIDs: a backend may build paths
 * or keys from them directly.
 *
 * Uploads and crashes. An upload's length (`uploadSize`) is the one record of how far it got:
 * the registry reports it to clients as the upload's offset and starts the next chunk there. So
 * every backend keeps this promise even when the process is killed at any instant, mid-chunk
 * included: the length counts every byte of every append that returned, and no byte of one that
 * did not. A backend therefore commits an append in one atomic step after its bytes are stored
 * (the filesystem replaces a length record; S3 swaps the upload's state object), and treats any
 * bytes stored beyond the length as never written. No other record (the database's session row)
 * may stand in for it: it can lag behind by the append whose commit the crash interrupted.
 * Recovery is lazy, per upload, when it is next touched: nothing is scanned at start.
 */
import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';

const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Upload ids are lowercase UUIDs minted by the registry; anything else names no upload. */
export function isUploadId(id: string): boolean {
  return UPLOAD_ID.test(id);
}

/** An inclusive byte range, as in HTTP `Range: bytes=start-end`. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** A committed blob as listed for the garbage collector's sweep. */
export interface StoredBlob {
  readonly digest: Digest;
  readonly size: number;
  /**
   * When the blob's bytes were last committed: never earlier than the end of the latest
   * `commitUpload` of this digest, so a sweep that spares recent objects spares fresh commits.
   */
  readonly lastModified: Date;
}

export interface UploadInfo {
  readonly id: string;
  readonly lastModified: Date;
}

export interface BlobStore {
  /** A short name for logs and /readyz, e.g. "filesystem". */
  readonly kind: string;

  /** Fails with a clear message when the backend is not usable (missing bucket, bad credentials). */
  check(): Promise<void>;

  /** Size in bytes of a committed blob, or undefined when there is none. */
  stat(digest: Digest): Promise<number | undefined>;

  /**
   * The bytes of a committed blob, or of `range` within it. Rejects with BlobNotFoundError when
   * absent. The caller has checked the range against the size.
   */
  read(digest: Digest, range?: ByteRange): Promise<Readable>;

  /**
   * Optional: a short-lived URL where clients can fetch the blob directly (S3 presigned URL),
   * or undefined to have the registry stream it. Backends without such URLs leave it out.
   */
  redirectUrl?(digest: Digest): Promise<string | undefined>;
  /** Releases what the store holds open (connection pools); optional. */
  close?(): Promise<void>;

  /** Removes a committed blob. Returns false when there was none. */
  delete(digest: Digest): Promise<boolean>;

  /** Every committed blob, in no particular order (for garbage collection). */
  list(): AsyncIterable<Digest>;

  /**
   * Every committed blob with its size and commit time, in no particular order (the garbage
   * collector's sweep for bytes no database row names). Nothing else: no uploads, no strays.
   */
  listBlobs(): AsyncIterable<StoredBlob>;

  /** Starts an empty upload. */
  createUpload(id: string): Promise<void>;

  /**
   * Appends `body` to the upload, whose length must be exactly `offset` (UploadRangeError
   * otherwise, with the real length). Returns the number of bytes appended. When `body` fails or
   * ends early, or the process dies, the upload's length stays as it was before the call: a
   * chunk is applied whole or not at all. Rejects with UploadNotFoundError for an unknown upload,
   * and may for one already committed (it takes no more bytes).
   */
  appendUpload(id: string, offset: number, body: Readable): Promise<number>;

  /**
   * The upload's length: bytes of every append that finished (see "Uploads and crashes" above),
   * or undefined when there is no such upload.
   */
  uploadSize(id: string): Promise<number | undefined>;

  /**
   * Exactly the upload's `uploadSize` bytes. Used to recompute a digest when the process that
   * hashed the earlier chunks is gone (restart, another replica). A backend may reorganise how it
   * holds the bytes to read them (S3 completes its open multipart upload first), never the bytes.
   */
  readUpload(id: string): Promise<Readable>;

  /**
   * Publishes the upload's bytes as the blob `digest` (already verified by the caller). Atomic:
   * readers see the whole blob or none. Concurrent commits of the same digest are safe; the
   * content is identical by definition. The upload stays (readable, same length) until
   * `abortUpload`: the registry removes it only once the blob is recorded in the database, so a
   * crash in between leaves it whole for the client's retried PUT. Committing again is harmless.
   */
  commitUpload(id: string, digest: Digest): Promise<void>;

  /** Discards an upload and its temporary data; a missing upload is not an error. */
  abortUpload(id: string): Promise<void>;

  /** Uploads in progress, for expiring abandoned ones. */
  listUploads(): AsyncIterable<UploadInfo>;
}
