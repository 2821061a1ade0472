/**
 * BuildKit's progress model: numbered vertices, each started, then CACHED or DONE with its
 * duration, or ERROR; a step's output goes out as log lines of its vertex.
 */
import type { BuildEvent } from '../job.js';

export type LogSink = (stream: 'stdout' | 'stderr', chunk: Buffer) => void;

export class Vertices {
  private next = 1;
  private readonly open = new Set<number>();

  constructor(private readonly emit: (event: BuildEvent) => void) {}

  /** Runs `work` as one vertex: DONE with its duration, or ERROR with the failure's message. */
  async step<T>(name: string, work: (log: LogSink) => Promise<T>): Promise<T> {
    const id = this.next++;
    const started = performance.now();
    this.open.add(id);
    this.emit({ type: 'vertex', id, name });
    try {
      const result = await work((stream, chunk) => this.emit({ type: 'log', id, stream, text: chunk.toString('utf8') }));
      this.emit({ type: 'done', id, durationMs: Math.round(performance.now() - started) });
      return result;
    } catch (error) {
      this.emit({ type: 'error', id, message: (error as Error).message });
      throw error;
    } finally {
      this.open.delete(id);
    }
  }

  /** A vertex with nothing to run: a cache hit (CACHED) or a resolved FROM. */
  instant(name: string, cached: boolean): void {
    const id = this.next++;
    this.emit({ type: 'vertex', id, name });
    if (cached) this.emit({ type: 'cached', id });
    this.emit({ type: 'done', id, durationMs: 0 });
  }

  /** Vertices still running when the build ends (cancelled while another stage ran) get the error. */
  failOpen(message: string): void {
    for (const id of this.open) this.emit({ type: 'error', id, message });
    this.open.clear();
  }
}
