/**
 * Errors the blob storage layer raises, named after facts and free of HTTP. They live here, below
 * the registry services, because storage must not depend on the layers above it; the services
 * raise the same facts with the same classes (re-exported by src/registry/errors.ts), and each API
 * maps `StorageErrorKind` to its wire errors in its one table (src/http/oci/errors.ts for /v2/).
 *
 * Backend failures of their own (S3ClientError, errno errors) never leave a backend except as
 * StorageUnavailableError or, for the filesystem, as the errno error itself (a 500: a local disk
 * that fails is the operator's problem, not the client's).
 */
export type StorageErrorKind = 'blob_unknown' | 'blob_upload_unknown' | 'upload_offset_mismatch' | 'storage_unavailable';

export class StorageError extends Error {
  constructor(
    readonly kind: StorageErrorKind,
    message: string,
    /** Machine-readable detail for the client, e.g. the digest concerned. */
    readonly detail?: unknown,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** No committed blob has this digest (or, raised by the registry, none linked to the repository). */
export class BlobNotFoundError extends StorageError {
  constructor(digest: string) {
    super('blob_unknown', 'blob unknown to registry', { digest });
  }
}

/** No upload has this id: never started, aborted, or a malformed id. */
export class UploadNotFoundError extends StorageError {
  constructor(id: string) {
    super('blob_upload_unknown', 'blob upload unknown to registry', { uploadId: id });
  }
}

/**
 * A chunk that does not start where the upload ends (out of order, overlapping or a gap).
 * `expectedOffset` is the upload's committed length: where a chunk must start.
 */
export class UploadRangeError extends StorageError {
  constructor(readonly expectedOffset: number, received: number) {
    super('upload_offset_mismatch', `chunk starts at ${received}, upload is at ${expectedOffset}`, {
      expectedOffset,
      received,
    });
  }
}

/** The blob backend could not be reached or failed; nothing was published. */
export class StorageUnavailableError extends StorageError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('storage_unavailable', message, undefined, options);
  }
}
