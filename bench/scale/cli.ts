/**
 * Fills a metadata database with registry-sized data (see generate.ts), for benchmarks and for
 * looking at query plans by hand:
 *
 *   npm run build
 *   node dist/bench/scale/cli.js --database-url postgres://postgres@127.0.0.1:5432/cairn_scale
 *   node dist/bench/scale/cli.js --data-dir /tmp/scale --tags 10000 --repositories 1000 --blobs 100000
 *
 * The database is migrated first; use one of its own (the generator needs a superuser, and reads
 * whole tables to check what it wrote). A PGlite directory is locked while this runs.
 * Prints each step's time, then the generated data's landmarks as JSON.
 */
import { parseArgs } from 'node:util';
import { openDatabase } from '../../src/metadata/database.js';
import { migrate } from '../../src/metadata/migrate.js';
import { FULL_SCALE, generateScaleMetadata } from './generate.js';

const USAGE = `usage: node dist/bench/scale/cli.js (--database-url URL | --data-dir DIR)
       [--tags N] [--repositories N] [--blobs N] [--prefix NAME]
defaults: ${FULL_SCALE.tags} tags in one repository, ${FULL_SCALE.repositories} repositories, ${FULL_SCALE.blobs} blobs, prefix scale`;

function count(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  if (!/^[1-9]\d{0,8}$/.test(value)) throw new Error(`--${flag}: ${JSON.stringify(value)} is not a positive whole number`);
  return Number(value);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'database-url': { type: 'string' },
      'data-dir': { type: 'string' },
      tags: { type: 'string' },
      repositories: { type: 'string' },
      blobs: { type: 'string' },
      prefix: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) return console.log(USAGE);
  const url = values['database-url'];
  const dataDir = values['data-dir'];
  if ((url === undefined) === (dataDir === undefined)) throw new Error(`give one of --database-url and --data-dir\n${USAGE}`);
  const sizes = {
    tags: count(values.tags, FULL_SCALE.tags, 'tags'),
    repositories: count(values.repositories, FULL_SCALE.repositories, 'repositories'),
    blobs: count(values.blobs, FULL_SCALE.blobs, 'blobs'),
  };
  const database = await openDatabase(url !== undefined ? { kind: 'postgres', url } : { kind: 'pglite', dataDir: dataDir! });
  try {
    await migrate(database);
    const started = performance.now();
    const data = await generateScaleMetadata(database.db, sizes, {
      ...(values.prefix !== undefined ? { prefix: values.prefix } : {}),
      onStep: (step, ms) => console.error(`${step}: ${(ms / 1000).toFixed(1)} s`),
    });
    console.error(`total: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    console.log(JSON.stringify(data, null, 2));
  } finally {
    await database.db.destroy();
  }
}

main().catch((error: unknown) => {
  console.error(`generate: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
