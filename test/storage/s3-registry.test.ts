/**
 * Cairn processes on S3, end to end over HTTP: one upload's chunks spread over two processes
 * that share PostgreSQL and the bucket; S3 throttling, S3 unreachable, wrong credentials and a
 * missing bucket; presigned redirects.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { errorCode, http } from '../support/http.js';
import { blobOf, pushBlob, randomBlob } from '../support/oci.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { startCairn, testDatabases, type StartedCairn } from '../support/registry.js';
import { dropServerPrefix, s3ServerEnv, s3Target, S3_SKIP } from '../support/s3.js';

const MiB = 1024 * 1024;
const target = s3Target();
const prefix = () => `registry-${randomBytes(6).toString('hex')}/`;

describe('Cairn on S3', { skip: S3_SKIP }, () => {
  const name = 's3/app';
  const startUpload = async (base: string): Promise<string> => {
    const response = await http('POST', `${base}/v2/${name}/blobs/uploads/`);
    assert.equal(response.status, 202, response.text());
    return new URL(response.headers.location!, base).pathname + new URL(response.headers.location!, base).search;
  };
  const patch = (base: string, location: string, bytes: Buffer, start: number) =>
    http('PATCH', `${base}${location}`, {
      headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${start + bytes.length - 1}` },
      body: bytes,
    });
  const put = (base: string, location: string, digest: string) => {
    const url = new URL(`${base}${location}`);
    url.searchParams.set('digest', digest);
    return http('PUT', url.toString());
  };

  test('chunks of one upload alternate between two Cairn processes sharing PostgreSQL and the bucket', {
    skip: testDatabases().includes('postgres') ? false : 'needs PostgreSQL',
  }, async () => {
    const shared = prefix();
    const env = await s3ServerEnv(target!, shared);
    const a = await startCairn({ database: 'postgres', env });
    let b: StartedCairn | undefined;
    try {
      b = await startCairn({ databaseUrl: a.databaseUrl!, env });
      const blob = randomBlob(14 * MiB + 123);
      const location = await startUpload(a.url);
      const sizes = [3 * MiB, 4 * MiB, 1 * MiB, 6 * MiB + 123];
      let offset = 0;
      for (const [i, size] of sizes.entries()) {
        const server = i % 2 === 0 ? a : b;
        const response = await patch(server.url, location, blob.bytes.subarray(offset, offset + size), offset);
        assert.equal(response.status, 202, `chunk ${i} on ${i % 2 === 0 ? 'A' : 'B'}: ${response.text()}`);
        offset += size;
        assert.equal(response.headers.range, `0-${offset - 1}`);
      }
      const done = await put(a.url, location, blob.digest);
      assert.equal(done.status, 201, done.text());
      for (const server of [a, b]) {
        const pulled = await http('GET', `${server.url}/v2/${name}/blobs/${blob.digest}`);
        assert.equal(pulled.status, 200);
        assert.equal(blobOf(pulled.body).digest, blob.digest);
      }
    } finally {
      await b?.stop();
      await a.stop();
      await dropServerPrefix(target!, shared);
    }
  });

  describe('faults between Cairn and S3', () => {
    let proxy: FaultProxy;
    let cairn: StartedCairn;
    const shared = prefix();
    before(async () => {
      proxy = await startFaultProxy(target!.endpoint);
      const env = await s3ServerEnv(target!, shared);
      cairn = await startCairn({ env: { ...env, CAIRN_S3_ENDPOINT: proxy.endpoint, CAIRN_S3_MAX_ATTEMPTS: '4' } });
    });
    after(async () => {
      await cairn?.stop();
      await proxy?.close();
      await dropServerPrefix(target!, shared);
    });

    test('S3 answers 503 SlowDown a few times, then recovers: the push succeeds', async () => {
      const blob = randomBlob(6 * MiB);
      proxy.failNext(3);
      await pushBlob(cairn.url, name, blob);
      assert.ok(proxy.seen.filter((r) => r.status === 503).length >= 3);
      const pulled = await http('GET', `${cairn.url}/v2/${name}/blobs/${blob.digest}`);
      assert.equal(blobOf(pulled.body).digest, blob.digest);
    });

    test('S3 unreachable: clean 503 in OCI format, no blob visible, the session resumes afterwards', async () => {
      const blob = randomBlob(7 * MiB);
      const location = await startUpload(cairn.url);
      assert.equal((await patch(cairn.url, location, blob.bytes.subarray(0, 2 * MiB), 0)).status, 202);
      proxy.down();
      try {
        const failed = await patch(cairn.url, location, blob.bytes.subarray(2 * MiB), 2 * MiB);
        assert.equal(failed.status, 503, failed.text());
        assert.equal(errorCode(failed), 'UNAVAILABLE');
        const ready = await http('GET', `${cairn.url}/readyz`);
        assert.equal(ready.status, 503);
        assert.match(ready.text(), /unreachable/);
      } finally {
        proxy.up();
      }
      assert.equal((await http('HEAD', `${cairn.url}/v2/${name}/blobs/${blob.digest}`)).status, 404);
      const status = await http('GET', `${cairn.url}${location}`);
      assert.equal(status.status, 204);
      assert.equal(status.headers.range, `0-${2 * MiB - 1}`);
      assert.equal((await patch(cairn.url, location, blob.bytes.subarray(2 * MiB), 2 * MiB)).status, 202);
      const done = await put(cairn.url, location, blob.digest);
      assert.equal(done.status, 201, done.text());
      assert.equal((await http('GET', `${cairn.url}/readyz`)).status, 200);
    });
  });

  test('wrong credentials or a missing bucket: the server starts, /readyz fails and says why', async () => {
    const env = await s3ServerEnv(target!, prefix());
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ AWS_SECRET_ACCESS_KEY: 'not-the-secret' }, /AWS_SECRET_ACCESS_KEY/],
      [{ AWS_ACCESS_KEY_ID: 'NOSUCHACCESSKEY' }, /AWS_ACCESS_KEY_ID/],
      [{ CAIRN_S3_BUCKET: `cairn-missing-${randomBytes(4).toString('hex')}` }, /does not exist/],
    ];
    for (const [override, reason] of cases) {
      const cairn = await startCairn({ env: { ...env, ...override, CAIRN_S3_MAX_ATTEMPTS: '1' } });
      try {
        const ready = await http('GET', `${cairn.url}/readyz`);
        assert.equal(ready.status, 503);
        assert.match(ready.json<{ reason: string }>().reason, reason);
        assert.ok(cairn.logs.some((line) => line.includes('storage not ready') && reason.test(line)), 'logged at start-up');
        assert.ok(!cairn.logs.some((line) => line.includes('not-the-secret')), 'the secret is not logged');
      } finally {
        await cairn.stop();
      }
    }
  });

  test('with CAIRN_S3_REDIRECT_SECONDS, GET answers 307 to a presigned URL; HEAD stays local', async () => {
    const shared = prefix();
    const env = await s3ServerEnv(target!, shared);
    const cairn = await startCairn({ env: { ...env, CAIRN_S3_REDIRECT_SECONDS: '60' } });
    try {
      const blob = randomBlob(100_000);
      await pushBlob(cairn.url, name, blob);
      const head = await http('HEAD', `${cairn.url}/v2/${name}/blobs/${blob.digest}`);
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], String(blob.size));
      const get = await http('GET', `${cairn.url}/v2/${name}/blobs/${blob.digest}`);
      assert.equal(get.status, 307);
      const location = get.headers.location!;
      assert.match(location, /X-Amz-Signature=/);
      const direct = await http('GET', location);
      assert.equal(direct.status, 200);
      assert.ok(direct.body.equals(blob.bytes));
      const ranged = await http('GET', location, { headers: { range: 'bytes=10-19' } });
      assert.equal(ranged.status, 206);
      assert.ok(ranged.body.equals(blob.bytes.subarray(10, 20)));
    } finally {
      await cairn.stop();
      await dropServerPrefix(target!, shared);
    }
  });
});
