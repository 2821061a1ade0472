/**
 * One build worker: takes jobs from the queue one at a time and runs each through the engine,
 * streaming its events into the job's log, renewing its lease every second (and seeing a cancel
 * there), and recording the result. The same loop runs in a process forked by `cairn serve` (queue
 * and host over IPC) and in `cairn worker` (queue and host over the services directly).
 *
 * Draining (SIGTERM): no new job is taken; the running one gets `graceMs` to finish, then it is
 * aborted and given back to the queue, so another worker builds it from the start.
 */
import { HEARTBEAT_MS, type BuildQueue, type WorkerIdentity } from '../queue.js';
import type { BuildEvent, BuildJob, BuildResult } from '../job.js';
import type { EngineDeps, RunBuild } from './run-job.js';

/** How often an idle worker looks for a queued job. */
const POLL_MS = 250;
/** Events are sent in batches at most this far apart (a log line reaches the client in ~0.1 s). */
const FLUSH_MS = 100;

export interface WorkerLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}

export class BuildWorker {
  private draining = false;
  private stopped: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private current: { job: BuildJob; abort: AbortController; drained: boolean } | undefined;

  constructor(
    private readonly identity: WorkerIdentity,
    private readonly queue: BuildQueue,
    private readonly engine: RunBuild,
    private readonly deps: EngineDeps,
    private readonly log: WorkerLog,
  ) {}

  start(): void {
    this.stopped ??= this.loop();
  }

  /** Stops taking jobs; the running one may finish within `graceMs`, else it is given back. */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    this.wake?.();
    const timer = setTimeout(() => {
      if (!this.current) return;
      this.current.drained = true;
      this.current.abort.abort(new Error('the worker is shutting down'));
    }, graceMs);
    try {
      await this.stopped;
    } finally {
      clearTimeout(timer);
    }
  }

  private async loop(): Promise<void> {
    const alive = setInterval(() => void this.queue.heartbeat(this.identity).catch((err: unknown) => this.log.warn({ err }, 'worker heartbeat failed')), HEARTBEAT_MS * 2);
    try {
      await this.queue.heartbeat(this.identity);
      while (!this.draining) {
        let job: BuildJob | undefined;
        try {
          job = await this.queue.take(this.identity.id);
        } catch (err) {
          this.log.warn({ err }, 'taking a build job failed');
        }
        if (job) await this.run(job);
        else await this.sleep(POLL_MS);
      }
    } finally {
      clearInterval(alive);
      await this.queue.leave(this.identity.id).catch(() => undefined);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async run(job: BuildJob): Promise<void> {
    const started = performance.now();
    const abort = new AbortController();
    const current = (this.current = { job, abort, drained: false });
    const workerId = this.identity.id;
    this.log.info({ build: job.id }, 'build started');

    let pending: BuildEvent[] = [];
    let sending = Promise.resolve();
    const flush = () => {
      if (pending.length === 0) return sending;
      const batch = pending;
      pending = [];
      sending = sending.then(async () => {
        if (!(await this.queue.append(job.id, workerId, batch))) abort.abort(new Error('the build is no longer this worker\'s'));
      }).catch((err: unknown) => this.log.warn({ err, build: job.id }, 'sending build events failed'));
      return sending;
    };
    const flusher = setInterval(() => void flush(), FLUSH_MS);
    const heartbeat = setInterval(() => {
      this.queue.renew(job.id, workerId).then(
        (lease) => {
          if (lease.cancelRequested) abort.abort(new Error('cancelled'));
          if (lease.lost) abort.abort(new Error('the build\'s lease was lost'));
        },
        (err: unknown) => this.log.warn({ err, build: job.id }, 'renewing the build lease failed'),
      );
    }, HEARTBEAT_MS);

    let result: BuildResult;
    try {
      // The queue appends the result event itself when the job ends, whoever ends it.
      result = await this.engine(job, this.deps, (event) => event.type !== 'result' && pending.push(event), abort.signal);
    } catch (err) {
      result = { status: abort.signal.aborted ? 'cancelled' : 'failed', error: (err as Error).message, images: [], cache: [], durationMs: 0 };
    } finally {
      clearInterval(flusher);
      clearInterval(heartbeat);
      this.current = undefined;
    }
    if (abort.signal.aborted && result.status === 'failed') result = { ...result, status: 'cancelled' };
    if (result.durationMs === 0) result = { ...result, durationMs: Math.round(performance.now() - started) };
    await flush();
    try {
      if (current.drained) {
        await this.queue.release(job.id, workerId);
        this.log.info({ build: job.id }, 'build given back to the queue (worker shutting down)');
      } else {
        await this.queue.finish(job.id, workerId, result);
        this.log.info({ build: job.id, status: result.status, durationMs: result.durationMs }, 'build finished');
      }
    } catch (err) {
      this.log.error({ err, build: job.id }, 'recording the build result failed');
    }
  }
}
