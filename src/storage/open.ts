/**
 * The configured blob store, opened: shared by the server, `cairn gc`/`retention` and the build
 * workers (which open the same store as the server for blob bytes, src/build/worker).
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { CairnConfig } from '../config/config.js';
import type { BlobStore } from './blob-store.js';
import { FilesystemBlobStore } from './filesystem/filesystem-store.js';

export async function createStorage(config: Pick<CairnConfig, 'storage' | 'dataDir'>, logger: Pick<Logger, 'warn'>): Promise<BlobStore> {
  const storage = config.storage;
  if (storage.kind === 'filesystem') return new FilesystemBlobStore(join(config.dataDir, 'blobs'));
  // Loaded only when configured: the S3 backend and its signer are not needed on a filesystem.
  const { S3BlobStore } = await import('./s3/s3-store.js');
  return new S3BlobStore({
    endpoint: storage.endpoint,
    bucket: storage.bucket,
    region: storage.region,
    prefix: storage.prefix,
    forcePathStyle: storage.forcePathStyle,
    credentials: {
      accessKeyId: storage.accessKeyId,
      secretAccessKey: storage.secretAccessKey,
      ...(storage.sessionToken ? { sessionToken: storage.sessionToken } : {}),
    },
    partSize: storage.partSize,
    maxAttempts: storage.maxAttempts,
    spoolDir: join(config.dataDir, 's3-spool'),
    ...(storage.redirectSeconds > 0 ? { redirectSeconds: storage.redirectSeconds } : {}),
    onRetry: (info) => logger.warn(info, 'retrying S3 request'),
  });
}
