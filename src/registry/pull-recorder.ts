/**
 * Counts pulls in memory and writes them in batches, so a manifest GET costs no database write.
 * Retention reads these figures in minutes or days; a few seconds of delay (or the counts of the
 * last interval on a crash) do not change any decision.
 */
import type { Metadata } from '../metadata/stores/index.js';
import { PendingCounts } from '../util/pending-counts.js';

export class PullRecorder {
  private readonly manifests = new PendingCounts<{ id: number }>();
  private readonly tags = new PendingCounts<{ repositoryId: number; tag: string }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly metadata: Metadata,
    private readonly now: () => Date = () => new Date(),
  ) {}

  record(manifestId: number, tag?: { repositoryId: number; tag: string }): void {
    const at = this.now();
    this.manifests.bump(String(manifestId), at, { id: manifestId });
    if (tag) this.tags.bump(`${tag.repositoryId}\u0000${tag.tag}`, at, tag);
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.flush().catch(() => undefined), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }

  async flush(): Promise<void> {
    const manifests = this.manifests.drain();
    const tags = this.tags.drain();
    const { stores } = this.metadata;
    for (const batch of manifests) await stores.manifests.recordPulls(batch);
    for (const batch of tags) await stores.tags.recordPulls(batch);
  }
}
