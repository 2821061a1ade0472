/**
 * The registry's services in-process for build engine tests: a fresh metadata database (PGlite or
 * PostgreSQL), a filesystem blob store, cache indexing and tag policies wired as `cairn serve`
 * wires them (src/app.ts), and the RegistryBuildHost over them. No HTTP: the engine is a client
 * of the services.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import pino from 'pino';
import { startCacheAwareness } from '../../src/app.js';
import { BlobStoreSink } from '../../src/build/layers/blob-sink.js';
import type { Layer } from '../../src/build/engine/image.js';
import { buildPullPermission } from '../../src/auth/index.js';
import { RegistryBuildHost } from '../../src/build/registry-host.js';
import type { CacheService } from '../../src/cache/service.js';
import { Metrics } from '../../src/metrics.js';
import { createRegistry, type Registry } from '../../src/registry/index.js';
import { FilesystemBlobStore } from '../../src/storage/filesystem/filesystem-store.js';
import { openTestDatabase, type TestMetadataDatabase } from '../support/databases.js';
import type { TestDatabase } from '../support/registry.js';

export interface BuildServices {
  readonly db: TestMetadataDatabase;
  readonly registry: Registry;
  readonly storage: FilesystemBlobStore;
  readonly caches: CacheService;
  readonly host: RegistryBuildHost;
  readonly dataDir: string;
  close(): Promise<void>;
}

export async function openBuildServices(kind: TestDatabase): Promise<BuildServices> {
  const dataDir = await mkdtemp(join(tmpdir(), 'cairn-engine-'));
  const db = await openTestDatabase(kind);
  const storage = new FilesystemBlobStore(join(dataDir, 'blobs'));
  await storage.check();
  const registry = createRegistry(db.metadata, storage, { automaticMount: true });
  const logger = pino({ level: 'silent' });
  const awareness = await startCacheAwareness(db.metadata, registry, new Metrics(), logger, []);
  const host = new RegistryBuildHost({ metadata: db.metadata, registry, storage, caches: awareness.service, pulls: buildPullPermission(db.metadata) });
  return {
    db,
    registry,
    storage,
    caches: awareness.service,
    host,
    dataDir,
    async close() {
      await awareness.imports.stop();
      await awareness.layerUsage.stop();
      await registry.pulls.stop();
      await db.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A layer-like blob of random bytes, stored and linked in `repository` (diffId made up: not gzip). */
export async function storeLayer(services: BuildServices, repository: string, createdAt = new Date().toISOString()): Promise<Layer> {
  const bytes = randomBytes(64 + Math.floor(Math.random() * 64));
  const { digest, size } = await new BlobStoreSink(services.storage).write(Readable.from([bytes]), 'application/vnd.oci.image.layer.v1.tar+gzip');
  await services.host.linkBlob(repository, digest, size);
  const diffId = `sha256:${randomBytes(32).toString('hex')}`;
  return { digest, size, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', diffId, createdAt };
}
