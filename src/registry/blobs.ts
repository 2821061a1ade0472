/**
 * Reading and deleting blobs as seen from a repository. A blob exists in a repository only when
 * linked to it (by an upload, a mount or a manifest); bytes shared across repositories are
 * stored once.
 */
import type { Readable } from 'node:stream';
import { parseDigest, type Digest } from '../oci/digest.js';
import type { Metadata } from '../metadata/stores/index.js';
import type { BlobStore, ByteRange } from '../storage/blob-store.js';
import { BlobInUseError, BlobNotFoundError, DeletesDisabledError, DigestInvalidError } from './errors.js';
import type { Repositories } from './repositories.js';
import { repositoryKey, TtlCache } from './ttl-cache.js';

/**
 * How long a blob found linked in a repository is trusted without asking the database again.
 * HEADs come in bursts (every layer of an image, every pull, every cache import), and a link
 * changes only when the blob is deleted from the repository. Local deletes evict at once; a
 * delete made through another replica shows here after at most this long. Nothing is lost
 * meanwhile: a manifest push still checks its blobs in the database, and the bytes of an
 * unlinked blob stay in storage far longer than this (garbage collection's review delay).
 */
const LINK_CACHE_TTL_MS = 5_000;
const LINK_CACHE_ENTRIES = 50_000;

export interface BlobInfo {
  readonly repository: string;
  readonly repositoryId: number;
  readonly digest: Digest;
  readonly size: number;
}

/** Told about every blob GET (e.g. to recognise BuildKit cache imports). */
export type BlobFetchListener = (blob: BlobInfo, userAgent: string | undefined) => void;

export interface BlobServiceOptions {
  /** false: every delete is refused (`DeletesDisabledError`). */
  readonly deletes: boolean;
}

export class BlobService {
  private readonly fetchListeners: BlobFetchListener[] = [];
  /** Size of each blob recently found linked, by repository id and digest. */
  private readonly linked = new TtlCache<string, number>({ ttlMs: LINK_CACHE_TTL_MS, maxEntries: LINK_CACHE_ENTRIES });

  constructor(
    private readonly metadata: Metadata,
    private readonly storage: BlobStore,
    private readonly repositories: Repositories,
    private readonly options: BlobServiceOptions = { deletes: true },
  ) {}

  /** Size of a blob in the repository; answered from metadata alone (no storage round trip). */
  async stat(name: string, digestText: string): Promise<BlobInfo> {
    const digest = requireDigest(digestText);
    const repositoryId = await this.repositories.find(name);
    const size = repositoryId === undefined ? undefined : await this.linkedSize(repositoryId, digest.value);
    if (size === undefined || repositoryId === undefined) throw new BlobNotFoundError(digest.value);
    return { repository: name, repositoryId, digest, size };
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
    const size = await this.linkedSize(repositoryId, digest.value);
    if (size === undefined || size > limit) return undefined;
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

  /**
   * Unlinks the blob from the repository; the bytes go when garbage collection finds them unused.
   * Refused while a manifest of the repository references the blob (`BlobInUseError`): the image
   * would still be listed but could no longer be pulled. Delete the manifest first.
   */
  async delete(name: string, digestText: string): Promise<void> {
    if (!this.options.deletes) throw new DeletesDisabledError('blob');
    const digest = requireDigest(digestText);
    const repositoryId = await this.repositories.find(name);
    if (repositoryId === undefined) throw new BlobNotFoundError(digest.value);
    const outcome = await this.metadata.stores.blobs.unlinkUnreferenced(repositoryId, digest.value);
    if (outcome.kind === 'referenced') throw new BlobInUseError(digest.value, outcome);
    this.linked.delete(repositoryKey(repositoryId, digest.value));
    if (outcome.kind === 'absent') throw new BlobNotFoundError(digest.value);
  }

  private async linkedSize(repositoryId: number, digest: string): Promise<number | undefined> {
    const key = repositoryKey(repositoryId, digest);
    const cached = this.linked.get(key);
    if (cached !== undefined) return cached;
    const row = await this.metadata.stores.blobs.findInRepository(repositoryId, digest);
    if (row) this.linked.set(key, row.size);
    return row?.size;
  }
}

export function requireDigest(text: string): Digest {
  const parsed = parseDigest(text);
  if (parsed.ok) return parsed.digest;
  throw new DigestInvalidError(parsed.message, { digest: text.slice(0, 300) });
}
