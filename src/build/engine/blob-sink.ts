/**
 * A BlobSink over the registry's BlobStore: the bytes go into an upload of the same store the
 * registry serves from, hashed while written, and are committed under their digest. Linking the
 * blob to a repository is the BuildHost's (`linkBlob`), once the bytes are there.
 */
import { createHash, randomUUID } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseDigest } from '../../oci/digest.js';
import type { BlobStore } from '../../storage/blob-store.js';
import type { BlobSink } from '../layers/layers.js';

export function blobStoreSink(store: BlobStore): BlobSink {
  return {
    async write(stream: Readable): Promise<{ digest: string; size: number }> {
      const id = randomUUID();
      await store.createUpload(id);
      try {
        const hash = createHash('sha256');
        const hashing = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            hash.update(chunk);
            done(null, chunk);
          },
        });
        const piping = pipeline(stream, hashing);
        const size = await store.appendUpload(id, 0, hashing);
        await piping;
        const parsed = parseDigest(`sha256:${hash.digest('hex')}`);
        if (!parsed.ok) throw new Error(parsed.message);
        await store.commitUpload(id, parsed.digest);
        return { digest: parsed.digest.value, size };
      } finally {
        await store.abortUpload(id).catch(() => undefined);
      }
    },
  };
}
