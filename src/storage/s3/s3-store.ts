/**
 * Blob storage in an S3-compatible bucket (AWS S3, Ceph radosgw, MinIO, R2…). The key layout is
 * in layout.ts, the upload state in upload-state.ts, the append path in append.ts.
 *
 * An upload session maps onto an S3 multipart upload on `uploads/<id>/data`. Committing:
 *   - a blob smaller than one part never had a multipart upload: its tail bytes are PUT straight
 *     to the content-addressed key;
 *   - a larger one: the tail becomes the last part, the multipart upload is completed into
 *     `data`, and `data` is copied server-side to the content-addressed key.
 * Either way the blob appears whole in one request (PUT and copy are atomic in S3), and two
 * commits of one digest write the same bytes. The upload stays until aborted (a retried commit
 * finds it sealed and copies again), so a crash before the registry records the blob loses nothing.
 *
 * Crash contract: `state.json` is the commit point of every change. An append uploads its parts
 * and tail object first and swaps the state last; a process killed before the swap leaves the
 * upload exactly as it was (unreferenced parts are overwritten by the next append of the same
 * offsets, unreferenced objects go with the upload). So `uploadSize` — the state's size — counts
 * every append that finished and none that did not, and is where the next append must start.
 *
 * Reading an upload back (`readUpload`, used when another replica must re-hash it) cannot read
 * the parts of an open multipart upload — S3 does not allow it — so it first completes them into
 * `data` ("sealing"); a later append re-opens a multipart upload by copying them back as parts.
 */
import { Readable } from 'node:stream';
import type { Digest } from '../../oci/digest.js';
import { BlobNotFoundError, StorageError, StorageUnavailableError, UploadNotFoundError, UploadRangeError } from '../errors.js';
import { KeyedMutex } from '../../util/keyed-mutex.js';
import { isUploadId, type BlobStore, type ByteRange, type StoredBlob, type UploadInfo } from '../blob-store.js';
import { appendChunk, readSegments, type S3Context } from './append.js';
import { S3Client, type S3ClientOptions } from './client.js';
import { describeCheckFailure } from './check.js';
import { S3ClientError } from './errors.js';
import { Layout } from './layout.js';
import { S3Operations } from './operations.js';
import { Parts } from './parts.js';
import { Spool, type SpoolFile } from './spool.js';
import { newRev, prefixEnd, UploadStates, type StoredState, type UploadState } from './upload-state.js';

export const MIN_PART_SIZE = 5 * 1024 * 1024;

export interface S3StoreOptions extends S3ClientOptions {
  readonly prefix: string;
  /** Bytes per multipart part (≥ 5 MiB, S3's minimum). */
  readonly partSize: number;
  /** Local directory for part files and cached tails. */
  readonly spoolDir: string;
  readonly spoolCacheBytes?: number;
  /** When set, GETs are answered with redirects to presigned URLs valid this many seconds. */
  readonly redirectSeconds?: number;
}

export class S3BlobStore implements BlobStore {
  readonly kind = 's3';
  private readonly ctx: S3Context;
  private readonly client: S3Client;
  private readonly locks = new KeyedMutex();

  constructor(private readonly options: S3StoreOptions) {
    if (options.partSize < MIN_PART_SIZE) throw new Error(`S3 part size must be at least ${MIN_PART_SIZE} bytes`);
    this.client = new S3Client(options);
    const ops = new S3Operations(this.client);
    const layout = new Layout(options.prefix);
    this.ctx = {
      ops,
      layout,
      states: new UploadStates(ops),
      parts: new Parts(ops, layout),
      spool: new Spool(options.spoolDir, options.spoolCacheBytes ?? 256 * 1024 * 1024),
    };
  }

  async check(): Promise<void> {
    try {
      await this.ctx.ops.probe(this.ctx.layout.blobs);
    } catch (error) {
      throw new StorageUnavailableError(describeCheckFailure(error, this.options), { cause: error });
    }
  }

  stat(digest: Digest): Promise<number | undefined> {
    return guard('stat', async () => (await this.ctx.ops.head(this.ctx.layout.blob(digest)))?.size);
  }

