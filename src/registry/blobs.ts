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
  readonly digest: Digest;
  readonly size: number;
}

export class BlobService {
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
    if (!row) throw new BlobNotFoundError(digest.value);
    return { digest, size: row.size };
  }

  async open(blob: BlobInfo, range?: ByteRange): Promise<Readable> {
    return this.storage.read(blob.digest, range);
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
