/**
 * Blob upload sessions: start, append chunks, finish with a digest, cancel, mount.
 *
 * Where an upload stands: its length in blob storage (`BlobStore.uploadSize`), and nothing else.
 * Storage commits each chunk atomically, also across a crash (see blob-store.ts), so the offset
 * a status request reports is exactly where the next chunk must start, and it counts every byte
 * acknowledged with a 202. The session row in the database says who owns the upload (its
 * repository) and when it was last touched; its `size` is informational and may lag by the one
 * chunk a crash interrupted between storage and database.
 *
 * Hash continuation: a session's digest is computed while its bytes stream to storage. The
 * running hash of each session lives in this process (`RunningHashes`); when a chunk arrives at
 * a process that does not hold it (after a restart, or at another replica) the hash is rebuilt
 * by reading the bytes stored so far — one extra read of the upload, paid only on that hand-over.
 * That is all the recovery a restart needs: it happens per upload, when the upload is next used.
 *
 * Finishing: bytes are published as the blob first, recorded in the database second, and the
 * upload's bytes removed last. A crash anywhere in between leaves the session and its bytes in
 * place, so the client's retried PUT completes it (the blob is found already published).
 */
import type { Hash } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { pipeline, type Readable } from 'node:stream';
import { digestFromHex, newHasher, type Digest } from '../oci/digest.js';
import type { Metadata } from '../metadata/stores/index.js';
import { isUploadId, type BlobStore } from '../storage/blob-store.js';
import { requireDigest } from './blobs.js';
import { DigestingStream } from './digesting-stream.js';
import { DigestMismatchError, UploadNotFoundError, UploadRangeError } from './errors.js';
import { isValidRepositoryName } from '../oci/name.js';
import type { Repositories } from './repositories.js';
import { KeyedMutex } from '../util/keyed-mutex.js';

export interface UploadState {
  readonly id: string;
  /** Bytes received so far. */
  readonly size: number;
}

export interface ChunkOptions {
  /** Declared Content-Length of the body, when the client sent one. */
  readonly contentLength?: number;
  /** Start offset from Content-Range, when the client sent one. */
  readonly rangeStart?: number;
}

export interface UploadOptions {
  /** `POST ?mount=` without `from` mounts from any repository the caller may pull (spec: MAY). */
  readonly automaticMount: boolean;
}

/**
 * How many repositories holding a blob an automatic mount looks at (newest links first) for one
 * the caller may pull; past that it falls back to an upload, which is always correct.
 */
const AUTOMATIC_MOUNT_CANDIDATES = 50;


export class UploadService {
  private readonly hashes = new RunningHashes();
  private readonly locks = new KeyedMutex();

  constructor(
    private readonly metadata: Metadata,
    private readonly storage: BlobStore,
    private readonly repositories: Repositories,
    private readonly options: UploadOptions = { automaticMount: true },
  ) {}

  async start(name: string): Promise<UploadState> {
    const repositoryId = await this.repositories.findOrCreate(name);
    const id = randomUUID();
    await this.storage.createUpload(id);
    await this.metadata.stores.uploads.create(id, repositoryId);
    return { id, size: 0 };
  }

  async status(name: string, id: string): Promise<UploadState> {
    await this.session(name, id);
    return { id, size: await this.length(id) };
  }

  /** Appends one chunk. A chunk must start exactly where the upload ends. */
  async append(name: string, id: string, body: Readable, options: ChunkOptions): Promise<UploadState> {
    return this.locks.run(id, async () => {
      await this.session(name, id);
      return this.appendLocked(id, await this.length(id), body, options);
    });
  }

  /**
   * Finishes the upload: appends the final chunk if any, verifies `digest` and publishes the
   * blob. On a mismatch the whole upload is discarded and nothing is stored.
   */
  async complete(name: string, id: string, digestText: string, body: Readable | undefined, options: ChunkOptions): Promise<Digest> {
    const expected = requireDigest(digestText);
    return this.locks.run(id, async () => {
      const session = await this.session(name, id);
      const length = await this.length(id);
      const size = body ? (await this.appendLocked(id, length, body, options)).size : length;
      await this.publish(session.repository_id, id, expected, size);
      return expected;
    });
  }

