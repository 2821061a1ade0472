/**
 * Events counted in memory by key, handed over in bounded batches: how pulls and layer fetches
 * reach the database without a write per request. `drain` empties the counts at once, so events
 * that arrive while a batch is being written are kept for the next one.
 */
export type Counted<E> = E & { count: number; at: Date };

/** Rows per batch: many keys go in a few statements, each of bounded size. */
const BATCH = 1_000;

export class PendingCounts<E extends object> {
  private entries = new Map<string, Counted<E>>();

  get size(): number {
    return this.entries.size;
  }

  /** One more event for `key` at `at`; `extra` describes the key the first time it is seen. */
  bump(key: string, at: Date, extra: E): void {
    const entry = this.entries.get(key);
    if (entry) {
      entry.count++;
      entry.at = at;
    } else {
      this.entries.set(key, { ...extra, count: 1, at });
    }
  }

  /** Everything counted so far, in batches of at most 1,000; the counts start again from empty. */
  drain(): Counted<E>[][] {
    const all = [...this.entries.values()];
    this.entries = new Map();
    const batches: Counted<E>[][] = [];
    for (let i = 0; i < all.length; i += BATCH) batches.push(all.slice(i, i + BATCH));
    return batches;
  }
}
