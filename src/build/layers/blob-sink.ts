/**
 * BlobSink and BlobSource over the registry's BlobStore (filesystem or S3): a layer is appended to
 * a fresh upload in one streaming append, hashed on the way, and committed under its digest. The
 * caller records it in the database afterwards (BuildHost.linkBlob); a crash in between leaves
 * bytes no row names, which the garbage collector's sweep removes.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { digestFromHex, newHasher, parseDigest } from '../../oci/digest.js';
import { DigestingStream } from '../../registry/digesting-stream.js';
import { BlobNotFoundError } from '../../storage/errors.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { BlobSink, BlobSource } from './layers.js';

export class BlobStoreSink implements BlobSink {
  constructor(private readonly store: BlobStore) {}

  async write(stream: Readable, _mediaType: string): Promise<{ digest: string; size: number }> {
    const id = randomUUID();
    await this.store.createUpload(id);
    try {
      const hash = newHasher('sha256');
      const digesting = new DigestingStream(hash);
      stream.on('error', (error) => digesting.destroy(error));
      await this.store.appendUpload(id, 0, stream.pipe(digesting));
      const digest = digestFromHex('sha256', hash.digest('hex'));
      await this.store.commitUpload(id, digest);
      return { digest: digest.value, size: digesting.bytes };
    } finally {
      await this.store.abortUpload(id);
    }
  }
}

export class BlobStoreSource implements BlobSource {
  constructor(private readonly store: BlobStore) {}

  async read(digest: string): Promise<Readable> {
    const parsed = parseDigest(digest);
    if (!parsed.ok) throw new BlobNotFoundError(digest);
    return this.store.read(parsed.digest);
  }
}
