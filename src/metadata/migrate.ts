/**
 * Applies the versioned SQL files in migrations/ in name order, each in its own transaction,
 * recording what ran in `schema_migrations`. A PostgreSQL advisory lock lets several replicas
 * start at once: one migrates, the others wait and then find nothing to do.
 * Migrations are frozen once released: fix forward with a new file.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import type { OpenedDatabase } from './database.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/', import.meta.url));
const LOCK_KEY = 0x6361_6972; // "cair"

export interface MigrationResult {
  applied: string[];
}

export async function migrate(database: OpenedDatabase, dir = MIGRATIONS_DIR): Promise<MigrationResult> {
  const { db } = database;
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(${LOCK_KEY})`.execute(conn);
    try {
      await sql`CREATE TABLE IF NOT EXISTS schema_migrations (
        name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`.execute(conn);
      const done = await sql<{ name: string }>`SELECT name FROM schema_migrations`.execute(conn);
      const already = new Set(done.rows.map((r) => r.name));
      const applied: string[] = [];
      for (const file of files.filter((f) => !already.has(f))) {
        const text = await readFile(join(dir, file), 'utf8');
        await conn.transaction().execute(async (tx) => {
          await database.runScript(tx, text);
          await sql`INSERT INTO schema_migrations (name) VALUES (${file})`.execute(tx);
        });
        applied.push(file);
      }
      return { applied };
    } finally {
      await sql`SELECT pg_advisory_unlock(${LOCK_KEY})`.execute(conn);
    }
  });
}
