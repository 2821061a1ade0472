/**
 * Errors of layers, snapshots, build contexts and COPY/ADD, named after facts. Each carries the
 * entry or path concerned so the build log can say which one; the builds API maps `kind` to its
 * wire errors in its one table. Anything else (an errno from the disk) is the worker's own failure.
 */
export type LayerErrorKind =
  | 'archive_invalid'
  | 'path_outside_root'
  | 'context_too_large'
  | 'copy_source_not_found'
  | 'copy_invalid'
  | 'compression_unavailable'
  | 'layer_digest_mismatch';

export class LayerError extends Error {
  constructor(
    readonly kind: LayerErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A tar stream that is not a well-formed archive (bad checksum, cut short, unknown entry type). */
export class InvalidArchiveError extends LayerError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('archive_invalid', message, options);
  }
}

/**
 * An archive entry or a link target that would land outside the directory it is extracted into:
 * an absolute path, a `..` that climbs out, a symlink pointing out, or a write through a symlink.
 */
export class PathOutsideRootError extends LayerError {
  constructor(
    readonly entry: string,
    reason: string,
  ) {
    super('path_outside_root', `archive entry "${entry}" ${reason}`);
  }
}

/** The build context exceeds the configured bytes or entries. */
export class ContextTooLargeError extends LayerError {
  constructor(
    readonly limit: 'bytes' | 'entries',
    readonly max: number,
  ) {
    super('context_too_large', `build context has more than ${max} ${limit === 'bytes' ? 'bytes' : 'entries'}`);
  }
}

/** A COPY/ADD source (path or pattern) that matches nothing in its source. */
export class CopySourceNotFoundError extends LayerError {
  constructor(readonly source: string) {
    super('copy_source_not_found', `COPY source "${source}" not found`);
  }
}

/** COPY/ADD options that cannot be applied (a bad --chmod, an unknown --chown user, …). */
export class CopyInvalidError extends LayerError {
  constructor(message: string) {
    super('copy_invalid', message);
  }
}

/** A compression this Node.js or machine cannot do (zstd before Node 22.15, no xz binary). */
export class CompressionUnavailableError extends LayerError {
  constructor(message: string) {
    super('compression_unavailable', message);
  }
}

/** A layer blob whose uncompressed bytes do not hash to the diffID it was recorded with. */
export class LayerDigestMismatchError extends LayerError {
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super('layer_digest_mismatch', `layer content is ${actual}, expected diffID ${expected}`);
  }
}
