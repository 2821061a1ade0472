/**
 * Garbage collection tests: a Cairn with a tiny review delay on a chosen storage, and a view of
 * that storage from outside (files on disk, or keys under the server's S3 prefix) so tests count
 * real bytes, not what Cairn says about them.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import assert from 'node:assert/strict';
import { http, type TestResponse } from '../support/http.js';
import { sha256 } from '../support/oci.js';
import { startCairn, type StartedCairn, type TestDatabase } from '../support/registry.js';
import { SERVER_BUCKET, emptyPrefix, operations, s3ServerEnv, s3Target, testStorage } from '../support/s3.js';

export type StorageKind = 'filesystem' | 's3';

/** Storages to run on: the suite's default, plus S3 whenever an S3 endpoint is given. */
export function gcStorages(): StorageKind[] {
  const kinds: StorageKind[] = [testStorage()];
  if (process.env.CAIRN_TEST_S3_ENDPOINT && !kinds.includes('s3')) kinds.push('s3');
  return kinds;
}

export interface GcServer {
  readonly server: StartedCairn;
  readonly base: string;
  /** The environment the server got for its storage (the CLI needs the same). */
  readonly storageEnv: Record<string, string>;
  /** Digests of the blobs in the server's storage, read from the storage itself. */
  storedDigests(): Promise<Set<string>>;
  /** Writes bytes straight into blob storage, with no row (what a crash leaves); returns the digest. */
  plantOrphan(bytes: Buffer): Promise<string>;
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export async function startGcServer(database: TestDatabase, storage: StorageKind, env: Record<string, string> = {}): Promise<GcServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'cairn-gc-'));
  const target = storage === 's3' ? s3Target() : undefined;
  if (storage === 's3' && !target) throw new Error('S3 storage asked for without CAIRN_TEST_S3_ENDPOINT');
  const prefix = `${basename(dataDir)}/`;
  const storageEnv = target ? await s3ServerEnv(target, prefix) : { CAIRN_STORAGE: 'filesystem' };
  const server = await startCairn({ database, dataDir, env: { ...storageEnv, ...env } });
  const ops = target ? operations(target, SERVER_BUCKET) : undefined;
  const blobsDir = join(dataDir, 'blobs', 'blobs');
  return {
    server,
    base: server.url,
    storageEnv,
    async storedDigests() {
      const found = new Set<string>();
      if (ops) {
        for await (const object of ops.list(`${prefix}blobs/`)) {
          const [algorithm, encoded] = object.key.slice(`${prefix}blobs/`.length).split('/');
          found.add(`${algorithm}:${encoded}`);
        }
        return found;
      }
      for (const algorithm of await readdirIfExists(blobsDir)) {
        for (const fan of await readdirIfExists(join(blobsDir, algorithm))) {
          for (const encoded of await readdirIfExists(join(blobsDir, algorithm, fan))) found.add(`${algorithm}:${encoded}`);
        }
      }
      return found;
    },
    async plantOrphan(bytes) {
      const digest = sha256(bytes);
      const encoded = digest.slice('sha256:'.length);
      if (ops) {
        const response = await ops.client.send({ method: 'PUT', key: `${prefix}blobs/sha256/${encoded}`, body: bytes });
        await response.body.dump();
        return digest;
      }
      const dir = join(blobsDir, 'sha256', encoded.slice(0, 2));
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, encoded), bytes);
      const old = new Date(Date.now() - 3_600_000);
      await utimes(join(dir, encoded), old, old);
      return digest;
    },
    async stop(options) {
      await server.stop(options);
      if (options?.keepData) return;
      await rm(dataDir, { recursive: true, force: true });
      if (ops) {
        await emptyPrefix(ops, prefix);
        await ops.client.close();
      }
    },
  };
}

async function readdirIfExists(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

export interface RunReport {
  id: number;
  dryRun: boolean;
  manifestsDeleted: number;
  blobsDeleted: number;
  orphansDeleted: number;
  bytesFreed: number;
  kept: number;
  busy: number;
  swept: boolean;
  deleted: { manifests: Array<{ repository: string; digest: string }>; blobs: Array<{ digest: string; size: number }>; orphans: Array<{ digest: string; size: number }> };
}

export async function runGc(base: string, options: { dryRun?: boolean } = {}, headers: Record<string, string> = {}): Promise<RunReport> {
  const response = await http('POST', `${base}/api/v1/gc/runs${options.dryRun ? '?dryRun=true' : ''}`, { headers });
  assert.equal(response.status, 200, `POST /api/v1/gc/runs: ${response.text()}`);
  return response.json<RunReport>();
}

export async function gcStatus(base: string, headers: Record<string, string> = {}): Promise<{ queued: number; due: number; nextDueAt: string | null; bytesFreed: number }> {
  const response = await http('GET', `${base}/api/v1/gc`, { headers });
  assert.equal(response.status, 200, `GET /api/v1/gc: ${response.text()}`);
  return response.json();
}

/** GET of a blob, checked byte for byte against its digest. */
export async function assertBlobReadsBack(base: string, name: string, digest: string, expected?: Buffer): Promise<void> {
  const response: TestResponse = await http('GET', `${base}/v2/${name}/blobs/${digest}`);
  assert.equal(response.status, 200, `GET blob ${digest} in ${name}: ${response.status} ${response.text().slice(0, 200)}`);
  assert.equal(sha256(response.body), digest, `blob ${digest} in ${name} reads back with other bytes`);
  if (expected) assert.ok(response.body.equals(expected));
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function randomBytesOf(size: number): Buffer {
  return randomBytes(size);
}
