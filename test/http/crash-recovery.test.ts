/**
 * Crash recovery: the server is SIGKILLed while 8 clients push chunked, streamed and monolithic
 * uploads (and manifests and tags), then restarted on the same data directory and database.
 *
 * What must hold after every kill (the promise in src/storage/blob-store.ts):
 *   - an interrupted upload session reports an offset that counts every acknowledged byte and
 *     only whole chunks (a chunk in flight is there whole or not at all), and a PATCH from that
 *     offset continues it; the upload then completes with the right digest;
 *   - a PUT in flight either completed (the blob is there) or can be repeated;
 *   - every blob, manifest and tag acknowledged before the kill is intact.
 * The time from spawning the new process to its first `GET /v2/` answer is reported.
 *
 * Runs on the filesystem, and on S3 too when CAIRN_TEST_S3_ENDPOINT is set (with
 * CAIRN_TEST_STORAGE=s3, on S3 only); once per test database.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test, type TestContext } from 'node:test';
import { errorCode, http, type TestResponse } from '../support/http.js';
import { blobOf, OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, pushBlob, sha256, type Blob } from '../support/oci.js';
import { startCairn, testDatabases, type StartedCairn, type TestDatabase } from '../support/registry.js';
import { dropServerPrefix, s3ServerEnv, s3Target, testStorage } from '../support/s3.js';

const CLIENTS = 8;
const ROUNDS = 3;
const KiB = 1024;
const MiB = 1024 * KiB;
const NAME = 'crash/app';

type Kind = 'chunked' | 'streamed' | 'monolithic';

/** What a client knew about its upload when the server died. */
interface Interrupted {
  readonly kind: Kind;
  readonly blob: Blob;
  /** Upload URL, once the POST was answered (monolithic uploads have none). */
  readonly location?: string;
  /** Bytes acknowledged by 202s. */
  readonly acked: number;
  /** Bytes of the request in flight (a PATCH chunk); 0 when none. */
  readonly inflight: number;
  /** The PUT ?digest= was in flight. */
  readonly finishing: boolean;
}

interface Acknowledged {
  readonly blobs: Map<string, Blob>;
  /** tag → manifest digest */
  readonly tags: Map<string, string>;
  /** Requests answered with 201 or 202 so far (chunks, blobs, manifests). */
  count: number;
}

const storages = (): Array<'filesystem' | 's3'> =>
  testStorage() === 's3' ? ['s3'] : ['filesystem', ...(s3Target() ? (['s3'] as const) : [])];

for (const database of testDatabases()) {
  for (const storage of storages()) {
    describe(`crash recovery [${database}, ${storage}]`, () => {
      test(`SIGKILL under ${CLIENTS} pushing clients, ${ROUNDS} rounds: every upload resumes, nothing acknowledged is lost`, { timeout: 240_000 }, async (t) => {
        await crashRounds(t, database, storage);
      });
    });
  }
}

async function crashRounds(t: TestContext, database: TestDatabase, storage: 'filesystem' | 's3'): Promise<void> {
  // An explicit S3 environment here; with CAIRN_TEST_STORAGE=s3 startCairn supplies its own.
  const prefix = `crash-${randomBytes(6).toString('hex')}/`;
  const target = storage === 's3' && testStorage() !== 's3' ? s3Target() : undefined;
  const env = target ? await s3ServerEnv(target, prefix) : undefined;
  const first = await startCairn({ database, ...(env ? { env } : {}) });
  let server: StartedCairn = first;
  const acknowledged: Acknowledged = { blobs: new Map(), tags: new Map(), count: 0 };
  const config = blobOf(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  await pushBlob(server.url, NAME, config);
  acknowledged.blobs.set(config.digest, config);
  const restarts: number[] = [];
  const seen = { chunked: 0, streamed: 0, monolithic: 0, midChunk: 0, finishing: 0 };
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const stopAt = { killed: false };
      const tagsBefore = acknowledged.tags.size;
      const countBefore = acknowledged.count;
      const clients = Array.from({ length: CLIENTS }, (_, i) => client(server.url, round * CLIENTS + i, config, acknowledged, stopAt));
      // Kill once the round has acknowledged work to lose (chunks, blobs, a tag) — however loaded
      // the machine — then at a random instant, so kills land mid-chunk, mid-PUT, anywhere.
      const deadline = Date.now() + 30_000;
      while ((acknowledged.count - countBefore < 3 * CLIENTS || acknowledged.tags.size === tagsBefore) && Date.now() < deadline) await sleep(20);
      await sleep(Math.floor(Math.random() * 300));
      stopAt.killed = true;
      await server.stop({ keepData: true, signal: 'SIGKILL' });
      const interrupted = (await Promise.all(clients)).filter((u): u is Interrupted => u !== undefined);

      const spawned = Date.now();
      server = await startCairn({ database, dataDir: first.dataDir, ...(first.databaseUrl ? { databaseUrl: first.databaseUrl } : {}), ...(env ? { env } : {}) });
      assert.equal((await http('GET', `${server.url}/v2/`)).status, 200);
      restarts.push(Date.now() - spawned);

      await verifyAcknowledged(server.url, acknowledged);
      for (const upload of interrupted) {
        seen[upload.kind]++;
        if (upload.inflight > 0 && upload.acked > 0) seen.midChunk++;
        if (upload.finishing) seen.finishing++;
        await resume(server.url, upload);
        acknowledged.blobs.set(upload.blob.digest, upload.blob);
      }
      await verifyAcknowledged(server.url, acknowledged);
    }
  } finally {
    await server.stop({ keepData: true });
    await first.stop(); // removes the data dir and the database
    if (target) await dropServerPrefix(target, prefix);
  }
  const sorted = [...restarts].sort((a, b) => a - b);
  t.diagnostic(`[${database}, ${storage}] restart to first GET /v2/ answer: ${restarts.join(', ')} ms (median ${sorted[Math.floor(sorted.length / 2)]} ms, includes spawning node)`);
  t.diagnostic(`[${database}, ${storage}] interrupted uploads resumed: ${JSON.stringify(seen)}; acknowledged blobs ${acknowledged.blobs.size}, tags ${acknowledged.tags.size}`);
  assert.ok(seen.chunked + seen.streamed > 0, 'the kills interrupted upload sessions (else this test proved nothing)');
  assert.ok(acknowledged.tags.size > 0, 'tags were acknowledged before kills (else their survival was not tested)');
}

