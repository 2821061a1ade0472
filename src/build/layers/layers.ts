/**
 * Layers and snapshots. A layer is a deterministic tar (sorted entries, fixed owners as given,
 * times as BuildKit keeps them, clamped to SOURCE_DATE_EPOCH when set), compressed while it is
 * written straight into the blob store and hashed twice on the way (diffID of the tar, digest of
 * the compressed bytes). A snapshot is a layer extracted into a directory for overlayfs, kept in a
 * local cache with a byte budget (LRU) under DATA_DIR/worker and extracted only when a step needs it.
 */
import type { Readable } from 'node:stream';

export type Compression = 'gzip' | 'zstd';

export interface LayerDescriptor {
  readonly mediaType: string;
  /** Digest of the compressed blob: the manifest's layer digest. */
  readonly digest: string;
  readonly size: number;
  /** Digest of the uncompressed tar: the config's rootfs.diff_ids entry. */
  readonly diffId: string;
}

/** Where layer bytes go: the blob store (committed and hashed while written). */
export interface BlobSink {
  /** Stores the stream as a blob; resolves with its digest and size once committed. */
  write(stream: Readable, mediaType: string): Promise<{ digest: string; size: number }>;
}

/** Where layer bytes come from. */
export interface BlobSource {
  read(digest: string): Promise<Readable>;
}

export interface LayerOptions {
  readonly compression: Compression;
  /** Unix seconds; entries newer than this get this time (reproducible builds). */
  readonly sourceDateEpoch?: number;
}

export interface LayerWriter {
  /**
   * Turns an overlayfs upper directory (whiteout devices, opaque xattrs) into a layer: OCI
   * whiteouts (`.wh.name`, `.wh..wh..opq`), hard links, symlinks, `security.capability` xattrs.
   * Returns undefined when the directory holds no change (the step makes an empty layer).
   */
  fromUpperDir(upperDir: string, sink: BlobSink, options: LayerOptions): Promise<LayerDescriptor | undefined>;
}

export interface Snapshots {
  /**
   * The directory holding the layer's contents, extracted on first use (whiteouts turned into
   * overlayfs form), kept under a byte budget, least recently used evicted first. The returned
   * release() lets eviction take it again; a directory in use is never evicted.
   */
  acquire(layer: LayerDescriptor, source: BlobSource): Promise<{ dir: string; release(): void }>;
}
