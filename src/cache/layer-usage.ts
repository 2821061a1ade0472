/**
 * Counts blob fetches in memory and writes them in batches (like pulls and imports), attributed
 * to every cache of the repository that lists the blob as a layer: which layers a cache's imports
 * really fetch. A fetch of the same layer for another reason (an image pull) counts too; what
 * no one fetches at all is the point.
 */
import type { Metadata } from '../metadata/stores/index.js';

interface Pending {
  repositoryId: number;
  digest: string;
  count: number;
  at: Date;
}

/** Bound on distinct blobs remembered between flushes; beyond it the batch is written early. */
const MAX_PENDING = 10_000;

export class CacheLayerUsage {
  private pending = new Map<string, Pending>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly metadata: Metadata) {}

  start(flushMs: number): void {
    this.timer = setInterval(() => void this.flush().catch(() => undefined), flushMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }

  fetched(repositoryId: number, digest: string): void {
    const key = `${repositoryId}\u0000${digest}`;
    const entry = this.pending.get(key);
    if (entry) {
      entry.count++;
      entry.at = new Date();
      return;
    }
    this.pending.set(key, { repositoryId, digest, count: 1, at: new Date() });
    if (this.pending.size >= MAX_PENDING) void this.flush().catch(() => undefined);
  }

  async flush(): Promise<void> {
    const batch = [...this.pending.values()];
    this.pending = new Map();
    for (let i = 0; i < batch.length; i += 1000) await this.metadata.stores.cacheUsage.recordFetches(batch.slice(i, i + 1000));
  }
}
