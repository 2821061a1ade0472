/**
 * Counts pulls in memory and writes them in batches, so a manifest GET costs no database write.
 * Retention reads these figures in minutes or days; a few seconds of delay (or the counts of the
 * last interval on a crash) do not change any decision.
 */
import type { Metadata } from '../metadata/stores/index.js';

interface Pending {
  count: number;
  at: Date;
}

export class PullRecorder {
  private manifests = new Map<number, Pending>();
  private tags = new Map<string, Pending & { repositoryId: number; tag: string }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly metadata: Metadata,
    private readonly now: () => Date = () => new Date(),
  ) {}

  record(manifestId: number, tag?: { repositoryId: number; tag: string }): void {
    const at = this.now();
    bump(this.manifests, manifestId, at, {});
    if (tag) bump(this.tags, `${tag.repositoryId}\u0000${tag.tag}`, at, tag);
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
    const manifests = this.manifests;
    const tags = this.tags;
    this.manifests = new Map();
    this.tags = new Map();
    const { stores } = this.metadata;
    const manifestPulls = [...manifests].map(([id, p]) => ({ id, count: p.count, at: p.at }));
    for (const batch of batches(manifestPulls)) await stores.manifests.recordPulls(batch);
    for (const batch of batches([...tags.values()])) await stores.tags.recordPulls(batch);
  }
}

/** Pulls of many manifests and tags go in a few statements, each of bounded size. */
const FLUSH_BATCH = 1_000;

function* batches<T>(items: readonly T[]): Iterable<readonly T[]> {
  for (let i = 0; i < items.length; i += FLUSH_BATCH) yield items.slice(i, i + FLUSH_BATCH);
}

function bump<K, E extends object>(map: Map<K, Pending & E>, key: K, at: Date, extra: E): void {
  const entry = map.get(key);
  if (entry) {
    entry.count++;
    entry.at = at;
  } else {
    map.set(key, { ...extra, count: 1, at });
  }
}
