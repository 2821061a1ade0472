/**
 * Fresh metadata databases for tests: PGlite in memory, or a new PostgreSQL database created for
 * the test and dropped after it. Used by the metadata store suite directly; the HTTP harness can
 * use `createPostgresDatabase` / `dropPostgresDatabase` for the servers it starts.
 *
 * PostgreSQL: the server at CAIRN_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres,
 * trust auth) is used to CREATE and DROP databases named `cairn_test_<pid>_<random>`; nothing
 * else on that server is touched, and only names of that shape are ever dropped.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type OpenedDatabase } from '../../src/metadata/database.js';
import { migrate, type MigrationResult } from '../../src/metadata/migrate.js';
import { Metadata } from '../../src/metadata/stores/index.js';
import type { TestDatabase } from './registry.js';

export type { TestDatabase };

/** The maintenance database used to create and drop test databases. */
export const POSTGRES_ADMIN_URL =
  process.env.CAIRN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const TEST_DATABASE_NAME = /^cairn_test_[a-z0-9_]+$/;

export interface CreatePostgresDatabaseOptions {
  /** Server to create the database on; default POSTGRES_ADMIN_URL. */
  adminUrl?: string;
  /**
   * Create the database with this ICU locale as its default collation (e.g. 'en-US'), to test
   * behaviour on servers that are not initialised with the C locale. PostgreSQL 15+.
   */
  icuLocale?: string;
}

/** Creates an empty database `cairn_test_<pid>_<random>` and returns its URL. */
export async function createPostgresDatabase(options: CreatePostgresDatabaseOptions = {}): Promise<string> {
  const adminUrl = options.adminUrl ?? POSTGRES_ADMIN_URL;
  const name = `cairn_test_${process.pid}_${randomBytes(5).toString('hex')}`;
  let statement = `CREATE DATABASE ${name}`;
  if (options.icuLocale !== undefined) {
    if (!/^[A-Za-z0-9@=_-]+$/.test(options.icuLocale)) throw new Error(`odd ICU locale ${options.icuLocale}`);
    statement += ` TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '${options.icuLocale}'`;
  }
  await withAdminClient(adminUrl, (client) => client.query(statement));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Drops a database made by createPostgresDatabase, disconnecting anyone still connected.
 * A URL whose database is not named `cairn_test_…` is left alone.
 */
export async function dropPostgresDatabase(databaseUrl: string, adminUrl = POSTGRES_ADMIN_URL): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  if (!TEST_DATABASE_NAME.test(name)) return;
  await withAdminClient(adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}

export interface TestMetadataDatabase {
  readonly kind: TestDatabase;
  /** The opened database, as `openDatabase` returns it (for `migrate`, `runScript`). */
  readonly database: OpenedDatabase;
  /** The stores over `database.db`. */
  readonly metadata: Metadata;
  /** The fresh PostgreSQL database's URL; undefined for PGlite. */
  readonly url: string | undefined;
  /** What the initial migration applied (empty when opened with `migrate: false`). */
  readonly migration: MigrationResult;
  /** Closes the connection and, for PostgreSQL, drops the database. */
  close(): Promise<void>;
}

export interface OpenTestDatabaseOptions {
  /** Apply migrations/ before returning (default true). */
  migrate?: boolean;
  /** PostgreSQL only: see CreatePostgresDatabaseOptions.icuLocale. */
  icuLocale?: string;
}

/** A fresh, by default migrated, metadata database of the given kind. */
export async function openTestDatabase(
  kind: TestDatabase,
  options: OpenTestDatabaseOptions = {},
): Promise<TestMetadataDatabase> {
  const url =
    kind === 'postgres'
      ? await createPostgresDatabase(options.icuLocale !== undefined ? { icuLocale: options.icuLocale } : {})
      : undefined;
  let database: OpenedDatabase;
  try {
    database = await openDatabase(url ? { kind: 'postgres', url, poolSize: 10 } : { kind: 'pglite' });
  } catch (error) {
    if (url) await dropPostgresDatabase(url);
    throw error;
  }
  const metadata = new Metadata(database.db);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    try {
      await metadata.destroy();
    } finally {
      if (url) await dropPostgresDatabase(url);
    }
  };
  try {
    const migration = options.migrate === false ? { applied: [] } : await migrate(database);
    return { kind, database, metadata, url, migration, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function withAdminClient<T>(adminUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
