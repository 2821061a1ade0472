/**
 * Multipart mechanics of an upload: opening (or re-opening) its multipart upload on the `data`
 * key, completing it, and server-side copies.
 *
 * Re-opening happens after a read-back sealed the parts into the `data` object (S3 cannot read
 * the parts of an unfinished multipart upload): the new multipart upload gets those bytes back
 * as parts by UploadPartCopy, which moves no data through Cairn.
 */
import { UploadNotFoundError } from '../errors.js';
import type { Layout } from './layout.js';
import type { S3Operations } from './operations.js';
import type { UploadState } from './upload-state.js';

/** S3's limit for one CopyObject; larger objects are copied part by part. */
const MAX_SINGLE_COPY = 5 * 1024 ** 3;
const COPY_PART = 1024 ** 3;
const COPY_CONCURRENCY = 4;

export interface OpenMultipart {
  readonly uploadId: string;
  /** ETag of part n at index n-1; grows as parts are uploaded. */
  readonly etags: string[];
  /** True when this call started it (and must abort it if the change is abandoned). */
  readonly created: boolean;
}

export class Parts {
  constructor(
    private readonly ops: S3Operations,
    private readonly layout: Layout,
  ) {}

  async open(id: string, state: UploadState): Promise<OpenMultipart> {
    if (state.multipart) return { uploadId: state.multipart.uploadId, etags: [...state.multipart.etags], created: false };
    const key = this.layout.data(id);
    const sealed = state.sealed ?? 0;
    // Sealed with its tail: the upload was committed, and takes no more bytes.
    if (sealed % state.partSize !== 0) throw new UploadNotFoundError(id);
    const uploadId = await this.ops.createMultipart(key);
    try {
      const count = sealed / state.partSize;
      const etags = await mapLimit(count, COPY_CONCURRENCY, (i) =>
        this.ops.uploadPartCopy(key, uploadId, i + 1, key, { start: i * state.partSize, end: (i + 1) * state.partSize - 1 }),
      );
      return { uploadId, etags, created: true };
    } catch (error) {
      await this.ops.abortMultipart(key, uploadId).catch(() => undefined);
      throw error;
    }
  }

  async complete(id: string, uploadId: string, etags: readonly string[]): Promise<void> {
    const parts = etags.map((etag, i) => ({ partNumber: i + 1, etag }));
    await this.ops.completeMultipart(this.layout.data(id), uploadId, parts);
  }

  async abort(id: string, uploadId: string): Promise<void> {
    await this.ops.abortMultipart(this.layout.data(id), uploadId);
  }

  /** Copies `size` bytes of `source` to `target`, atomically visible at the end. */
  async copy(source: string, target: string, size: number): Promise<void> {
    if (size <= MAX_SINGLE_COPY) return this.ops.copy(source, target);
    const uploadId = await this.ops.createMultipart(target);
    try {
      const etags = await mapLimit(Math.ceil(size / COPY_PART), COPY_CONCURRENCY, (i) =>
        this.ops.uploadPartCopy(target, uploadId, i + 1, source, { start: i * COPY_PART, end: Math.min(size, (i + 1) * COPY_PART) - 1 }),
      );
      await this.ops.completeMultipart(target, uploadId, etags.map((etag, i) => ({ partNumber: i + 1, etag })));
    } catch (error) {
      await this.ops.abortMultipart(target, uploadId).catch(() => undefined);
      throw error;
    }
  }
}

/** Runs `task(0..count-1)` with at most `limit` at once; results in index order. */
export async function mapLimit<T>(count: number, limit: number, task: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      results[index] = await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  return results;
}
