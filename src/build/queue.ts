/**
 * The build queue as a worker sees it. Two implementations carry it: `DirectBuildQueue` over the
 * metadata stores (in `cairn serve`, and in `cairn worker` over PostgreSQL), and the IPC client in
 * a worker process forked by `cairn serve` (src/build/ipc), which reaches the direct one in the
 * server process. Everything here is small metadata: no blob bytes.
 */
import type { BuildEvent, BuildJob, BuildRequest, BuildResult } from './job.js';
import type { LeaseState } from '../metadata/stores/builds.js';
import type { Metadata } from '../metadata/stores/index.js';

export type { LeaseState };

/** How long a taken job stays a worker's without a heartbeat. */
export const LEASE_MS = 30_000;
/** How often a worker renews its lease (and sees a cancel) and says it is alive. */
export const HEARTBEAT_MS = 1_000;
/** A worker not seen for this long is not counted as alive (builds are refused with none). */
export const WORKER_ALIVE_MS = 15_000;

export interface WorkerIdentity {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
}

export interface BuildQueue {
  /** Says the worker is alive; also fails jobs whose worker stopped renewing. */
  heartbeat(worker: WorkerIdentity): Promise<void>;
  /** The next queued job, now this worker's; undefined when none is waiting. */
  take(workerId: string): Promise<BuildJob | undefined>;
  renew(jobId: string, workerId: string): Promise<LeaseState>;
  /** Appends events to the job's log (false: the job is not this worker's any more). */
  append(jobId: string, workerId: string, events: readonly BuildEvent[]): Promise<boolean>;
  finish(jobId: string, workerId: string, result: BuildResult): Promise<boolean>;
  /** Gives the job back to the queue (a draining worker that could not finish it). */
  release(jobId: string, workerId: string): Promise<void>;
  leave(workerId: string): Promise<void>;
}

export class DirectBuildQueue implements BuildQueue {
  constructor(private readonly metadata: Metadata) {}

  async heartbeat(worker: WorkerIdentity): Promise<void> {
    await this.metadata.stores.builds.seeWorker(worker);
    await this.metadata.stores.builds.failExpired();
  }

  async take(workerId: string): Promise<BuildJob | undefined> {
    const row = await this.metadata.stores.builds.take(workerId, LEASE_MS);
    if (!row) return undefined;
    return { id: row.id, request: row.request as unknown as BuildRequest, contextDigest: row.context_digest, actor: { name: row.actor, kind: row.actor_kind } };
  }

  renew(jobId: string, workerId: string): Promise<LeaseState> {
    return this.metadata.stores.builds.renew(jobId, workerId, LEASE_MS);
  }

  append(jobId: string, workerId: string, events: readonly BuildEvent[]): Promise<boolean> {
    return this.metadata.stores.builds.append(jobId, workerId, events);
  }

  finish(jobId: string, workerId: string, result: BuildResult): Promise<boolean> {
    return this.metadata.stores.builds.finish(jobId, workerId, result);
  }

  release(jobId: string, workerId: string): Promise<void> {
    return this.metadata.stores.builds.release(jobId, workerId);
  }

  leave(workerId: string): Promise<void> {
    return this.metadata.stores.builds.forgetWorker(workerId);
  }
}
