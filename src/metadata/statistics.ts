/**
 * Planner statistics for the embedded database. PostgreSQL's autovacuum analyzes a table once
 * enough of it has changed; PGlite runs no autovacuum, so its tables were never analyzed and
 * every plan was a guess — seen at scale: a first tag page read all 100,000 tags of the
 * repository through a bitmap scan and sorted them, where the primary key yields them in order,
 * and a mount lookup hashed every repository (test/metadata/scale.test.ts).
 *
 * Growth is the signal: a table whose size in pages has outgrown what the last ANALYZE recorded
 * (pg_class.relpages) by a tenth — autovacuum's default analyze scale factor — is analyzed again.
 * PGlite's cumulative statistics counters (n_mod_since_analyze) are not flushed reliably in its
 * single-user backend, so they cannot be the signal. ANALYZE samples at most 30,000 rows a
 * table, so a run stays short whatever the size.
 */
import { sql, type Kysely } from 'kysely';

const GROWTH = 1.1;
/** Pages a table may grow to before its first ANALYZE (tiny tables plan well enough). */
const SMALL_TABLE_PAGES = 8;

/** Analyzes the tables that grew since their last ANALYZE; returns their names. */
export async function analyzeGrownTables(db: Kysely<any>): Promise<string[]> {
  const { rows } = await sql<{ table: string }>`
    SELECT c.relname AS table FROM pg_class c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
      AND pg_relation_size(c.oid) / current_setting('block_size')::int > ${GROWTH}::float8 * c.relpages + ${SMALL_TABLE_PAGES}::int
    ORDER BY c.relname`.execute(db);
  for (const { table } of rows) await sql`ANALYZE ${sql.table(table)}`.execute(db);
  return rows.map((r) => r.table);
}

/**
 * Runs `analyzeGrownTables` every `intervalMs` (the first time after one interval, not during
 * start-up). Returns a function that stops it and waits for a run in progress.
 */
export function keepStatistics(db: Kysely<any>, intervalMs: number, onError: (error: unknown) => void): () => Promise<void> {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = analyzeGrownTables(db).catch(onError);
  }, intervalMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
