import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

/**
 * Who did something. `name` is an account name, 'anonymous' for a caller without credentials, or
 * 'cairn' for Cairn itself; `kind` says which (see migrations/0004_audit_actors.sql): 'open' is an
 * anonymous caller while no admin exists, when the registry is open to anyone who can reach it;
 * 'system' is Cairn acting on the operator's configuration.
 */
export interface AuditActor {
  readonly name: string;
  readonly kind: 'account' | 'anonymous' | 'open' | 'system';
}

export const ANONYMOUS = 'anonymous';
export const SYSTEM: AuditActor = { name: 'cairn', kind: 'system' };

export interface AuditEvent {
  actor: AuditActor;
  action: string;
  /** The object acted on: an account, a repository, a permission id… (never a route). */
  target?: string | null;
  clientIp?: string | null;
  details?: Record<string, unknown> | null;
}

export interface AuditRow {
  id: number;
  at: Date;
  actor: string;
  actor_kind: AuditActor['kind'];
  action: string;
  target: string | null;
  client_ip: string | null;
  details: Record<string, unknown> | null;
}

export interface AuditFilter {
  limit: number;
  /** An event id: only older events (paging). */
  before?: number;
  actor?: string;
  action?: string;
  target?: string;
}

/** The audit log: who did what, when, from where. Append-only. */
export class AuditStore {
  constructor(private readonly db: Kysely<Database>) {}

  async record(event: AuditEvent): Promise<void> {
    await this.recordMany([event]);
  }

  /**
   * Appends events in order, in one statement whatever their number: the rows travel as one
   * jsonb array, so the SQL text (and its prepared statement) is the same for every batch.
   */
  async recordMany(events: readonly AuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const rows = events.map((event) => ({
      actor: event.actor.name,
      actor_kind: event.actor.kind,
      action: event.action,
      target: event.target ?? null,
      client_ip: event.clientIp ?? null,
      details: event.details ?? null,
    }));
    await sql`
      INSERT INTO audit_events (actor, actor_kind, action, target, client_ip, details)
      SELECT e->>'actor', e->>'actor_kind', e->>'action', e->>'target', e->>'client_ip', NULLIF(e->'details', 'null'::jsonb)
      FROM jsonb_array_elements(${JSON.stringify(rows)}::jsonb) WITH ORDINALITY AS rows(e, n)
      ORDER BY n`.execute(this.db);
  }

  /** Newest first; `before` is an event id for paging. */
  async list(filter: AuditFilter): Promise<AuditRow[]> {
    let query = this.db.selectFrom('audit_events').selectAll().orderBy('id', 'desc').limit(filter.limit);
    if (filter.before !== undefined) query = query.where('id', '<', filter.before);
    if (filter.actor !== undefined) query = query.where('actor', '=', filter.actor);
    if (filter.action !== undefined) query = query.where('action', '=', filter.action);
    if (filter.target !== undefined) query = query.where('target', '=', filter.target);
    return query.execute();
  }
}
