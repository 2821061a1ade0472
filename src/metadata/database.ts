/**
 * Opens the metadata database: PostgreSQL through a `pg` pool when a URL is given, otherwise
 * PGlite (PostgreSQL compiled to WebAssembly) in-process, persisted under the data directory.
 * Both speak the same SQL, run the same migrations and pass the same store suite. A PGlite
 * directory is locked for as long as it is open (directory-lock.ts): one process at a time.
 */
import { mkdir } from 'node:fs/promises';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { lockDatabaseDirectory } from './directory-lock.js';
import type { Database } from './schema.js';

const INT8_OID = 20;
const BYTEA_OID = 17;

export type MetadataConnection =
  | { kind: 'postgres'; url: string; poolSize?: number; onIdleError?: (error: Error) => void }
  /** `dataDir` undefined keeps the database in memory (tests). */
  | { kind: 'pglite'; dataDir?: string };

export interface OpenedDatabase {
  readonly kind: MetadataConnection['kind'];
  readonly db: Kysely<Database>;
  /**
   * Runs a multi-statement SQL script on the connection `executor` holds. PGlite's query path
   * takes one statement at a time, so its scripts go through `exec` on the one session it has.
   */
  runScript(executor: Kysely<any>, script: string): Promise<void>;
  /** How busy the connections are now (for metrics, read at scrape time). */
  use(): ConnectionUse;
}

export interface ConnectionUse {
  readonly kind: MetadataConnection['kind'];
  readonly total: number;
  readonly idle: number;
  readonly waiting: number;
}

export async function openDatabase(connection: MetadataConnection): Promise<OpenedDatabase> {
  // Each driver is loaded only when used: a start on PGlite need not load pg, nor the reverse
  // (module loading is a good part of start-up time).
  if (connection.kind === 'postgres') {
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({
      connectionString: connection.url,
      max: connection.poolSize ?? 20,
      // bigint columns hold sizes and counts well below 2^53: read them as numbers.
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
      },
    });
    // An idle connection that the server closes (restart, failover, pg_terminate_backend) makes the
    // pool emit 'error'; unhandled, that would end the process. pg drops the client by itself.
    pool.on('error', (error) => connection.onIdleError?.(error));
    return {
      kind: 'postgres',
      db: new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }),
      // Without parameters pg uses the simple query protocol, which takes many statements.
      runScript: async (executor, script) => void (await sql.raw(script).execute(executor)),
      use: () => ({ kind: 'postgres', total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
    };
  }
  const [{ PGlite }, { PGliteBatchDialect }] = await Promise.all([import('@electric-sql/pglite'), import('./pglite-dialect.js')]);
  // Before anything touches the directory: a second process on it would corrupt it.
  const lock = connection.dataDir ? await lockDatabaseDirectory(connection.dataDir) : undefined;
  let pglite: InstanceType<typeof PGlite>;
  try {
    if (connection.dataDir) await mkdir(connection.dataDir, { recursive: true });
    // Memory: PGlite 0.3.x starts PostgreSQL with its own command-line settings (shared_buffers
    // 128 MB, wal_buffers 4 MB, ...), which outrank postgresql.conf and ALTER SYSTEM, and it
    // has no option to change them; the 128 MB buffer pool is most of the idle RSS (measured:
    // WebAssembly memory 174 MiB of a ~400 MB process). PGlite 0.4.0 adds `startParams`: with
    // shared_buffers=16MB the bare database idles at ~170 MB instead of ~290 MB. Its default
    // parameters include -F (fsync off), so passing them must leave that one out.
    pglite = await PGlite.create({
      ...(connection.dataDir ? { dataDir: connection.dataDir } : {}),
      // PGlite's own bytea parser converts byte by byte in JavaScript (thousands of calls for one
      // manifest); Buffer decodes hex natively.
      parsers: { [INT8_OID]: (value: string) => Number(value), [BYTEA_OID]: parseByteaHex },
    });
  } catch (error) {
    await lock?.release();
    throw error;
  }
  const dialect = new PGliteBatchDialect(pglite, () => lock?.release());
  return {
    kind: 'pglite',
    db: new Kysely<Database>({ dialect }),
    runScript: async (_executor, script) => void (await pglite.exec(script)),
    use: () => ({ kind: 'pglite', total: 1, ...dialect.use() }),
  };
}

/** bytea in PostgreSQL's text output (`\\x` then hex), decoded natively. */
function parseByteaHex(value: string): Uint8Array {
  if (!value.startsWith('\\x')) throw new Error('bytea: expected hex output (bytea_output = hex)');
  return Buffer.from(value.slice(2), 'hex');
}
