/** Upload sessions: monolithic, chunked, streamed, resumed, cancelled, and every way to get it wrong. */
import assert from 'node:assert/strict';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:net';
import { test } from 'node:test';
import { errorCode, http, rawHttp, type TestResponse } from '../support/http.js';
import { blobOf, randomBlob, sha256 } from '../support/oci.js';
import { startCairn } from '../support/registry.js';
import { describeOnEachDatabase } from '../support/suite.js';

describeOnEachDatabase('uploads', (ctx) => {
  const name = 'uploads/app';
  const start = async (): Promise<string> => {
    const response = await http('POST', `${ctx.base}/v2/${name}/blobs/uploads/`);
    assert.equal(response.status, 202, response.text());
    assert.equal(response.headers.range, '0-0');
    assert.ok(response.headers['docker-upload-uuid']);
    return new URL(response.headers.location!, ctx.base).toString();
  };
  const withDigest = (location: string, digest: string) => {
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    return url.toString();
  };
  const patch = (location: string, bytes: Buffer, range?: string): Promise<TestResponse> =>
    http('PATCH', location, {
      headers: {
        'content-type': 'application/octet-stream',
        ...(range ? { 'content-range': range } : {}),
      },
      body: bytes,
    });
  const blobStatus = async (digest: string) => (await http('HEAD', `${ctx.base}/v2/${name}/blobs/${digest}`)).status;

  test('monolithic POST ?digest= stores the blob in one request', async () => {
    const blob = randomBlob(3000);
    const response = await http('POST', `${ctx.base}/v2/${name}/blobs/uploads/?digest=${blob.digest}`, {
      headers: { 'content-type': 'application/octet-stream' },
      body: blob.bytes,
    });
    assert.equal(response.status, 201, response.text());
    assert.equal(response.headers.location, `/v2/${name}/blobs/${blob.digest}`);
    assert.equal(await blobStatus(blob.digest), 200);
  });

  test('chunked upload with Content-Range, status in between, then PUT with an empty body', async () => {
    const blob = randomBlob(3 * 4096);
    const location = await start();
    for (let i = 0; i < 3; i++) {
      const chunk = blob.bytes.subarray(i * 4096, (i + 1) * 4096);
      const response = await patch(location, chunk, `${i * 4096}-${(i + 1) * 4096 - 1}`);
      assert.equal(response.status, 202, response.text());
      assert.equal(response.headers.range, `0-${(i + 1) * 4096 - 1}`);
      const status = await http('GET', location);
      assert.equal(status.status, 204);
      assert.equal(status.headers.range, `0-${(i + 1) * 4096 - 1}`);
      assert.ok(status.headers.location);
    }
    const done = await http('PUT', withDigest(location, blob.digest));
    assert.equal(done.status, 201, done.text());
    assert.equal(done.headers['docker-content-digest'], blob.digest);
    const pulled = await http('GET', `${ctx.base}/v2/${name}/blobs/${blob.digest}`);
    assert.deepEqual(pulled.body, blob.bytes);
  });

  test('PATCH without Content-Range (docker, skopeo) and final chunk in the PUT', async () => {
    const blob = randomBlob(5000);
    const location = await start();
    assert.equal((await patch(location, blob.bytes.subarray(0, 3000))).status, 202);
    const done = await http('PUT', withDigest(location, blob.digest), {
      headers: { 'content-type': 'application/octet-stream' },
      body: blob.bytes.subarray(3000),
    });
    assert.equal(done.status, 201, done.text());
    assert.equal(await blobStatus(blob.digest), 200);
  });

  test('PATCH with chunked transfer encoding (no Content-Length)', async () => {
    const blob = randomBlob(200_000);
    const location = await start();
    async function* pieces() {
      for (let i = 0; i < blob.size; i += 7000) yield blob.bytes.subarray(i, i + 7000);
    }
    const response = await http('PATCH', location, { body: pieces() });
    assert.equal(response.status, 202, response.text());
    assert.equal(response.headers.range, `0-${blob.size - 1}`);
    assert.equal((await http('PUT', withDigest(location, blob.digest))).status, 201);
  });

  test('an out-of-order chunk is 416 and the upload stays where it was', async () => {
    const blob = randomBlob(2000);
    const location = await start();
    assert.equal((await patch(location, blob.bytes.subarray(0, 1000), '0-999')).status, 202);
    const gap = await patch(location, blob.bytes.subarray(1500), '1500-1999');
    assert.equal(gap.status, 416);
    assert.equal(gap.headers.range, '0-999');
    const overlap = await patch(location, blob.bytes.subarray(500, 1500), '500-1499');
    assert.equal(overlap.status, 416);
    assert.equal((await http('GET', location)).headers.range, '0-999');
    assert.equal((await patch(location, blob.bytes.subarray(1000), '1000-1999')).status, 202);
    assert.equal((await http('PUT', withDigest(location, blob.digest))).status, 201);
  });

  test('a Content-Range that disagrees with Content-Length is 416', async () => {
    const location = await start();
    const response = await patch(location, Buffer.alloc(10), '0-99');
    assert.equal(response.status, 416);
  });

  test('a retried chunk (already applied) is refused and the same Location keeps working', async () => {
    const blob = randomBlob(2000);
    const location = await start();
    assert.equal((await patch(location, blob.bytes.subarray(0, 1000), '0-999')).status, 202);
    const retry = await patch(location, blob.bytes.subarray(0, 1000), '0-999');
    assert.equal(retry.status, 416);
    assert.equal(retry.headers.range, '0-999');
    assert.equal((await patch(location, blob.bytes.subarray(1000), '1000-1999')).status, 202);
    assert.equal((await http('PUT', withDigest(location, blob.digest))).status, 201);
  });

  test('digest mismatch is DIGEST_INVALID and nothing is stored; the session is gone', async () => {
    const blob = randomBlob(1000);
    const wrong = sha256('something else');
    const location = await start();
    assert.equal((await patch(location, blob.bytes)).status, 202);
    const response = await http('PUT', withDigest(location, wrong));
    assert.equal(response.status, 400);
    assert.equal(errorCode(response), 'DIGEST_INVALID');
    assert.equal(await blobStatus(wrong), 404);
    assert.equal(await blobStatus(blob.digest), 404);
    assert.equal((await http('GET', location)).status, 404);
  });

  test('monolithic push with a wrong digest stores nothing', async () => {
    const blob = randomBlob(100);
    const wrong = sha256('nope');
    const response = await http('POST', `${ctx.base}/v2/${name}/blobs/uploads/?digest=${wrong}`, { body: blob.bytes });
    assert.equal(response.status, 400);
    assert.equal(errorCode(response), 'DIGEST_INVALID');
    assert.equal(await blobStatus(wrong), 404);
  });

  test('PUT without a digest, or with a malformed one, is DIGEST_INVALID', async () => {
    const location = await start();
    const none = await http('PUT', location);
    assert.equal(none.status, 400);
    assert.equal(errorCode(none), 'DIGEST_INVALID');
    const bad = await http('PUT', withDigest(location, 'sha256:1234'));
    assert.equal(errorCode(bad), 'DIGEST_INVALID');
    // The session survives a malformed request.
    assert.equal((await http('GET', location)).status, 204);
  });

  test('a truncated chunk (connection closed early) is discarded whole', async () => {
    const blob = randomBlob(4000);
    const location = await start();
    assert.equal((await patch(location, blob.bytes.subarray(0, 1000))).status, 202);
    await sendTruncated('PATCH', location, 3000, blob.bytes.subarray(1000, 2000));
    // Give the server a moment to notice the closed connection and roll back.
    let range = '';
    for (let i = 0; i < 50; i++) {
      range = (await http('GET', location)).headers.range ?? '';
      if (range === '0-999') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(range, '0-999');
    assert.equal((await patch(location, blob.bytes.subarray(1000), '1000-3999')).status, 202);
    assert.equal((await http('PUT', withDigest(location, blob.digest))).status, 201);
    assert.deepEqual((await http('GET', `${ctx.base}/v2/${name}/blobs/${blob.digest}`)).body, blob.bytes);
  });

  test('cancelling an upload makes its Location unknown', async () => {
    const location = await start();
    assert.equal((await http('DELETE', location)).status, 204);
    const status = await http('GET', location);
    assert.equal(status.status, 404);
    assert.equal(errorCode(status), 'BLOB_UPLOAD_UNKNOWN');
    assert.equal(errorCode(await patch(location, Buffer.from('x'))), 'BLOB_UPLOAD_UNKNOWN');
  });

  test('unknown, malformed and foreign upload ids are BLOB_UPLOAD_UNKNOWN', async () => {
    for (const id of ['00000000-0000-0000-0000-000000000000', 'not-a-uuid', '..', '%2E%2E']) {
      const response = await rawHttp('GET', ctx.base, `/v2/${name}/blobs/uploads/${id}`);
      assert.equal(response.status, 404, id);
      assert.equal(errorCode(response), 'BLOB_UPLOAD_UNKNOWN');
    }
    const location = await start();
    const foreign = location.replace(`/v2/${name}/`, '/v2/someone/else/');
    assert.equal(errorCode(await http('GET', foreign)), 'BLOB_UPLOAD_UNKNOWN');
  });

  test('pushing the same blob twice is idempotent', async () => {
    const blob = blobOf('same bytes twice');
    for (let i = 0; i < 2; i++) {
      const response = await http('POST', `${ctx.base}/v2/${name}/blobs/uploads/?digest=${blob.digest}`, { body: blob.bytes });
      assert.equal(response.status, 201);
    }
    assert.deepEqual((await http('GET', `${ctx.base}/v2/${name}/blobs/${blob.digest}`)).body, blob.bytes);
  });
});

/** Sends a request that announces `declared` body bytes, sends fewer, then closes the socket. */
function sendTruncated(method: string, url: string, declared: number, partial: Buffer): Promise<void> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(target.port), target.hostname, () => {
      socket.write(
        `${method} ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\n` +
          `Content-Type: application/octet-stream\r\nContent-Length: ${declared}\r\n\r\n`,
      );
      socket.write(partial, () => setTimeout(() => socket.destroy(), 100));
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

test('an upload continues after a server restart (status, chunks, digest)', async () => {
  const blob = randomBlob(300_000);
  const first = await startCairn({ database: 'pglite' });
  const name = 'restart/app';
  const started = await http('POST', `${first.url}/v2/${name}/blobs/uploads/`);
  const path = started.headers.location!;
  assert.equal((await http('PATCH', `${first.url}${path}`, { body: blob.bytes.subarray(0, 100_000) })).status, 202);
  await first.stop({ keepData: true });

  const second = await startCairn({ dataDir: first.dataDir });
  try {
    const status = await http('GET', `${second.url}${path}`);
    assert.equal(status.status, 204);
    assert.equal(status.headers.range, '0-99999');
    assert.equal((await http('PATCH', `${second.url}${path}`, { body: blob.bytes.subarray(100_000) })).status, 202);
    const done = await http('PUT', `${second.url}${path}?digest=${blob.digest}`);
    assert.equal(done.status, 201, done.text());
    assert.deepEqual((await http('GET', `${second.url}/v2/${name}/blobs/${blob.digest}`)).body, blob.bytes);
  } finally {
    await second.stop();
    await rm(first.dataDir, { recursive: true, force: true });
  }
});

test('abandoned uploads expire: the session is gone and its bytes removed', async () => {
  // 0.0005 h = 1.8 s; the sweep runs every half expiry.
  const server = await startCairn({ database: 'pglite', env: { CAIRN_UPLOAD_EXPIRY_HOURS: '0.0005' } });
  try {
    const started = await http('POST', `${server.url}/v2/expiry/app/blobs/uploads/`);
    const location = `${server.url}${started.headers.location}`;
    assert.equal((await http('PATCH', location, { body: Buffer.alloc(1000, 1) })).status, 202);
    let status = 204;
    for (let i = 0; i < 40 && status === 204; i++) {
      await new Promise((r) => setTimeout(r, 250));
      status = (await http('GET', location)).status;
    }
    assert.equal(status, 404);
    const id = started.headers['docker-upload-uuid']!;
    await assert.rejects(stat(join(server.dataDir, 'blobs', 'uploads', id)), /ENOENT/);
  } finally {
    await server.stop();
  }
});
