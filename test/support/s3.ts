/**
 * A real S3 server for tests (radosgw from scripts/ci/start-s3.sh, or any S3-compatible one):
 *
 *   CAIRN_TEST_S3_ENDPOINT     e.g. http://127.0.0.1:9100 — without it S3 tests are skipped,
 *                              except in CI (CI=true), where its absence is a failure
 *   CAIRN_TEST_S3_ACCESS_KEY   default testaccesskey (start-s3.sh's)
 *   CAIRN_TEST_S3_SECRET_KEY   default testsecretkey1234
 *   CAIRN_TEST_S3_REGION       default us-east-1
 *
 * Each test run makes its own bucket, and each store under test its own key prefix.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { S3Client } from '../../src/storage/s3/client.js';
import { S3Operations } from '../../src/storage/s3/operations.js';
import { S3BlobStore, MIN_PART_SIZE, type S3StoreOptions } from '../../src/storage/s3/s3-store.js';

export interface S3Target {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
}

/** The S3 server to test against; undefined means skip (outside CI only). */
export function s3Target(): S3Target | undefined {
  const endpoint = process.env.CAIRN_TEST_S3_ENDPOINT;
  if (!endpoint) {
    if (process.env.CI === 'true') throw new Error('CI=true but CAIRN_TEST_S3_ENDPOINT is not set: start S3 with scripts/ci/start-s3.sh');
    return undefined;
  }
  return {
    endpoint,
    accessKeyId: process.env.CAIRN_TEST_S3_ACCESS_KEY ?? 'testaccesskey',
    secretAccessKey: process.env.CAIRN_TEST_S3_SECRET_KEY ?? 'testsecretkey1234',
    region: process.env.CAIRN_TEST_S3_REGION ?? 'us-east-1',
  };
}

/** A reason to skip, for `test(..., { skip })`. */
export const S3_SKIP = process.env.CAIRN_TEST_S3_ENDPOINT ? false : 'CAIRN_TEST_S3_ENDPOINT not set';

export function operations(target: S3Target, bucket: string, overrides: { endpoint?: string; maxAttempts?: number } = {}): S3Operations {
  return new S3Operations(
    new S3Client({
      endpoint: overrides.endpoint ?? target.endpoint,
      bucket,
      region: target.region,
      forcePathStyle: true,
      credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
      maxAttempts: overrides.maxAttempts ?? 3,
    }),
  );
}

/** Creates a fresh bucket; `drop()` empties and removes it. */
export async function createBucket(target: S3Target): Promise<{ name: string; drop(): Promise<void> }> {
  const name = `cairn-test-${process.pid}-${randomBytes(4).toString('hex')}`;
  const ops = operations(target, name);
  const response = await ops.client.send({ method: 'PUT' });
  await response.body.dump();
  return {
    name,
    async drop() {
      await emptyPrefix(ops, '');
      const deleted = await ops.client.send({ method: 'DELETE', accept: [404, 409] });
      await deleted.body.dump();
      await ops.client.close();
    },
  };
}

export async function emptyPrefix(ops: S3Operations, prefix: string): Promise<void> {
  for await (const upload of ops.listMultipart(prefix)) await ops.abortMultipart(upload.key, upload.uploadId);
  const keys: string[] = [];
  for await (const object of ops.list(prefix)) keys.push(object.key);
  await Promise.all(keys.map((key) => ops.delete(key)));
}

export async function listKeys(ops: S3Operations, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of ops.list(prefix)) keys.push(object.key.slice(prefix.length));
  return keys.sort();
}

/** A store on its own prefix of `bucket`, with the smallest part size S3 allows. */
export async function testStore(
  target: S3Target,
  bucket: string,
  options: Partial<S3StoreOptions> = {},
): Promise<{ store: S3BlobStore; prefix: string; cleanup(): Promise<void> }> {
  const prefix = options.prefix ?? `t-${randomBytes(6).toString('hex')}/`;
  const spoolDir = await mkdtemp(join(tmpdir(), 'cairn-s3-spool-'));
  const store = new S3BlobStore({
    endpoint: target.endpoint,
    bucket,
    region: target.region,
    forcePathStyle: true,
    credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
    partSize: MIN_PART_SIZE,
    spoolDir,
    maxAttempts: 3,
    retryBaseMs: 20,
    ...options,
    prefix,
  });
  return {
    store,
    prefix,
    async cleanup() {
      await store.close();
      const ops = operations(target, bucket);
      await emptyPrefix(ops, prefix);
      await ops.client.close();
      await rm(spoolDir, { recursive: true, force: true });
    },
  };
}

/** Which storage the HTTP and client suites run Cairn on: CAIRN_TEST_STORAGE=s3, else the filesystem. */
export function testStorage(): 'filesystem' | 's3' {
  return process.env.CAIRN_TEST_STORAGE === 's3' ? 's3' : 'filesystem';
}

/** The bucket shared by the Cairn servers tests start (each on its own prefix). */
export const SERVER_BUCKET = 'cairn-test-servers';
let serverBucket: Promise<void> | undefined;

/** Environment that makes a Cairn server store blobs under `prefix` of the shared test bucket. */
export async function s3ServerEnv(target: S3Target, prefix: string): Promise<Record<string, string>> {
  serverBucket ??= (async () => {
    const ops = operations(target, SERVER_BUCKET);
    // 409 BucketAlreadyOwnedByYou is fine: another test file made it.
    const response = await ops.client.send({ method: 'PUT', accept: [409] });
    await response.body.dump();
    await ops.client.close();
  })();
  await serverBucket;
  return {
    CAIRN_STORAGE: 's3',
    CAIRN_S3_ENDPOINT: target.endpoint,
    CAIRN_S3_BUCKET: SERVER_BUCKET,
    CAIRN_S3_REGION: target.region,
    CAIRN_S3_PREFIX: prefix,
    CAIRN_S3_FORCE_PATH_STYLE: 'true',
    CAIRN_S3_PART_SIZE: String(MIN_PART_SIZE),
    AWS_ACCESS_KEY_ID: target.accessKeyId,
    AWS_SECRET_ACCESS_KEY: target.secretAccessKey,
  };
}

/** Removes what a server stored under `prefix` of the shared bucket. */
export async function dropServerPrefix(target: S3Target, prefix: string): Promise<void> {
  const ops = operations(target, SERVER_BUCKET);
  try {
    await emptyPrefix(ops, prefix);
  } finally {
    await ops.client.close();
  }
}
