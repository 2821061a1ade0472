/**
 * `cairn worker`: build workers without a server, for machines that share the registry's
 * PostgreSQL and blob store. The BuildHost and the queue are the registry's services used
 * directly (no HTTP, no IPC). Loaded only for this command.
 */
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { createLogger, createStorage, databaseConnection, startCacheAwareness } from '../app.js';
import { DirectBuildQueue } from '../build/queue.js';
import { RegistryBuildHost } from '../build/registry-host.js';
import { buildPullPermission } from '../auth/index.js';
import { loadEngine } from '../build/worker/run-job.js';
import { BuildWorker } from '../build/worker/worker.js';
import { DRAIN_MS } from '../build/worker/supervisor.js';
import { ConfigError, type CairnConfig } from '../config/config.js';
import { openDatabase } from '../metadata/database.js';
import { migrate } from '../metadata/migrate.js';
import { Metadata } from '../metadata/stores/index.js';
import { createRegistry } from '../registry/index.js';

export async function runWorkers(config: CairnConfig): Promise<void> {
  if (!config.databaseUrl) {
    throw new ConfigError('cairn worker needs PostgreSQL (DATABASE_URL or --database-url); on the embedded database, cairn serve runs the build workers (--build-workers N)');
  }
  if (config.buildWorkers < 1) throw new ConfigError('--build-workers must be at least 1 for cairn worker');
  const logger = createLogger(config.logLevel);
  const database = await openDatabase(databaseConnection(config));
  await migrate(database);
  const metadata = new Metadata(database.db);
  const storage = await createStorage(config, logger);
  const registry = createRegistry(metadata, storage, { automaticMount: config.automaticMount, deletes: config.deletes });
  const engine = await loadEngine();
  // Manifests the builds put are indexed as caches and steered by tag policies, as on a server.
  const { Metrics } = await import('../metrics.js');
  const caches = await startCacheAwareness(metadata, registry, new Metrics(), logger, config.cacheMergePatterns);
  const host = new RegistryBuildHost({ metadata, registry, storage, caches: caches.service, pulls: buildPullPermission(metadata) });
  const queue = new DirectBuildQueue(metadata);
  const workDir = join(config.dataDir, 'worker');
  await mkdir(workDir, { recursive: true });
  const workers = Array.from({ length: config.buildWorkers }, () => {
    const id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    return new BuildWorker({ id, host: hostname(), pid: process.pid }, queue, engine, { host, store: storage, workDir }, logger);
  });
  for (const worker of workers) worker.start();
  logger.info({ workers: workers.length, workDir }, 'build workers ready');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  logger.info('draining build workers');
  await Promise.all(workers.map((w) => w.drain(DRAIN_MS)));
  await registry.pulls.stop().catch(() => undefined);
  await caches.imports.stop().catch(() => undefined);
  await caches.layerUsage.stop().catch(() => undefined);
  await metadata.destroy();
  await storage.close?.();
}
