/**
 * Build jobs, their event logs and the workers alive (migrations/0013_builds.sql).
 *
 * A job's life: queued → running (a worker takes it with FOR UPDATE SKIP LOCKED and holds a
 * lease it renews) → succeeded | failed | cancelled. A worker that stops renewing loses the job:
 * `failExpired` marks it failed (not requeued: a build that took its worker down would take the
 * next one down too, and a half-run build's steps are not known to be safe to repeat). A worker
 * that drains on SIGTERM gives its job back (`release`): queued again, its log kept.
 *
 * Every state change that ends a job appends its `result` event in the same statement, so a
 * client following the log sees the end whichever process ended it.
 */
import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { AuditActor } from './audit.js';

export type BuildState = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface BuildRow {
  id: string;
  queue_order: number;
  state: BuildState;
  request: Record<string, unknown>;
  context_digest: string;
  context_size: number;
  actor: string;
  actor_kind: AuditActor['kind'];
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  worker_id: string | null;
  lease_expires_at: Date | null;
  attempts: number;
  cancel_requested: boolean;
  result: Record<string, unknown> | null;
  next_seq: number;
}

export interface NewBuild {
  readonly id: string;
  readonly request: object;
  readonly contextDigest: string;
  readonly contextSize: number;
  readonly actor: AuditActor;
}

export interface EventRow {
  seq: number;
  event: Record<string, unknown>;
}

/** What a lease renewal found. */
export interface LeaseState {
  /** Someone asked to cancel the job. */
  readonly cancelRequested: boolean;
  /** The job is no longer this worker's (expired and failed, or finished elsewhere). */
  readonly lost: boolean;
}

const TERMINAL: readonly BuildState[] = ['succeeded', 'failed', 'cancelled'];

export function isTerminal(state: BuildState): boolean {
  return TERMINAL.includes(state);
}

export class BuildStore {
  constructor(private readonly db: Kysely<Database>) {}

  async create(build: NewBuild): Promise<BuildRow> {
    return (await this.db
      .insertInto('build_jobs')
      .values({
        id: build.id,
        state: 'queued',
        request: JSON.stringify(build.request),
        context_digest: build.contextDigest,
        context_size: build.contextSize,
        actor: build.actor.name,
        actor_kind: build.actor.kind,
      })
      .returningAll()
      .executeTakeFirstOrThrow()) as BuildRow;
  }

  async get(id: string): Promise<BuildRow | undefined> {
    return (await this.db.selectFrom('build_jobs').selectAll().where('id', '=', id).executeTakeFirst()) as BuildRow | undefined;
  }

  /** Newest first; `before` is a queue_order cursor; `actor` limits to one caller's builds. */
  async list(options: { actor?: string; before?: number; limit: number }): Promise<BuildRow[]> {
    let query = this.db.selectFrom('build_jobs').selectAll().orderBy('queue_order', 'desc').limit(options.limit);
    if (options.actor !== undefined) query = query.where('actor', '=', options.actor);
    if (options.before !== undefined) query = query.where('queue_order', '<', options.before);
    return (await query.execute()) as BuildRow[];
  }

  /** Events with seq > after, in order. */
  async events(id: string, after: number, limit: number): Promise<EventRow[]> {
    return (await this.db
      .selectFrom('build_events')
      .select(['seq', 'event'])
      .where('job_id', '=', id)
      .where('seq', '>', after)
      .orderBy('seq')
      .limit(limit)
      .execute()) as EventRow[];
  }

  /**
   * The oldest queued job, now running under `workerId`'s lease; undefined when none is queued
   * (or every queued one is being taken by another worker right now: SKIP LOCKED).
   */
  async take(workerId: string, leaseMs: number): Promise<BuildRow | undefined> {
    const { rows } = await sql<BuildRow>`
      UPDATE build_jobs SET state = 'running', worker_id = ${workerId}, started_at = now(),
        lease_expires_at = now() + ${leaseMs} * interval '1 millisecond', attempts = attempts + 1
      WHERE id = (SELECT id FROM build_jobs WHERE state = 'queued' ORDER BY queue_order LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING *`.execute(this.db);
    return rows[0];
  }

  async renew(id: string, workerId: string, leaseMs: number): Promise<LeaseState> {
    const { rows } = await sql<{ cancel_requested: boolean }>`
      UPDATE build_jobs SET lease_expires_at = now() + ${leaseMs} * interval '1 millisecond'
      WHERE id = ${id} AND worker_id = ${workerId} AND state = 'running'
      RETURNING cancel_requested`.execute(this.db);
    return rows[0] ? { cancelRequested: rows[0].cancel_requested, lost: false } : { cancelRequested: false, lost: true };
  }

