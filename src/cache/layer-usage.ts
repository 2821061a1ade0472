/**
 * Counts blob fetches in memory and writes them in batches (like pulls and imports), attributed
 * to every cache of the repository that lists the blob as a layer: which layers a cache's imports
 * really fetch. A fetch of the same layer for another reason (an image pull) counts too; what
 * no one fetches at all is the point.
 */
import type { Metadata } from '../metadata/stores/index.js';
import { PendingCounts } from '../util/pending-counts.js';

/** Bound on distinct blobs remembered between flushes; beyond it the batch is written early. */
const MAX_PENDING = 10_000;

export class CacheLayerUsage {
  private readonly pending = new PendingCounts<{ repositoryId: number; digest: string }>();
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
    this.pending.bump(`${repositoryId}\u0000${digest}`, new Date(), { repositoryId, digest });
    if (this.pending.size >= MAX_PENDING) void this.flush().catch(() => undefined);
  }

  async flush(): Promise<void> {
    for (const batch of this.pending.drain()) await this.metadata.stores.cacheUsage.recordFetches(batch);
  }
}
