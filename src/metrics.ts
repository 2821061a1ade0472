/**
 * Prometheus metrics (prom-client), served at /metrics. One registry per process; labels are
 * repository names, never tags or digests (bounded cardinality).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

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

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'cairn_' });
  }
}
