/**
 * Starts real Cairn servers for tests: `node bin/cairn.js serve` as a child process on a free
 * loopback port, on PGlite (in a temp data dir) or on a fresh PostgreSQL database.
 *
 * Which databases the suites run on: CAIRN_TEST_DATABASES (comma-separated, default
 * "pglite,postgres"); PostgreSQL at CAIRN_TEST_POSTGRES_URL (default the machine's server).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { dropServerPrefix, s3ServerEnv, s3Target, testStorage } from './s3.js';

export type TestDatabase = 'pglite' | 'postgres';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const POSTGRES_URL = process.env.CAIRN_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export function testDatabases(): TestDatabase[] {
  const list = (process.env.CAIRN_TEST_DATABASES ?? 'pglite,postgres').split(',').map((s) => s.trim());
  return list.filter((d): d is TestDatabase => d === 'pglite' || d === 'postgres');
}

export interface CairnOptions {
  database?: TestDatabase;
  env?: Record<string, string>;
  /** Reuse the data dir / database of an earlier server (restart tests). */
  dataDir?: string;
  databaseUrl?: string;
  extraArgs?: string[];
  /** Another `cairn` executable to run (an installed package's), from `cwd`; default bin/cairn.js of this checkout. */
  bin?: string;
  cwd?: string;
}

export interface StartedCairn {
  readonly url: string;
  readonly hostPort: string;
  readonly dataDir: string;
  readonly databaseUrl?: string;
  /** Everything the server logged (JSON lines). */
  readonly logs: string[];
  /**
   * Stops the server; with keepData the data dir and database stay for a restart. `signal`
   * SIGKILL kills it without any chance to clean up (crash tests).
   */
  stop(options?: { keepData?: boolean; signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void>;
}

export async function startCairn(options: CairnOptions = {}): Promise<StartedCairn> {
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'cairn-test-')));
  const databaseUrl =
    options.databaseUrl ?? (options.database === 'postgres' ? await createDatabase() : undefined);
  const args = [options.bin ?? 'bin/cairn.js', 'serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...(options.extraArgs ?? [])];
  if (databaseUrl) args.push('--database-url', databaseUrl);
  const s3 = testStorage() === 's3' && !options.env?.CAIRN_STORAGE ? s3Target() : undefined;
  const s3Prefix = `${basename(dataDir)}/`;
  const storageEnv = s3 ? await s3ServerEnv(s3, s3Prefix) : {};
  const child = spawn(process.execPath, args, {
    cwd: options.cwd ?? ROOT,
    env: { ...process.env, CAIRN_LOG_LEVEL: 'info', ...storageEnv, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const stop = async ({ keepData = false, signal = 'SIGTERM' as 'SIGTERM' | 'SIGKILL' } = {}) => {
    await terminate(child, signal);
    if (!keepData) {
      if (!options.dataDir) await rm(dataDir, { recursive: true, force: true });
      if (databaseUrl && !options.databaseUrl) await dropDatabase(databaseUrl);
      if (s3 && !options.dataDir) await dropServerPrefix(s3, s3Prefix);
    }
  };
  let url: string;
  try {
    url = await waitForListening(child, logs);
  } catch (error) {
    await stop();
    throw error;
  }
  if (s3 && !logs.some((line) => line.includes('"storage":"s3"'))) {
    await stop();
    throw new Error(`CAIRN_TEST_STORAGE=s3 but the server did not report S3 storage ready:\n${logs.join('\n')}`);
  }
  return { url, hostPort: new URL(url).host, dataDir, databaseUrl, logs, stop };
}

function waitForListening(child: ChildProcess, logs: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`cairn did not start:\n${logs.join('\n')}`)), 60_000);
    const onLine = (line: string) => {
      logs.push(line);
      if (logs.length > 5000) logs.splice(0, 1000);
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'listening' && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      } catch {
        // not a log line (a stack trace on stderr): kept in logs for the failure message
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`cairn exited with ${code} before listening:\n${logs.join('\n')}`));
    });
  });
}

async function terminate(child: ChildProcess, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function createDatabase(): Promise<string> {
  const name = `cairn_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropDatabase(databaseUrl: string): Promise<void> {
  const name = new URL(databaseUrl).pathname.slice(1);
  if (!/^cairn_test_[a-z0-9_]+$/.test(name)) return;
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
