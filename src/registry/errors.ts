/**
 * Domain errors: named after the fact that went wrong, free of HTTP. Each carries a `kind`;
 * the wire mapping (OCI error code + status) lives in one table in src/http/oci/errors.ts,
 * which the compiler keeps exhaustive over `RegistryErrorKind` and `StorageErrorKind`.
 *
 * Facts the storage layer raises too (a blob or upload not found, a chunk at the wrong offset,
 * storage unavailable) are defined once, below both, in src/storage/errors.ts and re-exported
 * here: the services raise them with the same classes.
 */
export {
  BlobNotFoundError,
  StorageError,
  StorageUnavailableError,
  UploadNotFoundError,
  UploadRangeError,
  type StorageErrorKind,
} from '../storage/errors.js';

export type RegistryErrorKind =
  | 'blob_upload_invalid'
  | 'digest_invalid'
  | 'manifest_blob_unknown'
  | 'manifest_invalid'
  | 'manifest_unknown'
  | 'manifest_too_large'
  | 'name_invalid'
  | 'name_unknown'
  | 'tag_invalid'
  | 'size_invalid'
  | 'range_not_satisfiable'
  | 'unsupported'
  | 'pagination_invalid';

export class RegistryError extends Error {
  constructor(
    readonly kind: RegistryErrorKind,
    message: string,
    /** Machine-readable detail for the client, e.g. the digest concerned. */
    readonly detail?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class UploadInvalidError extends RegistryError {
  constructor(message: string, detail?: unknown) {
    super('blob_upload_invalid', message, detail);
  }
}

export class DigestInvalidError extends RegistryError {
  constructor(message: string, detail?: unknown) {
    super('digest_invalid', message, detail);
  }
}

export class DigestMismatchError extends RegistryError {
  constructor(expected: string, actual: string) {
    super('digest_invalid', 'provided digest did not match uploaded content', { expected, actual });
  }
}

export class SizeInvalidError extends RegistryError {
  constructor(message: string, detail?: unknown) {
    super('size_invalid', message, detail);
  }
}

export class ManifestInvalidError extends RegistryError {
  constructor(message: string, detail?: unknown) {
    super('manifest_invalid', message, detail);
  }
}

export class ManifestTooLargeError extends RegistryError {
  constructor(limit: number) {
    super('manifest_too_large', `manifest exceeds the ${limit}-byte limit`, { limit });
  }
}

export class ManifestBlobUnknownError extends RegistryError {
  constructor(digest: string) {
    super('manifest_blob_unknown', 'manifest references a blob or manifest unknown to the repository', {
      digest,
    });
  }
}

export class ManifestNotFoundError extends RegistryError {
  constructor(reference: string) {
    super('manifest_unknown', 'manifest unknown to registry', { reference });
  }
}

export class NameInvalidError extends RegistryError {
  constructor(name: string) {
    super('name_invalid', 'invalid repository name', { name: name.slice(0, 300) });
  }
}

export class NameNotFoundError extends RegistryError {
  constructor(name: string) {
    super('name_unknown', 'repository name not known to registry', { name });
  }
}

export class TagInvalidError extends RegistryError {
  constructor(tag: string) {
    super('tag_invalid', 'invalid tag', { tag: tag.slice(0, 300) });
  }
}

export class RangeNotSatisfiableError extends RegistryError {
  constructor(readonly size: number) {
    super('range_not_satisfiable', 'requested range not satisfiable', { size });
  }
}

export class UnsupportedError extends RegistryError {
  constructor(message: string) {
    super('unsupported', message);
  }
}

/**
 * A blob delete refused because a manifest of the repository still references the blob: deleting
 * it would leave that image unpullable. 405 UNSUPPORTED on the wire, the spec's answer for a
 * delete the registry will not do (see README "Deletes").
 */
export class BlobInUseError extends RegistryError {
  constructor(digest: string, user: { manifest: string; tag: string | null; manifests: number }) {
    const by = user.tag === null ? `manifest ${user.manifest} (untagged)` : `manifest ${user.manifest} (tag ${user.tag})`;
    const others = user.manifests > 1 ? ` and ${user.manifests - 1} other manifest${user.manifests > 2 ? 's' : ''}` : '';
    super('unsupported', `blob ${digest} is referenced by ${by}${others}: delete the manifest first`, {
      digest,
      manifest: user.manifest,
      tag: user.tag,
      manifests: user.manifests,
    });
  }
}

/**
 * A manifest delete refused because an index of the repository lists the manifest (a platform of
 * a multi-platform image): the index would still be served but could no longer be pulled whole.
 */
export class ManifestInUseError extends RegistryError {
  constructor(digest: string, user: { index: string; tag: string | null; indexes: number }) {
    const by = user.tag === null ? `index ${user.index} (untagged)` : `index ${user.index} (tag ${user.tag})`;
    const others = user.indexes > 1 ? ` and ${user.indexes - 1} other ${user.indexes > 2 ? 'indexes' : 'index'}` : '';
    super('unsupported', `manifest ${digest} is listed by ${by}${others}: delete the index first`, {
      digest,
      index: user.index,
      tag: user.tag,
      indexes: user.indexes,
    });
  }
}

/** A DELETE on a registry started with deletes turned off (`CAIRN_DELETES=false`). */
export class DeletesDisabledError extends RegistryError {
  constructor(what: 'blob' | 'manifest' | 'tag') {
    super('unsupported', `${what} deletes are disabled on this registry`);
  }
}

export class PaginationInvalidError extends RegistryError {
  constructor(message: string) {
    super('pagination_invalid', message);
  }
}

