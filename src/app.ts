/**
 * The composition root: the only place that creates concrete stores and services and wires them
 * into the HTTP server. Everything else receives what it uses.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Server as TlsServer } from 'node:tls';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { AccessControl } from './auth/access-control.js';
import { createAccessControl } from './auth/index.js';
import { ensureAdminChange } from './auth/accounts.js';
import { CacheMounts } from './build/engine/cache-mounts.js';
import { CacheImports } from './cache/imports.js';
import { CacheIndexer } from './cache/indexer.js';
import { CacheLayerUsage } from './cache/layer-usage.js';
import { CacheService } from './cache/service.js';
import { CacheTagPolicy } from './cache/tag-policy.js';
import { ConfigError, describeConfig, type CairnConfig } from './config/config.js';
import { GarbageCollector } from './gc/index.js';
import type { Metrics } from './metrics.js';
import type { CairnServer } from './http/server.js';
import { KeyPairInvalid, readKeyPair, type KeyPair, type KeyPairFiles } from './http/tls/key-pair.js';
import { watchKeyPair, type KeyPairReloader } from './http/tls/reloader.js';
import { openDatabase, type MetadataConnection } from './metadata/database.js';
import { migrate } from './metadata/migrate.js';
import { keepStatistics } from './metadata/statistics.js';
import { SYSTEM } from './metadata/stores/audit.js';
import { Metadata } from './metadata/stores/index.js';
import { createRegistry, type Registry } from './registry/index.js';
import type { BlobStore } from './storage/blob-store.js';
import { createStorage } from './storage/open.js';
import { InstrumentedBlobStore } from './storage/instrumented-store.js';
import { BranchLifecycle } from './retention/branches.js';
import { RetentionMetrics } from './retention/metrics.js';
import { RetentionScheduler } from './retention/scheduler.js';
import { RetentionService } from './retention/service.js';
import { BuildService } from './build/service.js';
import { findRunc } from './build/worker/runc.js';

export { createStorage };

const PULL_FLUSH_MS = 5_000;
const UPLOAD_SWEEP_MS = 15 * 60_000;
/** How often the embedded database looks for tables grown enough to analyze again. */
const STATISTICS_MS = 60_000;
const CACHE_DIGESTS_REFRESH_MS = 30_000;
/** How often each replica looks for due retention policies (one cheap indexed query). */
const RETENTION_TICK_MS = 5_000;

