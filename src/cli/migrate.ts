/** `cairn migrate`: applies the database migrations and exits. Loaded only for this command. */
import { databaseConnection } from '../app.js';
import type { CairnConfig } from '../config/config.js';
import { openDatabase } from '../metadata/database.js';
import { migrate } from '../metadata/migrate.js';

export async function runMigrations(config: CairnConfig): Promise<void> {
  const database = await openDatabase(databaseConnection(config));
  try {
    const { applied } = await migrate(database);
    process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
  } finally {
    await database.db.destroy();
  }
}
