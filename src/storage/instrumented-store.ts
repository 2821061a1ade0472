/**
 * A BlobStore decorator that counts and times every operation of the store it wraps, so each
 * backend (filesystem, S3) is measured the same way without either knowing about metrics. The
 * composition root wraps the store once; everything above it uses the wrapped one.
 *
 * The cost per operation is one counter increment and one histogram observation on series resolved
 * once per operation name (about 1.5 µs measured on a loaded 2-core machine), against operations
 * that do disk or network I/O. Streams are not wrapped: the
 * bytes of reads are counted at the HTTP layer from Content-Length, so no per-chunk work is added.
 */
import type { Readable } from 'node:stream';
import type { Digest } from '../oci/digest.js';
import type { BlobStore, ByteRange, StoredBlob, UploadInfo } from './blob-store.js';
import { BlobNotFoundError, UploadNotFoundError } from './errors.js';

type Labels = { backend: string; operation: string };

/** What the decorator records into (prom-client metrics); src/metrics.ts's Metrics satisfies it. */
export interface StorageMetrics {
  readonly storageOperations: { labels(labels: Labels): { inc(): void } };
  readonly storageErrors: { labels(labels: Labels): { inc(): void } };
  readonly storageDuration: { labels(labels: Labels): { observe(seconds: number): void } };
  readonly storageBytesWritten: { labels(labels: { backend: string }): { inc(bytes: number): void } };
  readonly uploadsInFlight: { inc(): void; dec(): void };
}

/** One operation's series, resolved once: a labelled lookup costs about as much as the update. */
interface Meter {
  readonly operations: { inc(): void };
  readonly errors: { inc(): void };
  readonly duration: { observe(seconds: number): void };
}

/** Absent blobs and uploads are answers the registry expects (404s, HEAD probes), not failures. */
function isFailure(error: unknown): boolean {
  return !(error instanceof BlobNotFoundError || error instanceof UploadNotFoundError);
}

export class InstrumentedBlobStore implements BlobStore {
  readonly kind: string;
  readonly redirectUrl?: (digest: Digest) => Promise<string | undefined>;
  readonly close?: () => Promise<void>;
  private readonly meters = new Map<string, Meter>();
  private readonly bytesWritten: { inc(bytes: number): void };

  constructor(
    private readonly inner: BlobStore,
    private readonly metrics: StorageMetrics,
  ) {
    this.kind = inner.kind;
    // Optional members stay optional: callers test for their presence.
    if (inner.redirectUrl) this.redirectUrl = (digest) => this.measure('redirect_url', () => inner.redirectUrl!(digest));
    if (inner.close) this.close = () => inner.close!();
    this.bytesWritten = metrics.storageBytesWritten.labels({ backend: this.kind });
  }

  private meter(operation: string): Meter {
    let meter = this.meters.get(operation);
    if (!meter) {
      const labels = { backend: this.kind, operation };
      const { storageOperations, storageErrors, storageDuration } = this.metrics;
      meter = { operations: storageOperations.labels(labels), errors: storageErrors.labels(labels), duration: storageDuration.labels(labels) };
      this.meters.set(operation, meter);
    }
    return meter;
  }

  private async measure<T>(operation: string, run: () => Promise<T>): Promise<T> {
    const meter = this.meter(operation);
    const started = performance.now();
    meter.operations.inc();
    try {
      return await run();
    } catch (error) {
      if (isFailure(error)) meter.errors.inc();
      throw error;
    } finally {
      meter.duration.observe((performance.now() - started) / 1000);
    }
  }

  /** Listings are counted once each, and as failed when iterating them fails. */
  private async *measureListing<T>(operation: string, list: () => AsyncIterable<T>): AsyncIterable<T> {
    const meter = this.meter(operation);
    meter.operations.inc();
    try {
      yield* list();
    } catch (error) {
      meter.errors.inc();
      throw error;
    }
  }

  check(): Promise<void> {
    return this.measure('check', () => this.inner.check());
  }

  stat(digest: Digest): Promise<number | undefined> {
    return this.measure('stat', () => this.inner.stat(digest));
  }

  read(digest: Digest, range?: ByteRange): Promise<Readable> {
    return this.measure('read', () => this.inner.read(digest, range));
  }

  delete(digest: Digest): Promise<boolean> {
    return this.measure('delete', () => this.inner.delete(digest));
  }

  list(): AsyncIterable<Digest> {
    return this.measureListing('list', () => this.inner.list());
  }

  listBlobs(): AsyncIterable<StoredBlob> {
    return this.measureListing('list_blobs', () => this.inner.listBlobs());
  }

  createUpload(id: string): Promise<void> {
    return this.measure('create_upload', () => this.inner.createUpload(id));
  }

  async appendUpload(id: string, offset: number, body: Readable): Promise<number> {
    this.metrics.uploadsInFlight.inc();
    try {
      const written = await this.measure('append_upload', () => this.inner.appendUpload(id, offset, body));
      this.bytesWritten.inc(written);
      return written;
    } finally {
      this.metrics.uploadsInFlight.dec();
    }
  }

  uploadSize(id: string): Promise<number | undefined> {
    return this.measure('upload_size', () => this.inner.uploadSize(id));
  }

  readUpload(id: string): Promise<Readable> {
    return this.measure('read_upload', () => this.inner.readUpload(id));
  }

  commitUpload(id: string, digest: Digest): Promise<void> {
    return this.measure('commit_upload', () => this.inner.commitUpload(id, digest));
  }

  abortUpload(id: string): Promise<void> {
    return this.measure('abort_upload', () => this.inner.abortUpload(id));
  }

  listUploads(): AsyncIterable<UploadInfo> {
    return this.measureListing('list_uploads', () => this.inner.listUploads());
  }
}
