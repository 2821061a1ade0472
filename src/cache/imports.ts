/**
 * Recognises cache imports — a GET of a blob that some cache entry names as its cacheconfig (or,
 * for inline cache, its image config) — and records them in batches, like pulls: a blob GET costs
 * a set lookup, never a database write.
 *
 * The set of cacheconfig digests is loaded at start, grows as this process indexes pushes, and is
 * reloaded every `refreshMs` to learn of pushes that went to other replicas.
 */
import type { Metadata } from '../metadata/stores/index.js';
import type { Metrics } from '../metrics.js';

interface Pending {
  repository: string;
  count: number;
  at: Date;
  importer: string | null;
}

export class CacheImports {
  private known = new Set<string>();
  private pending = new Map<string, Pending>();
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly metadata: Metadata,
    private readonly metrics: Metrics,
  ) {}

  async start(flushMs: number, refreshMs: number): Promise<void> {
    await this.reload();
    this.timers.push(setInterval(() => void this.flush().catch(() => undefined), flushMs).unref());
    this.timers.push(setInterval(() => void this.reload().catch(() => undefined), refreshMs).unref());
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await this.flush();
  }

  remember(repositoryId: number, configDigest: string): void {
    this.known.add(key(repositoryId, configDigest));
  }

  /** Called for every blob GET; counts it when the blob is a known cacheconfig. */
  fetched(repository: string, repositoryId: number, digest: string, userAgent: string | undefined): void {
    const k = key(repositoryId, digest);
    if (!this.known.has(k)) return;
    this.metrics.cacheImports.inc({ repository });
    const entry = this.pending.get(k);
    const importer = userAgent?.slice(0, 200) ?? null;
    if (entry) {
      entry.count++;
      entry.at = new Date();
      entry.importer = importer;
    } else {
      this.pending.set(k, { repository, count: 1, at: new Date(), importer });
    }
  }

  async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    const { caches } = this.metadata.stores;
    for (const [k, p] of batch) {
      const [repositoryId, digest] = splitKey(k);
      await caches.recordImports(await caches.idsByConfig(repositoryId, digest), p.count, p.at, p.importer);
    }
  }

  private async reload(): Promise<void> {
    const rows = await this.metadata.stores.caches.configDigests();
    const next = new Set(rows.map((r) => key(r.repository_id, r.config_digest!)));
    for (const k of this.known) next.add(k);
    this.known = next;
  }
}

function key(repositoryId: number, digest: string): string {
  return `${repositoryId}\u0000${digest}`;
}

function splitKey(k: string): [number, string] {
  const [id, digest] = k.split('\u0000');
  return [Number(id), digest!];
}
