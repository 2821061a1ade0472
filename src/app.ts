/**
 * The composition root: the only place that creates concrete stores and services and wires them
 * into the HTTP server. Everything else receives what it uses.
 */
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { describeConfig, type CairnConfig } from './config/config.js';
import { buildServer, type CairnServer } from './http/server.js';
import { openDatabase } from './metadata/database.js';
import { migrate } from './metadata/migrate.js';
import { Metadata } from './metadata/stores/index.js';
import { createRegistry, type Registry } from './registry/index.js';
import { FilesystemBlobStore } from './storage/filesystem/filesystem-store.js';

const PULL_FLUSH_MS = 5_000;
const UPLOAD_SWEEP_MS = 15 * 60_000;

export interface App {
  readonly server: CairnServer;
  readonly registry: Registry;
  /** Starts listening; resolves with the base URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export function createLogger(level: string): Logger {
  return pino({
    level,
    // Defence in depth: even if a header object is logged by mistake, credentials are not.
    redact: ['req.headers.authorization', 'headers.authorization', 'password', 'token', 'databaseUrl'],
  });
}

export async function createApp(config: CairnConfig, logger: Logger = createLogger(config.logLevel)): Promise<App> {
  logger.info({ config: describeConfig(config) }, 'starting');
  const database = await openDatabase(
    config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'pglite', dataDir: join(config.dataDir, 'pglite') },
  );
  const { applied } = await migrate(database);
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');
  const metadata = new Metadata(database.db);
  const storage = new FilesystemBlobStore(join(config.dataDir, 'blobs'));
  await storage.check();
  const registry = createRegistry(metadata, storage);
  registry.pulls.start(PULL_FLUSH_MS);

  const server = await buildServer({
    registry,
    logger,
    maxManifestBytes: config.maxManifestBytes,
    ready: async () => {
      await metadata.stores.repositories.listNames(1);
      await storage.check();
    },
  });

  const sweep = setInterval(() => {
    registry.uploads
      .expire(new Date(), config.uploadExpiryMs)
      .then((n) => n > 0 && logger.info({ expired: n }, 'expired stale uploads'))
      .catch((err: unknown) => logger.warn({ err }, 'upload expiry failed'));
  }, UPLOAD_SWEEP_MS);
  sweep.unref();

  return {
    server,
    registry,
    async listen() {
      const url = await server.listen({ host: config.listen.host, port: config.listen.port });
      logger.info({ url }, 'listening');
      return url;
    },
    async close() {
      clearInterval(sweep);
      await server.close();
      await registry.pulls.stop();
      await metadata.destroy();
    },
  };
}
