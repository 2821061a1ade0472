/**
 * A small in-process cache of positive lookups whose entries expire a fixed time after they were
 * stored. Bounded by entry count and, optionally, by total weight (bytes); when full, the oldest
 * entries go first (a Map iterates in insertion order).
 *
 * Replicas share one database but not this cache: an entry may outlive the row it copies by up to
 * `ttlMs` when another replica deletes that row. Callers choose the TTL with that in mind, and
 * evict entries themselves for the writes this process makes.
 */
export interface TtlCacheOptions<V> {
  readonly ttlMs: number;
  readonly maxEntries: number;
  /** Upper bound on the sum of `weigh(value)`; a value heavier than this is not cached at all. */
  readonly maxWeight?: number;
  readonly weigh?: (value: V) => number;
  readonly now?: () => number;
}

interface Entry<V> {
  readonly value: V;
  readonly until: number;
  readonly weight: number;
}

export class TtlCache<K, V> {
  private readonly entries = new Map<K, Entry<V>>();
  private totalWeight = 0;
  private readonly now: () => number;

  constructor(private readonly options: TtlCacheOptions<V>) {
    this.now = options.now ?? Date.now;
  }

  get(key: K): V | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.until > this.now()) return entry.value;
    this.delete(key);
    return undefined;
  }

  set(key: K, value: V): void {
    this.delete(key);
    const weight = this.options.weigh?.(value) ?? 0;
    const maxWeight = this.options.maxWeight ?? Infinity;
    if (weight > maxWeight) return;
    this.entries.set(key, { value, until: this.now() + this.options.ttlMs, weight });
    this.totalWeight += weight;
    this.evictOldest(maxWeight);
  }

  delete(key: K): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.totalWeight -= entry.weight;
  }

  private evictOldest(maxWeight: number): void {
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.options.maxEntries && this.totalWeight <= maxWeight) return;
      this.delete(key);
    }
  }
}

/** The cache key of something named by digest within one repository. */
export function repositoryKey(repositoryId: number, digest: string): string {
  return `${repositoryId}\u0000${digest}`;
}
