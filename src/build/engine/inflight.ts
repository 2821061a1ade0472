/**
 * Steps with the same chain key run once per worker process: a second build (or stage) asking for
 * a key that is running waits for the first one's result. Across processes (several workers, or
 * `cairn worker` on other machines) nothing is shared until the first build's cache export: two
 * processes may both run the step, each writes its layer (same bytes for a reproducible step, so
 * one blob), and the last cache export wins the tag, as with BuildKit (a merge-enabled cache tag
 * keeps both records).
 */
export class InFlight<T> {
  private readonly running = new Map<string, Promise<T>>();

  run(key: string, work: () => Promise<T>): Promise<T> {
    const current = this.running.get(key);
    if (current) return current;
    const started = work().finally(() => this.running.delete(key));
    this.running.set(key, started);
    return started;
  }
}
