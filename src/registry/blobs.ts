/**
 * Reading and deleting blobs as seen from a repository. A blob exists in a repository only when
 * linked to it (by an upload, a mount or a manifest); bytes shared across repositories are
 * stored once.
 */
import type { Readable } from 'node:stream';
import { parseDigest, type Digest } from '../oci/digest.js';
import type { Metadata } from '../metadata/stores/index.js';
import type { BlobStore, ByteRange } from '../storage/blob-store.js';
import { BlobNotFoundError, DigestInvalidError } from './errors.js';
import type { Repositories } from './repositories.js';

export interface BlobInfo {
  readonly repository: string;
  readonly repositoryId: number;
  readonly digest: Digest;
  readonly size: number;
}

/** Told about every blob GET (e.g. to recognise BuildKit cache imports). */
export type BlobFetchListener = (blob: BlobInfo, userAgent: string | undefined) => void;

export class BlobService {
  private readonly fetchListeners: BlobFetchListener[] = [];

  constructor(
    private readonly metadata: Metadata,
    private readonly storage: BlobStore,
    private readonly repositories: Repositories,
  ) {}

  /** Size of a blob in the repository; answered from metadata alone (no storage round trip). */
  async stat(name: string, digestText: string): Promise<BlobInfo> {
    const digest = requireDigest(digestText);
    const repositoryId = await this.repositories.find(name);
    const row =
      repositoryId === undefined ? undefined : await this.metadata.stores.blobs.findInRepository(repositoryId, digest.value);
    if (!row || repositoryId === undefined) throw new BlobNotFoundError(digest.value);
    return { repository: name, repositoryId, digest, size: row.size };
  }

  onFetch(listener: BlobFetchListener): void {
    this.fetchListeners.push(listener);
  }

  async open(blob: BlobInfo, range?: ByteRange, userAgent?: string): Promise<Readable> {
    const stream = await this.storage.read(blob.digest, range);
    // A read of the rest of a blob (a resumed download) is not another fetch.
    if (!range || range.start === 0) for (const listener of this.fetchListeners) listener(blob, userAgent);
    return stream;
  }

  /**
   * The whole content of a small blob in the repository (a config or cacheconfig), or undefined
   * when it is absent or larger than `limit` — never a large layer into memory.
   */
  async readSmall(repositoryId: number, digestText: string, limit: number): Promise<Buffer | undefined> {
    const digest = requireDigest(digestText);
    const row = await this.metadata.stores.blobs.findInRepository(repositoryId, digest.value);
    if (!row || row.size > limit) return undefined;
    const chunks: Buffer[] = [];
    for await (const chunk of await this.storage.read(digest)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** Where the client may fetch the blob directly instead (a presigned URL), if the storage offers it. */
  async redirectUrl(blob: BlobInfo, userAgent?: string): Promise<string | undefined> {
    const url = await this.storage.redirectUrl?.(blob.digest);
    // A redirected fetch is still a fetch: listeners (pull statistics) hear of it as of `open`.
    if (url) for (const listener of this.fetchListeners) listener(blob, userAgent);
    return url;
  }

  /** Unlinks the blob from the repository; the bytes go when garbage collection finds them unused. */
  async delete(name: string, digestText: string): Promise<void> {
    const digest = requireDigest(digestText);
    const repositoryId = await this.repositories.find(name);
    const removed = repositoryId !== undefined && (await this.metadata.stores.blobs.unlink(repositoryId, digest.value));
    if (!removed) throw new BlobNotFoundError(digest.value);
  }
}

export function requireDigest(text: string): Digest {
  const parsed = parseDigest(text);
  if (parsed.ok) return parsed.digest;
  throw new DigestInvalidError(parsed.message, { digest: text.slice(0, 300) });
}
