/** Blob pull, HEAD, ranges, delete and cross-repository mount. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorCode, http } from '../support/http.js';
import { pushBlob, randomBlob } from '../support/oci.js';
import { describeOnEachDatabase } from '../support/suite.js';

describeOnEachDatabase('blobs', (ctx) => {
  const blob = randomBlob(10_000);
  const name = 'blobs/app';

  test('a pushed blob is served byte-exact with digest and length', async () => {
    await pushBlob(ctx.base, name, blob);
    const response = await http('GET', `${ctx.base}/v2/${name}/blobs/${blob.digest}`);
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, blob.bytes);
    assert.equal(response.headers['docker-content-digest'], blob.digest);
    assert.equal(response.headers['content-length'], String(blob.size));
  });

  test('HEAD answers the length and digest without a body', async () => {
    const response = await http('HEAD', `${ctx.base}/v2/${name}/blobs/${blob.digest}`);
    assert.equal(response.status, 200);
    assert.equal(response.headers['content-length'], String(blob.size));
    assert.equal(response.headers['docker-content-digest'], blob.digest);
    assert.equal(response.body.length, 0);
  });

  test('a blob is not visible from another repository until mounted', async () => {
    const other = await http('HEAD', `${ctx.base}/v2/blobs/other/blobs/${blob.digest}`);
    assert.equal(other.status, 404);
    const get = await http('GET', `${ctx.base}/v2/blobs/other/blobs/${blob.digest}`);
    assert.equal(errorCode(get), 'BLOB_UNKNOWN');
  });

  const ranges: Array<[string, number, number]> = [
    ['bytes=0-0', 0, 0],
    ['bytes=0-99', 0, 99],
    ['bytes=100-', 100, 9999],
    ['bytes=-10', 9990, 9999],
    ['bytes=9000-20000', 9000, 9999],
  ];
  for (const [header, start, end] of ranges) {
    test(`Range ${header} answers 206 with Content-Range`, async () => {
      const response = await http('GET', `${ctx.base}/v2/${name}/blobs/${blob.digest}`, { headers: { range: header } });
      assert.equal(response.status, 206);
      assert.equal(response.headers['content-range'], `bytes ${start}-${end}/${blob.size}`);
      assert.deepEqual(response.body, blob.bytes.subarray(start, end + 1));
    });
  }

  test('an unsatisfiable range is 416 with the size in Content-Range', async () => {
    for (const header of ['bytes=10000-', 'bytes=5-2', 'bytes=-0', 'items=0-1']) {
      const response = await http('GET', `${ctx.base}/v2/${name}/blobs/${blob.digest}`, { headers: { range: header } });
      assert.equal(response.status, 416, header);
      assert.equal(response.headers['content-range'], `bytes */${blob.size}`);
    }
  });

  test('cross-repository mount answers 201 and links the blob', async () => {
    const target = 'blobs/mounted';
    const response = await http('POST', `${ctx.base}/v2/${target}/blobs/uploads/?mount=${blob.digest}&from=${name}`);
    assert.equal(response.status, 201, response.text());
    assert.equal(response.headers.location, `/v2/${target}/blobs/${blob.digest}`);
    assert.equal(response.headers['docker-content-digest'], blob.digest);
    const head = await http('HEAD', `${ctx.base}/v2/${target}/blobs/${blob.digest}`);
    assert.equal(head.status, 200);
  });

  test('mount with URL-encoded parameters works too', async () => {
    const target = 'blobs/mounted-encoded';
    const query = `mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(name)}`;
    const response = await http('POST', `${ctx.base}/v2/${target}/blobs/uploads/?${query}`);
    assert.equal(response.status, 201, response.text());
  });

  test('mount of a blob the source does not have falls back to an upload session', async () => {
    const missing = randomBlob(10);
    const response = await http('POST', `${ctx.base}/v2/blobs/fallback/blobs/uploads/?mount=${missing.digest}&from=${name}`);
    assert.equal(response.status, 202);
    assert.match(response.headers.location!, /^\/v2\/blobs\/fallback\/blobs\/uploads\/[0-9a-f-]{36}$/);
    const fromUnknown = await http('POST', `${ctx.base}/v2/blobs/fallback/blobs/uploads/?mount=${blob.digest}&from=no/such/repo`);
    assert.equal(fromUnknown.status, 202);
    const fromInvalid = await http('POST', `${ctx.base}/v2/blobs/fallback/blobs/uploads/?mount=${blob.digest}&from=BAD..name`);
    assert.equal(fromInvalid.status, 202);
  });

  test('a mount without from takes the blob from any repository that has it (automatic mount)', async () => {
    const target = 'blobs/auto-mounted';
    const response = await http('POST', `${ctx.base}/v2/${target}/blobs/uploads/?mount=${blob.digest}`);
    assert.equal(response.status, 201, response.text());
    assert.equal(response.headers.location, `/v2/${target}/blobs/${blob.digest}`);
    const get = await http('GET', `${ctx.base}/v2/${target}/blobs/${blob.digest}`);
    assert.equal(get.status, 200);
    assert.deepEqual(get.body, blob.bytes);
  });

  test('a mount without from of a blob no repository has starts an upload; a bad digest is DIGEST_INVALID', async () => {
    const response = await http('POST', `${ctx.base}/v2/blobs/auto-fallback/blobs/uploads/?mount=${randomBlob(10).digest}`);
    assert.equal(response.status, 202);
    assert.match(response.headers.location!, /^\/v2\/blobs\/auto-fallback\/blobs\/uploads\/[0-9a-f-]{36}$/);
    const bad = await http('POST', `${ctx.base}/v2/blobs/auto-fallback/blobs/uploads/?mount=sha256:not-hex`);
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad), 'DIGEST_INVALID');
  });

  test('deleting a blob unlinks it from that repository only', async () => {
    const response = await http('DELETE', `${ctx.base}/v2/blobs/mounted/blobs/${blob.digest}`);
    assert.equal(response.status, 202);
    assert.equal((await http('HEAD', `${ctx.base}/v2/blobs/mounted/blobs/${blob.digest}`)).status, 404);
    assert.equal((await http('HEAD', `${ctx.base}/v2/${name}/blobs/${blob.digest}`)).status, 200);
    const again = await http('DELETE', `${ctx.base}/v2/blobs/mounted/blobs/${blob.digest}`);
    assert.equal(again.status, 404);
    assert.equal(errorCode(again), 'BLOB_UNKNOWN');
  });

  test('the empty blob can be pushed and pulled', async () => {
    const empty = { bytes: Buffer.alloc(0), digest: 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', size: 0 };
    await pushBlob(ctx.base, name, empty);
    const response = await http('GET', `${ctx.base}/v2/${name}/blobs/${empty.digest}`);
    assert.equal(response.status, 200);
    assert.equal(response.body.length, 0);
    assert.equal(response.headers['content-length'], '0');
  });
});
