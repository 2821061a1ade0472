import { sql, type Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface AuditEvent {
  actor: string | null;
  action: string;
  target?: string | null;
  clientIp?: string | null;
  details?: Record<string, unknown> | null;
}

export interface AuditRow {
  id: number;
  at: Date;
  actor: string | null;
  action: string;
  target: string | null;
  client_ip: string | null;
  details: Record<string, unknown> | null;
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
      actor: event.actor,
      action: event.action,
      target: event.target ?? null,
      client_ip: event.clientIp ?? null,
      details: event.details ?? null,
    }));
    await sql`
      INSERT INTO audit_events (actor, action, target, client_ip, details)
      SELECT e->>'actor', e->>'action', e->>'target', e->>'client_ip', NULLIF(e->'details', 'null'::jsonb)
      FROM jsonb_array_elements(${JSON.stringify(rows)}::jsonb) WITH ORDINALITY AS rows(e, n)
      ORDER BY n`.execute(this.db);
  }

  /** Newest first; `before` is an event id for paging. */
  async list(filter: { limit: number; before?: number; actor?: string; action?: string }): Promise<AuditRow[]> {
    let query = this.db.selectFrom('audit_events').selectAll().orderBy('id', 'desc').limit(filter.limit);
    if (filter.before !== undefined) query = query.where('id', '<', filter.before);
    if (filter.actor !== undefined) query = query.where('actor', '=', filter.actor);
    if (filter.action !== undefined) query = query.where('action', '=', filter.action);
    return query.execute();
  }
}