  read(digest: Digest, range?: ByteRange): Promise<Readable> {
    return guard('read', async () => {
      const stream = await this.ctx.ops.get(this.ctx.layout.blob(digest), range);
      if (!stream) throw new BlobNotFoundError(digest.value);
      return stream;
    });
  }

  /** A presigned URL for the blob when redirects are configured, else undefined. */
  async redirectUrl(digest: Digest): Promise<string | undefined> {
    if (!this.options.redirectSeconds) return undefined;
    return this.client.presignGet(this.ctx.layout.blob(digest), this.options.redirectSeconds);
  }

  delete(digest: Digest): Promise<boolean> {
    return guard('delete', async () => {
      const key = this.ctx.layout.blob(digest);
      if (!(await this.ctx.ops.head(key))) return false;
      await this.ctx.ops.delete(key);
      return true;
    });
  }

  async *list(): AsyncIterable<Digest> {
    for await (const object of guardIterable('list', this.ctx.ops.list(this.ctx.layout.blobs))) {
      const digest = this.ctx.layout.digestOf(object.key);
      if (digest) yield digest;
    }
  }

  async *listBlobs(): AsyncIterable<StoredBlob> {
    // LastModified is the time of the PUT, multipart completion or server-side copy that wrote the key.
    for await (const object of guardIterable('listBlobs', this.ctx.ops.list(this.ctx.layout.blobs))) {
      const digest = this.ctx.layout.digestOf(object.key);
      if (digest) yield { digest, size: object.size, lastModified: object.lastModified };
    }
  }

  async createUpload(id: string): Promise<void> {
    const key = this.ctx.layout.state(id);
    return guard('createUpload', () => this.ctx.states.create(key, this.options.partSize));
  }

  appendUpload(id: string, offset: number, body: Readable): Promise<number> {
    return this.locked(id, 'appendUpload', async () => {
      const stored = await this.stored(id);
      if (stored.state.size !== offset) throw new UploadRangeError(stored.state.size, offset);
      return appendChunk(this.ctx, id, stored, body);
    });
  }

  async uploadSize(id: string): Promise<number | undefined> {
    if (!isUploadId(id)) return undefined;
    return guard('uploadSize', async () => (await this.ctx.states.read(this.ctx.layout.state(id)))?.state.size);
  }

  readUpload(id: string): Promise<Readable> {
    return this.locked(id, 'readUpload', async () => {
      const state = await this.seal(id, await this.stored(id), false);
      return Readable.from(this.uploadBytes(id, state));
    });
  }

  commitUpload(id: string, digest: Digest): Promise<void> {
    return this.locked(id, 'commitUpload', async () => {
      const stored = await this.stored(id);
      const target = this.ctx.layout.blob(digest);
      if (prefixEnd(stored.state) === 0) {
        await this.putSmall(id, stored.state, target);
      } else {
        const state = await this.seal(id, stored, true);
        await this.ctx.parts.copy(this.ctx.layout.data(id), target, state.size);
      }
    });
  }

  async abortUpload(id: string): Promise<void> {
    if (!isUploadId(id)) return;
    await this.locked(id, 'abortUpload', () => this.remove(id));
  }

  async *listUploads(): AsyncIterable<UploadInfo> {
    const latest = new Map<string, Date>();
    for await (const object of guardIterable('listUploads', this.ctx.ops.list(this.ctx.layout.uploads))) {
      const id = this.ctx.layout.uploadIdOf(object.key);
      const seen = id && latest.get(id);
      if (id && (!seen || seen < object.lastModified)) latest.set(id, object.lastModified);
    }
    for (const [id, lastModified] of latest) yield { id, lastModified };
  }

  async close(): Promise<void> {
    await this.ctx.spool.close();
    await this.client.close();
  }

  private async stored(id: string): Promise<StoredState> {
    const stored = await this.ctx.states.read(this.ctx.layout.state(id));
    if (!stored) throw new UploadNotFoundError(id);
    return stored;
  }

