/**
 * Group commit for append-only records (audit events): callers still await their own record,
 * but at most one write is in flight, and every record that arrives meanwhile goes into the
 * next write as one statement. At low load a record costs one statement as before; under load
 * a burst of N records costs one statement instead of N, with no record held back any longer
 * than the write ahead of it takes.
 */
export class GroupCommit<T> {
  private queue: { record: T; settle: (error?: unknown) => void }[] = [];
  private writing = false;

  constructor(
    private readonly write: (records: T[]) => Promise<void>,
    /** The most records one statement carries: bounds its size (and its parameter). */
    private readonly maxBatch = 500,
  ) {}

  record(record: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ record, settle: (error) => (error === undefined ? resolve() : reject(error)) });
      if (!this.writing) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatch);
      let failure: unknown;
      try {
        await this.write(batch.map((entry) => entry.record));
      } catch (error) {
        failure = error ?? new Error('group write failed');
      }
      for (const entry of batch) entry.settle(failure);
    }
    this.writing = false;
  }
}