/**
 * One pushing client: uploads of every kind, one after another, each blob followed by an image
 * manifest and a tag, until the server dies. Returns the upload it was in when it died.
 */
async function client(base: string, index: number, config: Blob, acknowledged: Acknowledged, stop: { killed: boolean }): Promise<Interrupted | undefined> {
  const kinds: Kind[] = ['chunked', 'streamed', 'monolithic'];
  for (let n = 0; ; n++) {
    const kind = kinds[(n + index) % kinds.length]!;
    // Mostly under an S3 part (5 MiB), sometimes over it, so parts and tails are both exercised.
    const size = Math.random() < 0.2 ? 5 * MiB + randomInt(2 * MiB) : 64 * KiB + randomInt(MiB + MiB / 2);
    const blob = blobOf(randomBytes(size));
    const progress = { acked: 0, inflight: 0, finishing: false, location: undefined as string | undefined };
    try {
      await upload(base, kind, blob, progress, acknowledged);
      acknowledged.blobs.set(blob.digest, blob);
      const manifest = imageManifest(config, blob);
      const tag = `c${index}-${n}`;
      const put = await http('PUT', `${base}/v2/${NAME}/manifests/${tag}`, { headers: { 'content-type': OCI_MANIFEST }, body: manifest });
      assert.equal(put.status, 201, put.text());
      acknowledged.tags.set(tag, sha256(manifest));
      acknowledged.count++;
    } catch (error) {
      if (!stop.killed) throw error;
      // Killed during the manifest PUT: the blob itself was acknowledged, nothing to resume.
      return acknowledged.blobs.has(blob.digest) ? undefined : { kind, blob, ...progress };
    }
    if (stop.killed) return undefined;
  }
}

