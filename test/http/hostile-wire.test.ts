/**
 * Hostile input on the wire: every refusal on /v2/ is the spec's error JSON with a spec code,
 * answered (never a reset or silence), and nothing a client sends makes a 5xx. Requests a normal
 * client would refuse to send go over a bare socket.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { http } from '../support/http.js';
import { OCI_INDEX, OCI_MANIFEST, blobOf, makeImage, pushImage, putManifest, sha256 } from '../support/oci.js';
import { ociErrorProblem, rawRequest, type RawResponse } from '../support/raw-http.js';
import { describeOnEachDatabase } from '../support/suite.js';

const MiB = 1024 * 1024;

function assertOciError(response: RawResponse | { status: number; headers: Record<string, string>; body: Buffer }, status: number, code: string): void {
  assert.equal(response.status, status, response.body.toString('utf8').slice(0, 300));
  assert.equal(ociErrorProblem(response), undefined);
  assert.equal(JSON.parse(response.body.toString('utf8')).errors[0].code, code);
}

/** A single request on its own connection, answered exactly once. */
async function one(base: string, bytes: Buffer | string | Array<Buffer | string>, options: { halfClose?: boolean } = {}): Promise<RawResponse> {
  const exchange = await rawRequest(base, bytes, options);
  assert.equal(exchange.responses.length, 1, `answers: ${exchange.responses.length}, error ${exchange.error}, leftover ${exchange.leftover.toString('latin1').slice(0, 200)}`);
  return exchange.responses[0]!;
}

