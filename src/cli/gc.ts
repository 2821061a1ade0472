/**
 * `cairn gc [--dry-run] [--json]`: one garbage collection pass in this process, on the configured
 * database and storage (no HTTP, no running server needed), with a sweep of storage. Prints what
 * it did (a summary, or the full report as JSON) and records the pass like any other. Use the
 * same configuration as the server (review delay included): the rules are the same.
 */
import pino from 'pino';
import { createStorage, databaseConnection } from '../app.js';
import type { CairnConfig } from '../config/config.js';
import { GarbageCollector, type PassReport } from '../gc/index.js';
import { openDatabase } from '../metadata/database.js';
import { migrate } from '../metadata/migrate.js';
import { SYSTEM } from '../metadata/stores/audit.js';
import { Metadata } from '../metadata/stores/index.js';

/** Runs the pass and prints its report. Storage that does not answer is an error (exit 1). */
export async function collectGarbage(config: CairnConfig, { dryRun, json }: { dryRun: boolean; json: boolean }): Promise<void> {
  const logger = pino({ level: 'warn' }, pino.destination(2));
  const database = await openDatabase(databaseConnection(config));
  const storage = await createStorage(config, logger);
  try {
    await migrate(database);
    await storage.check();
    const metadata = new Metadata(database.db);
    const collector = new GarbageCollector(metadata, storage, config.gc, undefined, logger);
    const report = await collector.run({ trigger: 'cli', actor: null, dryRun, sweep: true });
    const { deleted: _lists, ...figures } = report;
    await metadata.stores.audit.record({ actor: SYSTEM, action: 'gc.run', target: 'gc', details: { ...figures } });
    process.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : describe(report));
  } finally {
    await database.db.destroy();
    await storage.close?.();
  }
}

function describe(report: PassReport): string {
  const verb = report.dryRun ? 'would delete' : 'deleted';
  return [
    `${verb}: ${report.manifestsDeleted} manifests, ${report.blobsDeleted} blobs, ${report.orphansDeleted} orphaned objects`,
    `bytes ${report.dryRun ? 'to free' : 'freed'}: ${report.bytesFreed}`,
    `kept: ${report.kept}, busy (left for later): ${report.busy}`,
    '',
  ].join('\n');
}