  /** Appends events while the job is this worker's; false when it is not any more. */
  async append(id: string, workerId: string, events: readonly object[]): Promise<boolean> {
    if (events.length === 0) return true;
    const { rows } = await sql<{ first: number }>`
      UPDATE build_jobs SET next_seq = next_seq + ${events.length}
      WHERE id = ${id} AND worker_id = ${workerId} AND state = 'running'
      RETURNING next_seq - ${events.length} AS first`.execute(this.db);
    if (!rows[0]) return false;
    const first = Number(rows[0].first);
    await this.db
      .insertInto('build_events')
      .values(events.map((event, i) => ({ job_id: id, seq: first + i, event: JSON.stringify(event) })))
      .execute();
    return true;
  }

  /** Records the result of a running job of this worker's, and its `result` event. */
  async finish(id: string, workerId: string, result: { status: 'succeeded' | 'failed' | 'cancelled' }): Promise<boolean> {
    return this.end(sql`id = ${id} AND worker_id = ${workerId} AND state = 'running'`, result.status, result);
  }

  /**
   * Asks to cancel: a queued job is cancelled at once, a running one is flagged for its worker
   * (which sees the flag at its next heartbeat). Undefined for an unknown job.
   */
  async cancel(id: string): Promise<BuildRow | undefined> {
    const result = { status: 'cancelled', error: 'cancelled before it started', images: [], cache: [], durationMs: 0 };
    await this.end(sql`id = ${id} AND state = 'queued'`, 'cancelled', result);
    await this.db.updateTable('build_jobs').set({ cancel_requested: true }).where('id', '=', id).where('state', '=', 'running').execute();
    return this.get(id);
  }

  /** A draining worker gives its job back: queued again, first in line, its log kept. */
  async release(id: string, workerId: string): Promise<void> {
    await this.db
      .updateTable('build_jobs')
      .set({ state: 'queued', worker_id: null, lease_expires_at: null, started_at: null })
      .where('id', '=', id)
      .where('worker_id', '=', workerId)
      .where('state', '=', 'running')
      .execute();
  }

  /** Fails running jobs whose lease has expired; answers their ids. */
  async failExpired(): Promise<string[]> {
    return this.failWhere(sql`state = 'running' AND lease_expires_at < now()`, 'the worker running this build stopped answering (its lease expired)');
  }

  /** Fails the running jobs of a worker known to be gone (its process exited). */
  async failWorker(workerId: string, why: string): Promise<string[]> {
    return this.failWhere(sql`state = 'running' AND worker_id = ${workerId}`, why);
  }

  async seeWorker(worker: { id: string; host: string; pid: number }): Promise<void> {
    await this.db
      .insertInto('build_workers')
      .values({ id: worker.id, host: worker.host, pid: worker.pid })
      .onConflict((oc) => oc.column('id').doUpdateSet({ seen_at: sql`now()` }))
      .execute();
  }

  async forgetWorker(id: string): Promise<void> {
    await this.db.deleteFrom('build_workers').where('id', '=', id).execute();
  }

  /** Workers seen within `withinMs`; older rows are removed on the way. */
  async liveWorkers(withinMs: number): Promise<number> {
    await sql`DELETE FROM build_workers WHERE seen_at < now() - ${withinMs * 10} * interval '1 millisecond'`.execute(this.db);
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM build_workers WHERE seen_at >= now() - ${withinMs} * interval '1 millisecond'`.execute(this.db);
    return Number(rows[0]?.n ?? 0);
  }

  private async failWhere(where: ReturnType<typeof sql>, error: string): Promise<string[]> {
    const { rows } = await sql<{ id: string }>`SELECT id FROM build_jobs WHERE ${where}`.execute(this.db);
    const failed: string[] = [];
    for (const { id } of rows) {
      const result = { status: 'failed', error, images: [], cache: [], durationMs: 0 };
      if (await this.end(sql`id = ${id} AND ${where}`, 'failed', result)) failed.push(id);
    }
    return failed;
  }

  /** Ends the job matching `where` with `result`, and appends the result event; one statement. */
  private async end(where: ReturnType<typeof sql>, state: BuildState, result: object): Promise<boolean> {
    const json = JSON.stringify(result);
    const event = JSON.stringify({ type: 'result', result });
    const { rows } = await sql<{ id: string }>`
      WITH ended AS (
        UPDATE build_jobs SET state = ${state}, finished_at = now(), result = ${json}::jsonb,
          worker_id = NULL, lease_expires_at = NULL, next_seq = next_seq + 1
        WHERE ${where}
        RETURNING id, next_seq - 1 AS seq
      )
      INSERT INTO build_events (job_id, seq, event) SELECT id, seq, ${event}::jsonb FROM ended
      RETURNING job_id AS id`.execute(this.db);
    return rows.length > 0;
  }
}