export interface App {
  readonly server: CairnServer;
  readonly registry: Registry;
  /** Starts listening; resolves with the base URL. */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/** Wires the BuildKit cache index into the registry: indexing on push, imports on blob GET. */
export async function startCacheAwareness(metadata: Metadata, registry: Registry, metrics: Metrics, logger: Logger, mergePatterns: readonly string[]) {
  const imports = new CacheImports(metadata, metrics);
  await imports.start(PULL_FLUSH_MS, CACHE_DIGESTS_REFRESH_MS);
  const indexer = new CacheIndexer(metadata, registry.blobs, metrics, logger, (id, digest) => imports.remember(id, digest));
  registry.manifests.onPush(indexer.onPush);
  registry.blobs.onFetch((blob, userAgent) => imports.fetched(blob.repository, blob.repositoryId, blob.digest.value, userAgent));
  const layerUsage = new CacheLayerUsage(metadata);
  layerUsage.start(PULL_FLUSH_MS);
  registry.blobs.onFetch((blob) => layerUsage.fetched(blob.repositoryId, blob.digest.value));
  const service = new CacheService(metadata);
  const { blobs, uploads, manifests } = registry;
  registry.manifests.setTagPolicy(new CacheTagPolicy({ metadata, blobs, uploads, manifests, caches: service, metrics, logger, mergePatterns }));
  return { imports, layerUsage, service };
}

/**
 * The first admin comes from CAIRN_ADMIN_PASSWORD. Without any admin Cairn is an open registry,
 * which is fine on a laptop's loopback address and refused anywhere else unless the operator
 * explicitly accepts it.
 */
async function applySafeDefaults(config: CairnConfig, access: AccessControl, logger: Logger): Promise<void> {
  if (config.auth.adminPassword) {
    const outcome = await access.accounts.ensureAdmin('admin', config.auth.adminPassword);
    logger.info({ outcome }, outcome === 'created' ? 'admin user created' : 'admin password reset');
    const change = ensureAdminChange(outcome);
    await access.audit(SYSTEM, change.action, null, { ...change.details, from: 'CAIRN_ADMIN_PASSWORD' }, 'admin');
  }
  if (await access.isEnforced()) return;
  if (isLoopbackHost(config.listen.host)) {
    logger.warn('no admin configured: open registry on a loopback address (set CAIRN_ADMIN_PASSWORD to enforce authentication)');
    return;
  }
  if (!config.auth.allowOpen) {
    throw new ConfigError(
      `refusing to serve an open registry on ${config.listen.host}: set CAIRN_ADMIN_PASSWORD (or run \`cairn admin create\`), or pass --allow-open to accept an open registry`,
    );
  }
  logger.warn({ host: config.listen.host }, 'no admin configured: OPEN registry on a non-loopback address (--allow-open)');
}

/** Retention over the registry's services: the same for the server and for `cairn retention`. */
export function createRetention(metadata: Metadata, registry: Registry, metrics: Metrics, logger: Logger, config: CairnConfig) {
  const retention = new RetentionService({
    metadata,
    manifests: registry.manifests,
    blobs: registry.blobs,
    uploads: registry.uploads,
    repositories: registry.repositories,
    metrics: new RetentionMetrics(metrics.registry),
    logger,
    owner: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
  });
  const branches = new BranchLifecycle({
    metadata,
    repositories: registry.repositories,
    secrets: { ...(config.webhooks.githubSecret ? { github: config.webhooks.githubSecret } : {}), ...(config.webhooks.gitlabToken ? { gitlab: config.webhooks.gitlabToken } : {}) },
    logger,
  });
  return { retention, branches };
}

/**
 * Everything `cairn retention` needs, in-process (no HTTP): the database, the registry services
 * (deletes go through them, so the GC triggers fire), retention, and the cache indexer (a cache
 * the pruning rule rewrites is indexed as a push is). The only blobs read are the cacheconfigs of
 * caches to rewrite.
 */
export async function openRetention(config: CairnConfig, logger: Logger): Promise<{ retention: RetentionService; close(): Promise<void> }> {
  const database = await openDatabase(databaseConnection(config));
  await migrate(database);
  const metadata = new Metadata(database.db);
  const storage = await createStorage(config, logger);
  const registry = createRegistry(metadata, storage, { automaticMount: config.automaticMount, deletes: config.deletes });
  const { Metrics } = await import('./metrics.js');
  const metrics = new Metrics();
  registry.manifests.onPush(new CacheIndexer(metadata, registry.blobs, metrics, logger, () => undefined).onPush);
  const { retention } = createRetention(metadata, registry, metrics, logger, config);
  return {
    retention,
    async close() {
      await metadata.destroy();
      await storage.close?.();
    },
  };
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export function databaseConnection(config: CairnConfig): MetadataConnection {
  return config.databaseUrl ? { kind: 'postgres', url: config.databaseUrl } : { kind: 'pglite', dataDir: join(config.dataDir, 'pglite') };
}

export function createLogger(level: string): Logger {
  return pino({
    level,
    // Defence in depth: even if a header object is logged by mistake, credentials are not.
    redact: ['req.headers.authorization', 'headers.authorization', 'password', 'token', 'databaseUrl', 'secretAccessKey', 'sessionToken', 'githubSecret', 'gitlabToken'],
  });
}

/**
 * Start-up, in the order that gets to serving soonest: the blob store is checked while the
 * database opens (both are I/O), and once migrations are checked the steps that do not depend on
 * each other run together. Nothing here scans blobs or uploads: an upload a crash interrupted is
 * recovered when it is next used (see src/registry/uploads.ts), so restart time does not grow
 * with what is stored.
 */
export async function createApp(config: CairnConfig, logger: Logger = createLogger(config.logLevel)): Promise<App> {
  const releaseLoop = holdEventLoop();
  try {
    return await assemble(config, logger, releaseLoop);
  } catch (error) {
    releaseLoop();
    throw error;
  }
}

async function assemble(config: CairnConfig, logger: Logger, releaseLoop: () => void): Promise<App> {
  logger.info({ config: describeConfig(config) }, 'starting');
  // Before anything opens: a certificate that cannot be served is a configuration mistake.
  const keyPair = config.tls ? await loadKeyPair(config.tls) : undefined;
  // The database opens first: PGlite compiles its WebAssembly on V8's background threads, and
  // the HTTP stack (fastify, ajv, the admin schemas) and prom-client load on the main thread
  // meanwhile instead of before it (see loadHttpStack for the figures).
  const connection = databaseConnection(config);
  const opening = openDatabase(
    connection.kind === 'postgres' ? { ...connection, onIdleError: (err) => logger.warn({ err }, 'idle database connection lost') } : connection,
  );
  const httpStack = loadHttpStack();
  // Settled here so that a failed open is not an unhandled rejection while the stack loads.
  opening.catch(() => undefined);
  const backend = await createStorage(config, logger);
  // Not fatal: an S3 outage at start-up should not crash-loop the process. /readyz says why.
  const storageChecked = backend.check().then(
    () => logger.info({ storage: backend.kind }, 'storage ready'),
    (err: unknown) => logger.error({ reason: (err as Error).message }, 'storage not ready'),
  );
  const [database, { buildServer, Metrics }] = await Promise.all([opening, httpStack]);
  if (config.databaseUrl && !config.auth.tokenKeyFileConfigured) {
    // Replicas with their own data directories would each sign with their own key (README).
    logger.info({ tokenKeyFile: config.auth.tokenKeyFile }, 'token signing key in the data directory: several replicas need one shared CAIRN_TOKEN_KEY_FILE');
  }
  const { applied } = await migrate(database);
  if (applied.length > 0) logger.info({ applied }, 'migrations applied');
  const metadata = new Metadata(database.db);
  const metrics = new Metrics();
  metrics.watchDatabase(() => database.use());
  // Wrapped once, here: every user of the blob store (registry, GC, readiness) is measured.
  const storage = new InstrumentedBlobStore(backend, metrics);
  const registry = createRegistry(metadata, storage, { automaticMount: config.automaticMount, deletes: config.deletes });
  const [access, caches] = await Promise.all([
    createAccessControl(metadata, config.auth).then(async (access) => {
      await applySafeDefaults(config, access, logger);
      return access;
    }),
    startCacheAwareness(metadata, registry, metrics, logger, config.cacheMergePatterns),
    storageChecked,
  ]);
  registry.pulls.start(PULL_FLUSH_MS);
  const gc = new GarbageCollector(metadata, storage, config.gc, metrics, logger);
  gc.onManifestDeleted((m) => registry.manifests.forget(m.repositoryId, m.digest));
  await gc.applySettings();
  gc.start();
  const { retention, branches } = createRetention(metadata, registry, metrics, logger, config);
  const scheduler = new RetentionScheduler(metadata, retention, logger);
  scheduler.start(RETENTION_TICK_MS);
  const workers = await startBuildWorkers(config, { metadata, registry, storage, caches: caches.service, pulls: access }, logger);
  const builds = new BuildService(metadata, storage, { contextMaxBytes: config.buildContextMaxBytes, ...(workers.disabledReason ? { disabledReason: workers.disabledReason } : {}) });

  const server = await buildServer({
    registry,
    access,
    caches: caches.service,
    gc,
    metrics,
    retention,
    branches,
    builds,
    cacheMounts: new CacheMounts(join(config.dataDir, 'worker', 'cache-mounts')),
    logger,
    maxManifestBytes: config.maxManifestBytes,
    ...(config.externalUrl ? { externalUrl: config.externalUrl } : {}),
    ready: async () => {
      await metadata.stores.repositories.listNames(1);
      await storage.check();
    },
    ...(keyPair ? { tls: keyPair } : {}),
  });
  let reloader: KeyPairReloader | undefined;

  const sweep = setInterval(() => {
    registry.uploads
      .expire(new Date(), config.uploadExpiryMs)
      .then((n) => n > 0 && logger.info({ expired: n }, 'expired stale uploads'))
      .catch((err: unknown) => logger.warn({ err }, 'upload expiry failed'));
  }, Math.min(UPLOAD_SWEEP_MS, config.uploadExpiryMs / 2));
  sweep.unref();
  // PGlite has no autovacuum: keep its planner statistics as autovacuum would (statistics.ts).
  const stopStatistics =
    database.kind === 'pglite'
      ? keepStatistics(database.db, STATISTICS_MS, (err) => logger.warn({ err }, 'analyzing grown tables failed'))
      : async () => undefined;

  return {
    server,
    registry,
    async listen() {
      try {
        const url = await server.listen({ host: config.listen.host, port: config.listen.port });
        if (config.tls && keyPair) {
          const tlsServer = server.server as unknown as TlsServer;
          reloader = watchKeyPair(config.tls, keyPair, (pair) => tlsServer.setSecureContext({ cert: pair.cert, key: pair.key }), logger);
          logger.info({ subject: keyPair.subject, notAfter: keyPair.notAfter, fingerprint: keyPair.fingerprint }, 'serving TLS (HTTP/2 and HTTP/1.1)');
        }
        const cpu = process.cpuUsage();
        logger.info({ url, startupMs: Math.round(performance.now()), cpuMs: Math.round((cpu.user + cpu.system) / 1000) }, 'listening');
        // Forked only now: a worker's own start-up would otherwise compete with the registry's.
        workers.start();
        return url;
      } finally {
        releaseLoop(); // the listening socket keeps the loop alive from here
      }
    },
    async close() {
      releaseLoop();
      clearInterval(sweep);
      await workers.close();
      await stopStatistics();
      reloader?.close();
      await gc.stop();
      await scheduler.stop();
      await server.close();
      await registry.pulls.stop();
      await caches.imports.stop();
      await caches.layerUsage.stop();
      await metadata.destroy();
      await storage.close?.();
    },
  };
}

async function loadKeyPair(files: KeyPairFiles): Promise<KeyPair> {
  try {
    return await readKeyPair(files);
  } catch (error) {
    if (error instanceof KeyPairInvalid) throw new ConfigError(`TLS: ${error.message}`);
    throw error;
  }
}

/**
 * The build worker processes (`--build-workers`, default 1), answered over IPC
 * (src/build/worker/supervisor.ts) and forked by `start()` once the server listens. None without
 * runc: builds are then refused with the reason (the registry itself serves as ever).
 */
async function startBuildWorkers(config: CairnConfig, services: { metadata: Metadata; registry: Registry; storage: BlobStore; caches: CacheService; pulls: AccessControl }, logger: Logger) {
  const none = { start: () => undefined, close: async () => undefined };
  if (config.buildWorkers === 0) return { ...none, disabledReason: 'this server runs no build worker (--build-workers 0)' };
  if (!(await findRunc())) {
    const disabledReason = 'runc is not installed on the server (Debian/Ubuntu: apt-get install runc)';
    logger.warn(disabledReason);
    return { ...none, disabledReason };
  }
  const [{ WorkerSupervisor }, { RegistryBuildHost }] = await Promise.all([import('./build/worker/supervisor.js'), import('./build/registry-host.js')]);
  const { metadata, registry } = services;
  const supervisor = new WorkerSupervisor({ config, metadata, host: new RegistryBuildHost(services), blobs: registry.blobs, logger });
  return { disabledReason: undefined, start: () => supervisor.start(), close: () => supervisor.close() };
}

/**
 * The HTTP stack and metrics, loaded while the database opens rather than before it: they are
 * the largest part of Cairn's own module graph (fastify, ajv and the admin schemas, prom-client),
 * and PGlite's WebAssembly compiles on background threads meanwhile. Any failure to load is a
 * broken install, reported as such by the caller.
 */
async function loadHttpStack() {
  const [{ buildServer }, { Metrics }] = await Promise.all([import('./http/server.js'), import('./metrics.js')]);
  return { buildServer, Metrics };
}

/**
 * Keeps the event loop alive from the start until the server listens; returns the release.
 *
 * Why: PGlite starts PostgreSQL inside promises, with no I/O handle open. Whenever the loop runs
 * out of handles, Node waits for V8's background task queue to drain before going on — and that
 * queue holds the optimising compilation of PGlite's 9 MB WebAssembly module, which serving does
 * not need to wait for. One idle timer avoids that wait (measured: the first step after the
 * database opened took 3 s instead of 40 ms on a busy 2-core machine).
 */
function holdEventLoop(): () => void {
  const timer = setInterval(() => undefined, 2 ** 30);
  return () => clearInterval(timer);
}