  /**
   * Completes the open multipart upload into `data` (with the tail as last part when
   * `withTail`), and records that. Returns the state after it.
   */
  private async seal(id: string, stored: StoredState, withTail: boolean): Promise<UploadState> {
    const { state } = stored;
    const tail = withTail && state.tail.length > 0;
    if (!tail && !state.multipart) return state;
    const multipart = await this.ctx.parts.open(id, state);
    let etags = multipart.etags;
    if (tail) {
      const file = await this.tailFile(id, state);
      try {
        const etag = await this.ctx.ops.uploadPart(this.ctx.layout.data(id), multipart.uploadId, etags.length + 1, file.range());
        etags = [...etags, etag];
      } finally {
        await file.discard();
      }
    }
    await this.ctx.parts.complete(id, multipart.uploadId, etags);
    const sealed = tail ? state.size : prefixEnd(state);
    const next: UploadState = { v: 1, size: state.size, partSize: state.partSize, sealed, tail: tail ? [] : state.tail, rev: newRev() };
    if (!(await this.ctx.states.swap(this.ctx.layout.state(id), stored, next))) {
      throw new StorageUnavailableError('the upload changed while it was being sealed; retry');
    }
    return next;
  }

  /** A blob smaller than a part: its bytes go straight to the content-addressed key. */
  private async putSmall(id: string, state: UploadState, target: string): Promise<void> {
    const only = state.tail[0];
    if (!only) {
      await this.ctx.ops.put(target, Buffer.alloc(0));
      return;
    }
    if (state.tail.length === 1) {
      await this.ctx.ops.copy(only.key, target);
      return;
    }
    const file = await this.tailFile(id, state);
    try {
      await this.ctx.ops.put(target, file.range());
    } finally {
      await file.discard();
    }
  }

  /** The tail's bytes in a local file: the cached one, or read back from S3. */
  private async tailFile(id: string, state: UploadState): Promise<SpoolFile> {
    const start = prefixEnd(state);
    const cached = this.ctx.spool.takeTail(id, start, state.size);
    if (cached) return cached;
    const file = await this.ctx.spool.file();
    try {
      await readSegments(this.ctx.ops, state.tail, file, 0);
      return file;
    } catch (error) {
      await file.discard();
      throw error;
    }
  }

  private async *uploadBytes(id: string, state: UploadState): AsyncIterable<Buffer> {
    const keys = [...(state.sealed ? [this.ctx.layout.data(id)] : []), ...state.tail.map((s) => s.key)];
    for (const key of keys) {
      const stream = await guard('readUpload', () => this.ctx.ops.get(key));
      if (!stream) throw new StorageUnavailableError(`upload object ${key} is missing`);
      yield* stream as AsyncIterable<Buffer>;
    }
  }

  /**
   * Deletes every object of the upload (the state last) and its multipart uploads — including
   * any a killed append opened without recording it.
   */
  private async remove(id: string): Promise<void> {
    this.ctx.spool.dropTail(id);
    const prefix = this.ctx.layout.upload(id);
    for await (const upload of this.ctx.ops.listMultipart(prefix)) await this.ctx.ops.abortMultipart(upload.key, upload.uploadId);
    const keys: string[] = [];
    for await (const object of this.ctx.ops.list(prefix)) keys.push(object.key);
    const state = this.ctx.layout.state(id);
    await Promise.all(keys.filter((k) => k !== state).map((k) => this.ctx.ops.delete(k)));
    await this.ctx.ops.delete(state);
  }

  private async locked<T>(id: string, operation: string, work: () => Promise<T>): Promise<T> {
    if (!isUploadId(id)) throw new UploadNotFoundError(id); // before anything else
    return this.locks.run(id, () => guard(operation, work));
  }
}

/** S3 failures become StorageUnavailableError (503 to clients); domain errors pass through. */
async function guard<T>(operation: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toDomainError(operation, error);
  }
}

async function* guardIterable<T>(operation: string, source: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* source;
  } catch (error) {
    throw toDomainError(operation, error);
  }
}

function toDomainError(operation: string, error: unknown): unknown {
  if (error instanceof StorageError) return error;
  if (error instanceof S3ClientError) {
    return new StorageUnavailableError(`object storage failed during ${operation}: ${error.message}`, { cause: error });
  }
  return error;
}