  /**
   * Monolithic upload (`POST ?digest=`): the bytes go to a fresh upload and are published in the
   * same request. No session row: nobody else can learn the id, so there is nothing to resume.
   * (Bytes left behind by a crash are swept by `expire` like any upload nobody owns.)
   */
  async uploadWhole(name: string, digestText: string, body: Readable, options: ChunkOptions): Promise<Digest> {
    const expected = requireDigest(digestText);
    const repositoryId = await this.repositories.findOrCreate(name);
    const id = randomUUID();
    await this.storage.createUpload(id);
    try {
      const size = await this.write(id, 0, body, options);
      await this.publish(repositoryId, id, expected, size);
      return expected;
    } catch (error) {
      await this.discard(id);
      throw error;
    }
  }

  async cancel(name: string, id: string): Promise<void> {
    await this.session(name, id);
    await this.discard(id);
  }

  /**
   * Cross-repository mount: links `digest` into `name` from `from`, or — with no `from`, when
   * automatic mounts are on — from any repository that has it. Only repositories the caller may
   * pull are sources, so a mount never reveals a blob the caller could not read. Returns false
   * when there is no such source (the caller then starts an ordinary upload, as the spec asks).
   */
  async mount(name: string, digestText: string, from: string | undefined, mayPull: (repository: string) => Promise<boolean>): Promise<boolean> {
    const digest = requireDigest(digestText);
    const sourceId = from === undefined ? await this.anySource(digest.value, mayPull) : await this.namedSource(from, digest.value, mayPull);
    if (sourceId === undefined) return false;
    const targetId = await this.repositories.findOrCreate(name);
    // Linking refreshes the link's time even in the source repository: a mount announces a push
    // about to reference the blob. False: garbage collection took the blob meanwhile.
    return this.metadata.stores.blobs.link(targetId, digest.value);
  }

  private async namedSource(from: string, digest: string, mayPull: (repository: string) => Promise<boolean>): Promise<number | undefined> {
    if (!isValidRepositoryName(from) || !(await mayPull(from))) return undefined;
    const sourceId = await this.repositories.find(from);
    if (sourceId === undefined) return undefined;
    return (await this.metadata.stores.blobs.findInRepository(sourceId, digest)) ? sourceId : undefined;
  }

  private async anySource(digest: string, mayPull: (repository: string) => Promise<boolean>): Promise<number | undefined> {
    if (!this.options.automaticMount) return undefined;
    for (const candidate of await this.metadata.stores.blobs.repositoriesLinking(digest, AUTOMATIC_MOUNT_CANDIDATES)) {
      // The target counts only if the caller may pull it too: a push-only robot learns nothing.
      if (await mayPull(candidate.name)) return candidate.id;
    }
    return undefined;
  }

  /** Discards sessions untouched for `maxAge` ms, and upload data no session owns. */
  async expire(now: Date, maxAgeMs: number): Promise<number> {
    const before = new Date(now.getTime() - maxAgeMs);
    const stale = await this.metadata.stores.uploads.listStale(before, 1000);
    for (const session of stale) await this.discard(session.id);
    let orphans = 0;
    for await (const upload of this.storage.listUploads()) {
      if (upload.lastModified >= before) continue;
      if (await this.metadata.stores.uploads.find(upload.id)) continue;
      await this.storage.abortUpload(upload.id);
      orphans++;
    }
    return stale.length + orphans;
  }

  private async appendLocked(id: string, offset: number, body: Readable, options: ChunkOptions): Promise<UploadState> {
    if (options.rangeStart !== undefined && options.rangeStart !== offset) {
      body.resume(); // drain so the connection can be reused
      throw new UploadRangeError(offset, options.rangeStart);
    }
    const size = await this.write(id, offset, body, options);
    await this.metadata.stores.uploads.touch(id, size);
    return { id, size };
  }

  /** Appends the body to the upload's bytes, hashing them on the way; returns the new size. */
  private async write(id: string, offset: number, body: Readable, options: ChunkOptions): Promise<number> {
    const hash = (await this.hashAt(id, offset)).copy();
    // pipeline (not pipe) so that a client that goes away mid-body fails the chunk.
    const digesting = pipeline(body, new DigestingStream(hash, options.contentLength), () => undefined);
    let written: number;
    try {
      written = await this.storage.appendUpload(id, offset, digesting);
    } catch (error) {
      // Storage failed (S3 unreachable…) perhaps before reading the body: drain the rest so the
      // client, still sending, gets the error response rather than a reset connection.
      digesting.resume();
      throw error;
    }
    const size = offset + written;
    this.hashes.set(id, size, hash);
    return size;
  }