/** Pushes `blob` the `kind` way, keeping `progress` current so a kill leaves it accurate. */
async function upload(
  base: string,
  kind: Kind,
  blob: Blob,
  progress: { acked: number; inflight: number; finishing: boolean; location?: string },
  counter: { count: number },
): Promise<void> {
  if (kind === 'monolithic') {
    const response = await http('POST', `${base}/v2/${NAME}/blobs/uploads/?digest=${blob.digest}`, {
      headers: { 'content-type': 'application/octet-stream' },
      body: blob.bytes,
    });
    assert.equal(response.status, 201, response.text());
    counter.count++;
    return;
  }
  const started = await http('POST', `${base}/v2/${NAME}/blobs/uploads/`);
  assert.equal(started.status, 202, started.text());
  progress.location = new URL(started.headers.location!, base).toString();
  if (kind === 'chunked') {
    while (progress.acked < blob.size) {
      const length = Math.min(blob.size - progress.acked, 64 * KiB + randomInt(MiB));
      progress.inflight = length;
      const end = progress.acked + length;
      const response = await http('PATCH', progress.location, {
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${progress.acked}-${end - 1}` },
        body: blob.bytes.subarray(progress.acked, end),
      });
      assert.equal(response.status, 202, response.text());
      assert.equal(response.headers.range, `0-${end - 1}`);
      progress.acked = end;
      progress.inflight = 0;
      counter.count++;
    }
  } else {
    // Streamed: one PATCH, chunked transfer encoding, paced so a kill can land mid-body.
    progress.inflight = blob.size;
    const response = await http('PATCH', progress.location, { headers: { 'content-type': 'application/octet-stream' }, body: paced(blob.bytes) });
    assert.equal(response.status, 202, response.text());
    progress.acked = blob.size;
    progress.inflight = 0;
    counter.count++;
  }
  progress.finishing = true;
  const done = await http('PUT', withDigest(progress.location, blob.digest));
  assert.equal(done.status, 201, done.text());
  counter.count++;
}

/** Continues an interrupted upload from the offset the restarted server reports, and finishes it. */
async function resume(base: string, upload: Interrupted): Promise<void> {
  const what = `${upload.kind} upload of ${upload.blob.size} bytes (acked ${upload.acked}, in flight ${upload.inflight}${upload.finishing ? ', PUT in flight' : ''})`;
  if (!upload.location) {
    // Monolithic, or the POST itself was cut: there is nothing to resume, the client starts over.
    await pushMonolithic(base, upload.blob);
    return;
  }
  const location = new URL(new URL(upload.location).pathname, base).toString();
  const status = await http('GET', location);
  if (status.status === 404) {
    // Only a PUT that completed before the kill may end the session; its blob must be there.
    assert.ok(upload.finishing, `${what}: status 404 ${errorCode(status)} for an unfinished upload`);
    await expectBlob(base, upload.blob);
    return;
  }
  assert.equal(status.status, 204, `${what}: status ${status.status} ${status.text()}`);
  const offset = reportedOffset(status);
  // Nothing acknowledged is lost; a chunk in flight is counted whole or not at all.
  const allowed = upload.inflight > 0 ? [upload.acked, upload.acked + upload.inflight] : [upload.acked];
  assert.ok(allowed.includes(offset), `${what}: server reports ${offset}, expected one of ${allowed.join(' or ')}`);
  if (offset < upload.blob.size) {
    const patched = await http('PATCH', location, {
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${upload.blob.size - 1}` },
      body: upload.blob.bytes.subarray(offset),
    });
    assert.equal(patched.status, 202, `${what}: PATCH from the reported offset ${offset}: ${patched.status} ${patched.text()}`);
  }
  const done = await http('PUT', withDigest(location, upload.blob.digest));
  assert.equal(done.status, 201, `${what}: PUT after resuming at ${offset}: ${done.status} ${done.text()}`);
  await expectBlob(base, upload.blob);
}

async function verifyAcknowledged(base: string, acknowledged: Acknowledged): Promise<void> {
  for (const blob of acknowledged.blobs.values()) await expectBlob(base, blob);
  for (const [tag, digest] of acknowledged.tags) {
    const response = await http('GET', `${base}/v2/${NAME}/manifests/${tag}`, { headers: { accept: OCI_MANIFEST } });
    assert.equal(response.status, 200, `tag ${tag}: ${response.status} ${response.text()}`);
    assert.equal(sha256(response.body), digest, `tag ${tag}`);
  }
}

async function expectBlob(base: string, blob: Blob): Promise<void> {
  const response = await http('GET', `${base}/v2/${NAME}/blobs/${blob.digest}`);
  assert.equal(response.status, 200, `blob ${blob.digest}: ${response.status} ${response.text()}`);
  assert.equal(sha256(response.body), blob.digest, `blob ${blob.digest}: wrong bytes`);
}

async function pushMonolithic(base: string, blob: Blob): Promise<void> {
  const response = await http('POST', `${base}/v2/${NAME}/blobs/uploads/?digest=${blob.digest}`, {
    headers: { 'content-type': 'application/octet-stream' },
    body: blob.bytes,
  });
  assert.equal(response.status, 201, response.text());
}

/** The upload's size from a `Range: 0-<last>` header ("0-0" is empty here: no upload has 1 byte). */
function reportedOffset(response: TestResponse): number {
  const match = /^0-(\d+)$/.exec(response.headers.range ?? '');
  assert.ok(match, `Range header ${response.headers.range}`);
  const last = Number(match[1]);
  return last === 0 ? 0 : last + 1;
}

function imageManifest(config: Blob, layer: Blob): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
      layers: [{ mediaType: OCI_LAYER, digest: layer.digest, size: layer.size }],
    }),
  );
}

async function* paced(bytes: Buffer): AsyncIterable<Uint8Array> {
  for (let at = 0; at < bytes.length; at += 64 * KiB) {
    yield bytes.subarray(at, at + 64 * KiB);
    if ((at / (64 * KiB)) % 4 === 3) await sleep(2);
  }
}

function withDigest(location: string, digest: string): string {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url.toString();
}

function randomInt(below: number): number {
  return Math.floor(Math.random() * below);
}
