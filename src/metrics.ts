/**
 * Prometheus metrics (prom-client), served at /metrics. One registry per process. Labels are
 * bounded: route templates (never raw paths), methods, status codes, backends, operations, and for
 * the cache series repository names; never tags, digests or upload ids. README.md lists them all.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Seconds; from a cached HEAD (sub-millisecond) to a large blob streamed over a slow link. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

/** How busy the metadata database is, read at scrape time (pg pool or PGlite's one session). */
export interface DatabaseUse {
  readonly kind: string;
  /** Connections open (PGlite: 1). */
  readonly total: number;
  /** Connections open and not in use. */
  readonly idle: number;
  /** Callers waiting for a connection (PGlite: queries queued for its one session). */
  readonly waiting: number;
}

export class Metrics {
  readonly registry = new Registry();
  readonly cachePushes = new Counter({
    name: 'cairn_cache_pushes_total',
    help: 'BuildKit cache manifests pushed, by repository and format',
    labelNames: ['repository', 'format'] as const,
    registers: [this.registry],
  });
  readonly cacheImports = new Counter({
    name: 'cairn_cache_imports_total',
    help: 'BuildKit cache imports (cacheconfig or inline-cache config fetched), by repository',
    labelNames: ['repository'] as const,
    registers: [this.registry],
  });
  readonly cacheWarnings = new Counter({
    name: 'cairn_cache_warnings_total',
    help: 'Problems found in pushed caches (oversize, missing blobs, unparseable), by repository and kind',
    labelNames: ['repository', 'kind'] as const,
    registers: [this.registry],
  });
  readonly cacheBytes = new Gauge({
    name: 'cairn_cache_bytes',
    help: 'Bytes of the last cache pushed to each repository (config and distinct layers)',
    labelNames: ['repository'] as const,
    registers: [this.registry],
  });
  readonly cacheMerges = new Counter({
    name: 'cairn_cache_merges_total',
    help: 'Server-side cache merges, by repository and outcome',
    labelNames: ['repository', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly gcPasses = new Counter({
    name: 'cairn_gc_passes_total',
    help: 'Garbage collection passes run by this process, by trigger (schedule, api, cli) and dry_run',
    labelNames: ['trigger', 'dry_run'] as const,
    registers: [this.registry],
  });
  readonly gcDeleted = new Counter({
    name: 'cairn_gc_deleted_total',
    help: 'Objects deleted by garbage collection in this process, by kind (manifest, blob, orphan)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly gcBytesFreed = new Counter({
    name: 'cairn_gc_bytes_freed_total',
    help: 'Blob-store bytes freed by garbage collection in this process (blobs and orphaned objects)',
    registers: [this.registry],
  });
  readonly gcQueueDepth = new Gauge({
    name: 'cairn_gc_queue_depth',
    help: 'Rows on the garbage collection review queues at the end of the last pass, by queue and state (queued, due)',
    labelNames: ['queue', 'state'] as const,
    registers: [this.registry],
  });

  readonly httpRequests = new Counter({
    name: 'cairn_http_requests_total',
    help: 'HTTP requests answered, by route template, method and status code',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly httpDuration = new Histogram({
    name: 'cairn_http_request_duration_seconds',
    help: 'Time from receiving a request to the end of its response, by route template and method',
    labelNames: ['route', 'method'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly httpBytesReceived = new Counter({
    name: 'cairn_http_received_bytes_total',
    help: 'Request body bytes received, by route template (declared Content-Length; chunked uploads are counted by cairn_storage_written_bytes_total)',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly httpBytesServed = new Counter({
    name: 'cairn_http_served_bytes_total',
    help: 'Response body bytes served, by route template (Content-Length of responses with a body)',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });
  readonly uploadsInFlight = new Gauge({
    name: 'cairn_uploads_in_flight',
    help: 'Blob upload requests whose bytes are being written to storage right now',
    registers: [this.registry],
  });

  readonly storageOperations = new Counter({
    name: 'cairn_storage_operations_total',
    help: 'Blob store operations, by backend (filesystem, s3) and operation',
    labelNames: ['backend', 'operation'] as const,
    registers: [this.registry],
  });
  readonly storageErrors = new Counter({
    name: 'cairn_storage_errors_total',
    help: 'Blob store operations that failed, by backend and operation (an absent blob or upload is an answer, not an error)',
    labelNames: ['backend', 'operation'] as const,
    registers: [this.registry],
  });
  readonly storageDuration = new Histogram({
    name: 'cairn_storage_operation_duration_seconds',
    help: 'Time blob store operations took to settle (for reads: until the stream opened), by backend and operation',
    labelNames: ['backend', 'operation'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly storageBytesWritten = new Counter({
    name: 'cairn_storage_written_bytes_total',
    help: 'Bytes appended to uploads in the blob store, by backend',
    labelNames: ['backend'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'cairn_' });
  }

  /** Reports the database's connection use at each scrape (nothing is sampled in between). */
  watchDatabase(use: () => DatabaseUse): void {
    const gauge = (name: string, help: string, pick: (u: DatabaseUse) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['database'] as const,
        registers: [this.registry],
        collect() {
          const u = use();
          this.set({ database: u.kind }, pick(u));
        },
      });
    gauge('cairn_db_connections', 'Database connections open (PGlite: its one session)', (u) => u.total);
    gauge('cairn_db_connections_idle', 'Database connections open and not in use', (u) => u.idle);
    gauge('cairn_db_waiting', 'Callers waiting for a database connection (PGlite: queries queued for its session)', (u) => u.waiting);
  }
}