  /**
   * Verifies the digest of the upload's `size` bytes and publishes them as the blob. On a
   * mismatch the upload is discarded and nothing is stored.
   */
  private async publish(repositoryId: number, id: string, expected: Digest, size: number): Promise<void> {
    const actual = await this.digestOf(id, size, expected.algorithm);
    if (actual.value !== expected.value) {
      await this.discard(id);
      throw new DigestMismatchError(expected.value, actual.value);
    }
    // Bytes first, metadata second: the database never points at missing bytes. The upload
    // goes last, so that until the blob is recorded a crash leaves everything for a retry.
    if ((await this.storage.stat(expected)) !== size) {
      // New content. Until its row exists only the sweep could delete it, and the sweep spares
      // bytes younger than the review delay.
      await this.storage.commitUpload(id, expected);
      await this.metadata.stores.uploads.finish(id, repositoryId, expected.value, size);
    } else {
      // Content already stored, perhaps unreferenced and being collected right now: record it
      // while holding it against the collector, and put our own bytes in if it took the stored
      // ones meanwhile (the argument is at the top of src/gc/index.ts).
      await this.metadata.transaction(async (stores) => {
        await stores.gc.holdBlobForLink(expected.value);
        if ((await this.storage.stat(expected)) !== size) await this.storage.commitUpload(id, expected);
        await stores.uploads.finish(id, repositoryId, expected.value, size);
      });
    }
    this.hashes.delete(id);
    // Failing here loses nothing: the blob is published and recorded, and the expiry sweep
    // removes upload bytes that no session owns.
    await this.storage.abortUpload(id).catch(() => undefined);
  }

  private async digestOf(id: string, size: number, algorithm: Digest['algorithm']): Promise<Digest> {
    const hash = algorithm === 'sha256' ? (await this.hashAt(id, size)).copy() : await this.rehash(id, algorithm);
    return digestFromHex(algorithm, hash.digest('hex'));
  }

  /** The sha256 state after `offset` bytes: from memory, else rebuilt from storage. */
  private async hashAt(id: string, offset: number): Promise<Hash> {
    if (offset === 0) return newHasher('sha256'); // nothing to read back
    const known = this.hashes.get(id, offset);
    if (known) return known;
    const hash = await this.rehash(id, 'sha256');
    this.hashes.set(id, offset, hash);
    return hash;
  }

  private async rehash(id: string, algorithm: Digest['algorithm']): Promise<Hash> {
    const hash = newHasher(algorithm);
    for await (const chunk of await this.storage.readUpload(id)) hash.update(chunk as Buffer);
    return hash;
  }

  /** The upload's length in storage: the one authority on where it stands. */
  private async length(id: string): Promise<number> {
    const size = await this.storage.uploadSize(id);
    if (size === undefined) throw new UploadNotFoundError(id);
    return size;
  }

  private async session(name: string, id: string) {
    const repositoryId = await this.repositories.find(name);
    const session = isUploadId(id) ? await this.metadata.stores.uploads.find(id) : undefined;
    if (!session || session.repository_id !== repositoryId) throw new UploadNotFoundError(id);
    return session;
  }

  private async discard(id: string): Promise<void> {
    this.hashes.delete(id);
    await this.storage.abortUpload(id);
    await this.metadata.stores.uploads.delete(id);
  }
}

/** Running hashes of the uploads this process has seen, each valid at one offset. */
class RunningHashes {
  private readonly byId = new Map<string, { offset: number; hash: Hash }>();

  get(id: string, offset: number): Hash | undefined {
    const entry = this.byId.get(id);
    return entry && entry.offset === offset ? entry.hash : undefined;
  }

  set(id: string, offset: number, hash: Hash): void {
    this.byId.set(id, { offset, hash });
  }

  delete(id: string): void {
    this.byId.delete(id);
  }
}
