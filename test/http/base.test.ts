/** The API root, common headers, routing and names: what every request goes through. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorCode, http, rawHttp } from '../support/http.js';
import { describeOnEachDatabase } from '../support/suite.js';

describeOnEachDatabase('API base', (ctx) => {
  test('GET /v2/ answers 200 {} with the API version header', async () => {
    const response = await http('GET', `${ctx.base}/v2/`);
    assert.equal(response.status, 200);
    assert.deepEqual(response.json(), {});
    assert.equal(response.headers['docker-distribution-api-version'], 'registry/2.0');
  });

  test('HEAD /v2/ and /v2 without slash answer 200', async () => {
    assert.equal((await http('HEAD', `${ctx.base}/v2/`)).status, 200);
    assert.equal((await http('GET', `${ctx.base}/v2`)).status, 200);
  });

  test('every response, errors included, carries the API version header', async () => {
    const response = await http('GET', `${ctx.base}/v2/nothing/here/manifests/latest`);
    assert.equal(response.status, 404);
    assert.equal(response.headers['docker-distribution-api-version'], 'registry/2.0');
    assert.equal(errorCode(response), 'MANIFEST_UNKNOWN');
  });

  test('errors use the OCI error body', async () => {
    const response = await http('GET', `${ctx.base}/v2/a/blobs/sha256:${'0'.repeat(64)}`);
    assert.equal(response.status, 404);
    assert.match(response.headers['content-type']!, /^application\/json/);
    const body = response.json();
    assert.ok(Array.isArray(body.errors));
    assert.equal(body.errors[0].code, 'BLOB_UNKNOWN');
    assert.equal(typeof body.errors[0].message, 'string');
    assert.ok('detail' in body.errors[0]);
  });

  test('unknown endpoints are 404 and wrong methods 405, in OCI form', async () => {
    const unknown = await http('GET', `${ctx.base}/v2/foo/bar`);
    assert.equal(unknown.status, 404);
    assert.ok(errorCode(unknown));
    const wrongMethod = await http('POST', `${ctx.base}/v2/foo/manifests/latest`);
    assert.equal(wrongMethod.status, 405);
    assert.equal(errorCode(wrongMethod), 'UNSUPPORTED');
  });

  test('health and readiness endpoints answer', async () => {
    assert.equal((await http('GET', `${ctx.base}/healthz`)).status, 200);
    const ready = await http('GET', `${ctx.base}/readyz`);
    assert.equal(ready.status, 200, ready.text());
  });

  const badNames: Array<[string, string]> = [
    ['uppercase', 'Foo/bar'],
    ['dot-dot segment', 'foo/../bar'],
    ['leading slash via double slash', '/foo'],
    ['encoded slash', 'foo%2Fbar'],
    ['encoded dot-dot', '%2E%2E/etc'],
    ['trailing separator', 'foo-'],
    ['empty component', 'foo//bar'],
    ['too long', 'a'.repeat(256)],
  ];
  for (const [label, name] of badNames) {
    test(`a bad name (${label}) is NAME_INVALID on push, never a 500`, async () => {
      const response = await rawHttp('POST', ctx.base, `/v2/${name}/blobs/uploads/`);
      assert.equal(response.status, 400, response.text());
      assert.equal(errorCode(response), 'NAME_INVALID');
      const read = await rawHttp('GET', ctx.base, `/v2/${name}/manifests/latest`);
      assert.ok(read.status === 400 || read.status === 404, `GET status ${read.status}`);
    });
  }

  test('names with many path components and route words work', async () => {
    const name = 'org/team/manifests/blobs/tags/app';
    const response = await http('POST', `${ctx.base}/v2/${name}/blobs/uploads/`);
    assert.equal(response.status, 202, response.text());
    assert.ok(response.headers.location!.startsWith(`/v2/${name}/blobs/uploads/`));
  });

  test('malformed digests are 400 DIGEST_INVALID, never a 500', async () => {
    for (const digest of ['sha256:xyz', 'sha256:' + 'A'.repeat(64), 'md5:abc', 'sha256:../../etc/passwd', 'sha256:%2F']) {
      const response = await rawHttp('GET', ctx.base, `/v2/foo/blobs/${digest}`);
      assert.ok(response.status === 400 || response.status === 404, `${digest}: ${response.status}`);
      // `sha256:../../x` no longer ends in /blobs/<one segment>: no route matches at all.
      assert.ok(['DIGEST_INVALID', 'BLOB_UNKNOWN', 'UNSUPPORTED'].includes(errorCode(response)!), `${digest}: ${response.text()}`);
    }
  });

  test('an absolute path outside /v2 is not served', async () => {
    const response = await rawHttp('GET', ctx.base, '/v2/../etc/passwd');
    assert.ok(response.status === 404 || response.status === 400);
  });
});