function get(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: registry\r\n${extra}Connection: close\r\n\r\n`;
}

describeOnEachDatabase('hostile input on the wire', (ctx) => {
  const name = 'hostile/app';
  const image = makeImage();
  const digest0 = `sha256:${'0'.repeat(64)}`;

  test('setup: one image', async () => {
    await pushImage(ctx.base, name, image, 'v1');
  });

  test('a name with %FF or raw non-ASCII bytes is NAME_INVALID', async () => {
    assertOciError(await one(ctx.base, get('/v2/%FF/tags/list')), 400, 'NAME_INVALID');
    assertOciError(await one(ctx.base, get('/v2/a%FFb/manifests/latest')), 400, 'NAME_INVALID');
    const raw = Buffer.concat([Buffer.from('GET /v2/caf'), Buffer.from('é', 'utf8'), Buffer.from('/tags/list HTTP/1.1\r\nHost: r\r\n\r\n')]);
    assertOciError(await one(ctx.base, raw), 400, 'NAME_INVALID');
  });

  test('an undecodable tag or digest is an ordinary invalid one', async () => {
    assertOciError(await one(ctx.base, get(`/v2/${name}/manifests/%FF`)), 404, 'MANIFEST_UNKNOWN');
    assertOciError(await one(ctx.base, get(`/v2/${name}/blobs/sha256:%FF`)), 400, 'DIGEST_INVALID');
  });

  test('a body longer than its Content-Length: the request is answered, then the junk that follows', async () => {
    const exchange = await rawRequest(ctx.base, `PUT /v2/${name}/manifests/short HTTP/1.1\r\nHost: r\r\nContent-Type: ${OCI_MANIFEST}\r\nContent-Length: 2\r\n\r\n{"schemaVersion":2}`);
    assert.equal(exchange.responses.length, 2, exchange.leftover.toString('latin1'));
    assertOciError(exchange.responses[0]!, 400, 'MANIFEST_INVALID');
    assertOciError(exchange.responses[1]!, 400, 'UNSUPPORTED');
    assert.equal(exchange.responses[1]!.headers.connection, 'close');
  });

  test('a body shorter than its Content-Length, then end of input: SIZE_INVALID, nothing stored', async () => {
    const response = await one(ctx.base, `PUT /v2/${name}/manifests/cut HTTP/1.1\r\nHost: r\r\nContent-Type: ${OCI_MANIFEST}\r\nContent-Length: 100\r\n\r\n{"schema`, { halfClose: true });
    assertOciError(response, 400, 'SIZE_INVALID');
    assert.equal((await http('GET', `${ctx.base}/v2/${name}/manifests/cut`)).status, 404);
  });

  test('broken chunked framing: SIZE_INVALID, and the upload is left as it was', async () => {
    const start = await http('POST', `${ctx.base}/v2/${name}/blobs/uploads/`);
    const location = start.headers.location!;
    const response = await one(ctx.base, `PATCH ${location} HTTP/1.1\r\nHost: r\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nbroken\r\n0\r\n\r\n`);
    assertOciError(response, 400, 'SIZE_INVALID');
    const status = await http('GET', `${ctx.base}${location}`);
    assert.ok(status.status === 204 || status.status === 404, `upload status ${status.status}`);
  });

  test('a Range header with 10,000 ranges: 431 SIZE_INVALID, answered in full', async () => {
    const ranges = Array.from({ length: 10_000 }, (_, i) => `${i}-${i}`).join(',');
    const response = await one(ctx.base, get(`/v2/${name}/blobs/${image.config.digest}`, `Range: bytes=${ranges}\r\n`));
    assertOciError(response, 431, 'SIZE_INVALID');
  });

  test('a few ranges: the whole blob (multiple ranges are not served)', async () => {
    const response = await one(ctx.base, get(`/v2/${name}/blobs/${image.config.digest}`, 'Range: bytes=0-0,2-3\r\n'));
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, image.config.bytes);
  });

  for (const [framing, close] of [['Content-Length', false], ['chunked', false], ['Content-Length', true]] as const) {
    test(`an 8 MiB + 1 manifest (${framing}${close ? ', Connection: close' : ''}): the client writes it all, then reads 413 SIZE_INVALID`, async () => {
      const size = 8 * MiB + 1;
      const head = `PUT /v2/${name}/manifests/huge HTTP/1.1\r\nHost: r\r\nContent-Type: ${OCI_MANIFEST}\r\n${close ? 'Connection: close\r\n' : ''}`;
      const request =
        framing === 'chunked'
          ? [`${head}Transfer-Encoding: chunked\r\n\r\n${size.toString(16)}\r\n`, Buffer.alloc(size, 0x20), '\r\n0\r\n\r\n']
          : [`${head}Content-Length: ${size}\r\n\r\n`, Buffer.alloc(size, 0x20)];
      const exchange = await rawRequest(ctx.base, request, { responses: 1 });
      assert.equal(exchange.error, undefined, `socket error ${exchange.error}`);
      assert.equal(exchange.responses.length, 1);
      assertOciError(exchange.responses[0]!, 413, 'SIZE_INVALID');
      assert.equal((await http('GET', `${ctx.base}/v2/${name}/manifests/huge`)).status, 404);
    });
  }

  test('the connection stays usable after a refused oversized manifest', async () => {
    const size = 5 * MiB;
    const exchange = await rawRequest(ctx.base, [
      `PUT /v2/${name}/manifests/huge HTTP/1.1\r\nHost: r\r\nContent-Length: ${size}\r\n\r\n`,
      Buffer.alloc(size, 0x20),
      get('/v2/'),
    ]);
    assert.equal(exchange.responses.length, 2);
    assertOciError(exchange.responses[0]!, 413, 'SIZE_INVALID');
    assert.equal(exchange.responses[1]!.status, 200);
  });

  for (const method of ['UNLINK', 'PROPFIND', 'OPTIONS', 'TRACE', 'BREW', 'POST']) {
    test(`${method} on a manifest: 405 UNSUPPORTED with Allow`, async () => {
      const response = await one(ctx.base, `${method} /v2/${name}/manifests/v1 HTTP/1.1\r\nHost: r\r\nConnection: close\r\n\r\n`);
      assertOciError(response, 405, 'UNSUPPORTED');
      assert.equal(response.headers.allow, 'GET, HEAD, PUT, DELETE');
    });
  }

  test('CONNECT is answered, not dropped', async () => {
    assertOciError(await one(ctx.base, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n'), 404, 'UNSUPPORTED');
  });

  for (const path of ['/v2/hostile/app/tags/list/', '/v2/hostile/app/manifests/v1/', '/v2/hostile/app/nothing', '/v2/_catalog/', '/nothing', '/v2/hostile/app/blobs/']) {
    test(`unknown path ${path}: 404 UNSUPPORTED`, async () => {
      assertOciError(await one(ctx.base, get(path)), 404, 'UNSUPPORTED');
    });
  }

  for (const [query, where] of [['n=abc', 'n='], ['n=-1', 'n='], ['n=1e3', 'n='], ['last=%00', 'last'], ['last=%ED%A0%80x', '']] as const) {
    test(`tag list with ${query}: 400 UNSUPPORTED naming the parameter`, async () => {
      const response = await one(ctx.base, get(`/v2/${name}/tags/list?${query}`));
      if (where === '') {
        // Percent-decoding turns invalid UTF-8 into U+FFFD: a valid (if useless) position.
        assert.equal(response.status, 200);
        return;
      }
      assertOciError(response, 400, 'UNSUPPORTED');
      assert.match(response.json().errors[0].message, new RegExp(where));
    });
  }

  test('the catalog with last=%00: 400 UNSUPPORTED', async () => {
    assertOciError(await one(ctx.base, get('/v2/_catalog?last=%00')), 400, 'UNSUPPORTED');
  });

  test('referrers with artifactType=%00: 400 UNSUPPORTED', async () => {
    const response = await one(ctx.base, get(`/v2/${name}/referrers/${image.manifest.digest}?artifactType=%00`));
    assertOciError(response, 400, 'UNSUPPORTED');
    assert.match(response.json().errors[0].message, /artifactType/);
  });

  // Only what is not a media type at all is refused (415 UNSUPPORTED); sloppy parameters pass.
  for (const contentType of [';;;', '', '/', 'x', 'text/plain;;']) {
    test(`a PATCH with Content-Type "${contentType}" is a 4xx in OCI form or accepted`, async () => {
      const start = await http('POST', `${ctx.base}/v2/${name}/blobs/uploads/`);
      const response = await one(ctx.base, `PATCH ${start.headers.location} HTTP/1.1\r\nHost: r\r\nContent-Type: ${contentType}\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc`);
      if (response.status === 202) return;
      assert.ok(response.status >= 400 && response.status < 500, String(response.status));
      assert.equal(ociErrorProblem(response), undefined);
    });
  }

  test('an HTTP/1.1 request without Host: 400 in OCI form', async () => {
    assertOciError(await one(ctx.base, 'GET /v2/ HTTP/1.1\r\nConnection: close\r\n\r\n'), 400, 'UNSUPPORTED');
  });

  test('an unknown expectation: 417 in OCI form', async () => {
    const response = await one(ctx.base, `PUT /v2/${name}/manifests/x HTTP/1.1\r\nHost: r\r\nExpect: teapot\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    assertOciError(response, 417, 'UNSUPPORTED');
  });

  test('garbage instead of a request line, and a malformed header: 400 in OCI form', async () => {
    assertOciError(await one(ctx.base, 'HELLO\r\n\r\n'), 400, 'UNSUPPORTED');
    assertOciError(await one(ctx.base, 'GET /v2/ HTTP/1.1\r\nHost: r\r\nBad Header: x\r\n\r\n'), 400, 'UNSUPPORTED');
    assertOciError(await one(ctx.base, 'GET /v2/ HTTP/1.1\r\nHost: r\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n'), 400, 'SIZE_INVALID');
  });

  test('under /api/v1/, parser-level refusals keep the admin error form', async () => {
    for (const request of ['GET /api/v1/users HTTP/1.1\r\nHost: r\r\nBad Header: x\r\n\r\n', get('/api/v1/%FF')]) {
      const response = await one(ctx.base, request);
      assert.equal(response.status, 400);
      assert.equal(typeof response.json().error.code, 'string');
      assert.equal(typeof response.json().error.message, 'string');
    }
  });

  describe_manifestText(ctx, name, image);
});

/** Manifests whose strings are not text are refused naming the field; odd but valid text is kept byte-exact. */
function describe_manifestText(ctx: { base: string }, name: string, image: ReturnType<typeof makeImage>): void {
  const base = () => JSON.parse(image.manifest.bytes.toString('utf8')) as Record<string, any>;
  const subject = { mediaType: OCI_MANIFEST, digest: image.manifest.digest, size: image.manifest.size };

  const refused: Array<[string, (m: Record<string, any>) => string, string]> = [
    ['a \\u0000 in an annotation value', (m) => JSON.stringify({ ...m, annotations: { a: 'x' } }).replace('"x"', '"x\\u0000y"'), 'annotations.a'],
    ['a \\u0000 in an annotation name', (m) => JSON.stringify({ ...m, annotations: { k: 'v' } }).replace('"k"', '"k\\u0000"'), 'annotations'],
    ['a lone high surrogate', (m) => JSON.stringify({ ...m, annotations: { a: 'x' } }).replace('"x"', '"\\ud800"'), 'annotations.a'],
    ['a lone low surrogate', (m) => JSON.stringify({ ...m, annotations: { a: 'x' } }).replace('"x"', '"a\\udc00b"'), 'annotations.a'],
    ['an artifactType with NUL', (m) => JSON.stringify({ ...m, artifactType: 'application/x' }).replace('"application/x"', '"application/x\\u0000"'), 'artifactType'],
    ['a config media type with NUL', (m) => JSON.stringify(m).replace('"application/vnd.oci.image.config.v1+json"', '"application/vnd.oci.image.config.v1+json\\u0000"'), 'config.mediaType'],
    ['a layer annotation with NUL', (m) => JSON.stringify({ ...m, layers: m.layers.map((l: object) => ({ ...l, annotations: { z: 'q' } })) }).replace('"q"', '"\\u0000"'), 'layers[0].annotations.z'],
    ['a subject annotation with a lone surrogate', (m) => JSON.stringify({ ...m, subject: { ...subject, annotations: { s: 'q' } } }).replace('"q"', '"\\udfff"'), 'subject.annotations.s'],
  ];
  for (const [label, build, field] of refused) {
    test(`a manifest with ${label} is MANIFEST_INVALID naming ${field}, never a 500`, async () => {
      const bytes = Buffer.from(build(base()));
      const response = await putManifest(ctx.base, name, 'text-bad', bytes, OCI_MANIFEST);
      assert.equal(response.status, 400, response.text());
      assert.equal(ociErrorProblem(response), undefined);
      const error = response.json().errors[0];
      assert.equal(error.code, 'MANIFEST_INVALID');
      assert.ok(String(error.detail?.field).startsWith(field), `field ${error.detail?.field}`);
      assert.equal((await http('GET', `${ctx.base}/v2/${name}/manifests/${sha256(bytes)}`)).status, 404);
    });
  }

  test('a manifest that is not UTF-8 is MANIFEST_INVALID', async () => {
    const bytes = Buffer.from(JSON.stringify({ ...base(), annotations: { a: 'XX' } }));
    bytes[bytes.indexOf('XX')] = 0xff;
    const response = await putManifest(ctx.base, name, 'not-utf8', bytes, OCI_MANIFEST);
    assert.equal(response.status, 400);
    assert.equal(response.json().errors[0].code, 'MANIFEST_INVALID');
  });

  test('odd but valid text is stored and served byte-exact, listings included', async () => {
    const odd = 'é 𝄞 😀 \u202e\u0301 \uffff \ufffe \u0001\u001f \u2028 "\\ \ud83d\ude00';
    const body = { ...base(), artifactType: `application/x.odd+${'é'}`, subject, annotations: { [odd]: odd, plain: 'v' } };
    // Escaped and raw spellings of the same text: both must come back exactly as sent.
    for (const bytes of [Buffer.from(JSON.stringify(body)), Buffer.from(JSON.stringify(body).replace('é', '\\u00e9'))]) {
      const response = await putManifest(ctx.base, name, sha256(bytes), bytes, OCI_MANIFEST);
      assert.equal(response.status, 201, response.text());
      const read = await http('GET', `${ctx.base}/v2/${name}/manifests/${sha256(bytes)}`);
      assert.deepEqual(read.body, bytes);
    }
    const referrers = await http('GET', `${ctx.base}/v2/${name}/referrers/${image.manifest.digest}`);
    assert.equal(referrers.status, 200);
    const entries = referrers.json().manifests as Array<{ annotations?: Record<string, string>; artifactType?: string }>;
    assert.ok(entries.length >= 2);
    for (const entry of entries) {
      assert.deepEqual(entry.annotations, { [odd]: odd, plain: 'v' });
      assert.equal(entry.artifactType, 'application/x.odd+é');
    }
    const filtered = await http('GET', `${ctx.base}/v2/${name}/referrers/${image.manifest.digest}?artifactType=${encodeURIComponent('application/x.odd+é')}`);
    assert.equal(filtered.json().manifests.length, entries.length);
  });

  test('a manifest nested 100,000 levels deep is answered without a 5xx', async () => {
    const deep = `{"schemaVersion":2,"mediaType":"${OCI_INDEX}","manifests":[],"x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const response = await putManifest(ctx.base, name, 'deep', Buffer.from(deep), OCI_INDEX);
    assert.ok(response.status === 201 || (response.status >= 400 && response.status < 500), `${response.status} ${response.text().slice(0, 200)}`);
    if (response.status === 201) assert.deepEqual((await http('GET', `${ctx.base}/v2/${name}/manifests/deep`)).body, Buffer.from(deep));
  });

  test('a blob of hostile bytes round-trips (blobs are bytes, not text)', async () => {
    const blob = blobOf(Buffer.from('\u0000\ud800{"a":"\\u0000"}', 'utf8'));
    const post = await http('POST', `${ctx.base}/v2/${name}/blobs/uploads/?digest=${blob.digest}`, { body: blob.bytes, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(post.status, 201, post.text());
    assert.deepEqual((await http('GET', `${ctx.base}/v2/${name}/blobs/${blob.digest}`)).body, blob.bytes);
  });
}
