/**
 * A seeded random walk over the whole /v2/ surface: methods × paths × headers × bodies, each
 * request written as exact bytes on its own connection (so framing can be broken on purpose).
 *
 * Invariants: every request is answered, never with a 5xx; every 4xx/5xx with a body is the
 * spec's error JSON with a spec code; the server logs no unhandled error; and afterwards
 * everything that was acknowledged (blobs, manifests, tags) reads back byte-exact while nothing
 * that was refused is served.
 *
 * CAIRN_FUZZ_SEED reproduces a run (the seed is always printed); CAIRN_FUZZ_REQUESTS sets its
 * length (default 2,000 per database).
 */
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { test } from 'node:test';
import { http } from '../support/http.js';
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, DOCKER_MANIFEST, blobOf, makeImage, pushImage, sha256, type Blob } from '../support/oci.js';
import { Rng } from '../support/prng.js';
import { ociErrorProblem, rawRequest, type RawResponse } from '../support/raw-http.js';
import { describeOnEachDatabase } from '../support/suite.js';

const SEED = process.env.CAIRN_FUZZ_SEED ? Number(process.env.CAIRN_FUZZ_SEED) : randomInt(2 ** 31);
const REQUESTS = Number(process.env.CAIRN_FUZZ_REQUESTS ?? 2000);
const CONCURRENCY = 6;
console.log(`fuzz: CAIRN_FUZZ_SEED=${SEED} CAIRN_FUZZ_REQUESTS=${REQUESTS}`);

/** Repositories whose content the model tracks; DELETE never targets their content. */
const TRACKED = ['fuzz/a', 'fuzz/b/c'];
const SCRATCH = 'fuzz/scratch';
const INVALID_NAMES = ['Fuzz', 'a/../b', '%2E%2E/x', 'a%2Fb', '%FF', 'a%00b', 'a//b', '-a', 'a-', 'x'.repeat(256), '_catalog', 'a b', 'caf\u00e9'];
const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'PROPFIND', 'UNLINK', 'MKCOL', 'BREW', 'CONNECT'];
const HOSTILE_TEXT = ['\\u0000', 'a\\u0000b', '\\ud800', '\\udfff', 'x\\ud83d', '\u00e9\u0301', '\ud83d\ude00', '\u202e', '\uffff', '\\u0001', '"quoted"', '\\\\', 'x'.repeat(5000), ''];
const ODD_QUERY = ['%00', '%FF', '%ED%A0%80', 'abc', '-1', '1e3', '0', '1', '99999999999', '%', '%%', 'a%20b', '\u00e9'];
const CONTENT_TYPES = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, 'application/octet-stream', 'application/json', ';;;', '', '/', 'x', 'text/plain;;', 'a/b; charset=', `${OCI_MANIFEST}; charset=utf-8`];

type Framing = 'none' | 'length' | 'chunked' | 'short' | 'long' | 'broken-chunked';

/** What the model learns when a request is answered with 2xx. */
type Effect =
  | { kind: 'manifest'; repo: string; digest: string; tag?: string; bytes: Buffer }
  | { kind: 'blob'; repo: string; digest: string; bytes: Buffer }
  | { kind: 'mount'; repo: string; digest: string; bytes: Buffer }
  | { kind: 'upload-complete'; repo: string };

interface FuzzRequest {
  readonly method: string;
  readonly target: string;
  readonly headers: Array<[string, string]>;
  readonly body: Buffer;
  readonly framing: Framing;
  readonly effect?: Effect;
}

interface Seeded {
  readonly images: Map<string, ReturnType<typeof makeImage>>;
  readonly uploads: string[];
}

class Model {
  readonly manifests = new Map<string, Buffer>(); // `${repo}@${digest}`
  readonly tags = new Map<string, string>(); // `${repo}:${tag}` -> digest
  readonly blobs = new Map<string, Buffer | undefined>(); // `${repo}@${digest}`; undefined: bytes unknown, digest must match
  readonly refusedManifests = new Set<string>();
  readonly refusedBlobs = new Set<string>();

  record(effect: Effect | undefined, status: number, response: RawResponse): void {
    if (!effect) return;
    const key = `${effect.kind === 'upload-complete' ? effect.repo : effect.repo}@`;
    if (effect.kind === 'manifest') {
      if (status === 201) {
        this.manifests.set(key + effect.digest, effect.bytes);
        if (effect.tag) this.tags.set(`${effect.repo}:${effect.tag}`, effect.digest);
      } else if (status >= 400) this.refusedManifests.add(key + effect.digest);
    } else if (effect.kind === 'blob') {
      if (status === 201) this.blobs.set(key + effect.digest, effect.bytes);
      else if (status >= 400) this.refusedBlobs.add(key + effect.digest);
    } else if (effect.kind === 'mount') {
      if (status === 201) this.blobs.set(key + effect.digest, effect.bytes);
    } else if (status === 201) {
      const digest = response.headers['docker-content-digest'];
      if (digest) this.blobs.set(key + digest, this.blobs.get(key + digest));
    }
  }
}

describeOnEachDatabase('fuzz: the whole /v2/ surface', (ctx) => {
  test(`${REQUESTS} seeded requests (CAIRN_FUZZ_SEED=${SEED})`, { timeout: 240_000 }, async (t) => {
    t.diagnostic(`CAIRN_FUZZ_SEED=${SEED}`);
    statuses.clear();
    const seeded = await seed(ctx.base);
    const model = new Model();
    for (const [repo, image] of seeded.images) {
      if (!TRACKED.includes(repo)) continue; // the scratch repository is DELETE's playground
      model.manifests.set(`${repo}@${image.manifest.digest}`, image.manifest.bytes);
      model.tags.set(`${repo}:seed`, image.manifest.digest);
      for (const blob of [image.config, ...image.layers]) model.blobs.set(`${repo}@${blob.digest}`, blob.bytes);
    }
    const rng = new Rng(SEED);
    const requests = Array.from({ length: REQUESTS }, (_, i) => generate(rng, seeded, i));
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < requests.length && failures.length < 20) {
        const index = next++;
        const request = requests[index]!;
        const problem = await exchange(ctx.base, request, model);
        if (problem) failures.push(`#${index} ${describe(request)}: ${problem}`);
      }
    };
    const started = Date.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    t.diagnostic(`${next} requests in ${Date.now() - started} ms; answers by status: ${JSON.stringify(Object.fromEntries([...statuses].sort(([a], [b]) => a - b)))}`);
    t.diagnostic(`acknowledged: ${model.manifests.size} manifests, ${model.tags.size} tags, ${model.blobs.size} blobs; refused: ${model.refusedManifests.size} manifests, ${model.refusedBlobs.size} blobs`);
    const unhandled = ctx.server.logs.filter((line) => line.includes('"level":50') || line.includes('"level":60'));
    assert.deepEqual(failures, [], `CAIRN_FUZZ_SEED=${SEED}; the server logged:\n${unhandled.slice(0, 5).join('\n').slice(0, 5000)}`);
    assert.deepEqual(unhandled, [], `CAIRN_FUZZ_SEED=${SEED}: errors logged`);
    await verify(ctx.base, model, SEED);
  });
});

async function seed(base: string): Promise<Seeded> {
  const images = new Map<string, ReturnType<typeof makeImage>>();
  for (const repo of [...TRACKED, SCRATCH]) {
    const image = makeImage({ layers: 2 });
    await pushImage(base, repo, image, 'seed');
    images.set(repo, image);
  }
  const uploads: string[] = [];
  for (const repo of [...TRACKED, SCRATCH]) {
    for (let i = 0; i < 3; i++) {
      const start = await http('POST', `${base}/v2/${repo}/blobs/uploads/`);
      assert.equal(start.status, 202);
      uploads.push(start.headers.location!);
    }
  }
  return { images, uploads };
}

/** Sends one request and checks its answers; returns what is wrong, if anything. */
const statuses = new Map<number, number>();

async function exchange(base: string, request: FuzzRequest, model: Model): Promise<string | undefined> {
  const result = await rawRequest(base, serialize(request), {
    halfClose: request.framing === 'short',
    bodyless: request.method === 'HEAD' ? new Set([0]) : new Set(),
    timeoutMs: 20_000,
  });
  if (result.responses.length === 0) return `no answer (socket error ${result.error ?? 'none'})`;
  if (result.leftover.length > 0) return `bytes that are no HTTP response: ${JSON.stringify(result.leftover.toString('latin1').slice(0, 200))}`;
  for (const [i, response] of result.responses.entries()) {
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    if (response.status >= 500) return `status ${response.status}: ${response.body.toString('utf8').slice(0, 300)}`;
    if (response.status >= 400 && !(request.method === 'HEAD' && i === 0)) {
      const problem = ociErrorProblem(response);
      if (problem) return `status ${response.status}, not the OCI error form: ${problem}`;
    }
  }
  const first = result.responses[0]!;
  model.record(first.status < 300 || first.status >= 400 ? request.effect : undefined, first.status, first);
  return undefined;
}

function describe(request: FuzzRequest): string {
  const headers = request.headers.map(([k, v]) => `${k}: ${JSON.stringify(v.slice(0, 80))}`).join(', ');
  return `${request.method} ${request.target.slice(0, 120)} [${request.framing}, ${request.body.length} bytes${headers ? `, ${headers}` : ''}]`;
}

function serialize(request: FuzzRequest): Buffer {
  const head = [`${request.method} ${request.target} HTTP/1.1`, 'Host: fuzz', ...request.headers.map(([k, v]) => `${k}: ${v}`), 'Connection: close'];
  const body = request.body;
  switch (request.framing) {
    case 'none':
      return Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1');
    case 'length':
      return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\nContent-Length: ${body.length}\r\n\r\n`, 'latin1'), body]);
    case 'short':
      return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\nContent-Length: ${body.length + 10}\r\n\r\n`, 'latin1'), body]);
    case 'long':
      return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\nContent-Length: ${Math.floor(body.length / 2)}\r\n\r\n`, 'latin1'), body]);
    case 'chunked':
    case 'broken-chunked': {
      const parts: Buffer[] = [Buffer.from(`${head.join('\r\n')}\r\nTransfer-Encoding: chunked\r\n\r\n`, 'latin1')];
      for (let at = 0; at < body.length; at += 997) {
        const piece = body.subarray(at, at + 997);
        parts.push(Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n'));
      }
      parts.push(Buffer.from(request.framing === 'chunked' ? '0\r\n\r\n' : 'zz\r\nbroken\r\n0\r\n\r\n'));
      return Buffer.concat(parts);
    }
  }
}

// ---- generation -------------------------------------------------------------------------------

function generate(rng: Rng, seeded: Seeded, index: number): FuzzRequest {
  const roll = rng.next();
  if (roll < 0.22) return manifestPut(rng, seeded, index);
  if (roll < 0.34) return blobPush(rng, seeded);
  if (roll < 0.42) return uploadRequest(rng, seeded);
  if (roll < 0.55) return listing(rng, seeded);
  if (roll < 0.7) return read(rng, seeded);
  return anything(rng, seeded);
}

function trackedRepo(rng: Rng): string {
  return rng.pick(TRACKED);
}

function anyName(rng: Rng): string {
  const roll = rng.next();
  if (roll < 0.6) return rng.pick([...TRACKED, SCRATCH]);
  if (roll < 0.75) return `fuzz/new${rng.int(5)}`;
  return rng.pick(INVALID_NAMES);
}

function digestLike(rng: Rng, seeded: Seeded): string {
  const image = rng.pick([...seeded.images.values()]);
  return rng.pick([
    image.manifest.digest,
    image.config.digest,
    image.layers[0]!.digest,
    `sha256:${'0'.repeat(64)}`,
    'sha256:xyz',
    `sha256:${'A'.repeat(64)}`,
    `sha512:${'1'.repeat(128)}`,
    'md5:abc',
    'sha256:%00',
    'sha256:%FF',
    `sha256:${'f'.repeat(63)}`,
    'sha256:',
  ]);
}

function referenceLike(rng: Rng, seeded: Seeded): string {
  return rng.chance(0.5) ? digestLike(rng, seeded) : rng.pick(['seed', 'latest', 'nope', '-bad', 'x'.repeat(129), '%00', '%FF', 'a%2Fb', '..', 'v1.0', 'A_b-c.1']);
}

function headers(rng: Rng, extra: Array<[string, string]> = []): Array<[string, string]> {
  const out: Array<[string, string]> = [...extra];
  if (rng.chance(0.15)) out.push(['Accept', rng.pick([OCI_MANIFEST, '*/*', 'text/html', ',,,', `${DOCKER_MANIFEST};q=0.5, ${OCI_INDEX}`, 'é'])]);
  if (rng.chance(0.1)) {
    out.push([
      'Authorization',
      rng.pick([
        'Basic ' + Buffer.from('a\u0000b:pw').toString('base64'),
        'Basic ' + Buffer.from('\u00e9:\u0000').toString('base64'),
        'Basic ' + Buffer.from([0xff, 0xfe, 0x3a, 0x00]).toString('base64'),
        'Basic !!!',
        'Basic',
        'Bearer x.y.z',
        'Bearer ',
        'Digest username="x"',
        'basic ' + Buffer.from(':').toString('base64'),
      ]),
    ]);
  }
  if (rng.chance(0.08)) out.push(['Range', rng.pick(['bytes=0-0', 'bytes=-1', 'bytes=5-2', 'bytes=abc', 'bytes=0-0,1-1', 'items=0-1', 'bytes=99999999999999999999-'])]);
  if (rng.chance(0.05)) out.push(['Expect', rng.pick(['100-continue', 'teapot'])]);
  if (rng.chance(0.05)) out.push(['X-Odd', Buffer.from([0xe9, 0x80, 0xff]).toString('latin1')]);
  if (rng.chance(0.03)) out.push(['Upgrade', 'websocket']);
  return out;
}

function framingFor(rng: Rng, body: Buffer): Framing {
  if (body.length === 0) return rng.chance(0.8) ? 'none' : 'length';
  const roll = rng.next();
  if (roll < 0.75) return 'length';
  if (roll < 0.9) return 'chunked';
  return rng.pick(['short', 'long', 'broken-chunked'] as const);
}

function manifestPut(rng: Rng, seeded: Seeded, index: number): FuzzRequest {
  const repo = rng.chance(0.9) ? trackedRepo(rng) : anyName(rng);
  const image = seeded.images.get(repo) ?? rng.pick([...seeded.images.values()]);
  const body = manifestBody(rng, image);
  const digest = sha256(body);
  const byDigest = rng.chance(0.3);
  const tag = rng.chance(0.9) ? `f${index}` : rng.pick(['-bad', 'x'.repeat(129), '%00', 'a%2Fb']);
  const reference = byDigest ? (rng.chance(0.9) ? digest : sha256('other')) : tag;
  const contentType = rng.chance(0.7) ? OCI_MANIFEST : rng.pick(CONTENT_TYPES);
  const framing = rng.chance(0.9) ? (rng.chance(0.85) ? 'length' : 'chunked') : framingFor(rng, body);
  const tracked = TRACKED.includes(repo) && (framing === 'length' || framing === 'chunked');
  return {
    method: 'PUT',
    target: `/v2/${repo}/manifests/${reference}`,
    headers: headers(rng, contentType === '' && rng.chance(0.5) ? [] : [['Content-Type', contentType]]),
    body,
    framing,
    ...(tracked ? { effect: { kind: 'manifest', repo, digest, ...(byDigest ? {} : { tag }), bytes: body } } : {}),
  };
}

function manifestBody(rng: Rng, image: ReturnType<typeof makeImage>): Buffer {
  const roll = rng.next();
  if (roll < 0.05) return Buffer.from(rng.pick(['', '{', '[]', 'null', '{"schemaVersion":1}', '\ufeff{}', '{"schemaVersion":2}']));
  if (roll < 0.08) return Buffer.from(Array.from({ length: rng.int(200) }, () => rng.int(256)));
  if (roll < 0.085) return Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
  const descriptor = (blob: Blob, mediaType: string) => ({ mediaType, digest: blob.digest, size: blob.size });
  const manifest: Record<string, unknown> = rng.chance(0.85)
    ? {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: descriptor(image.config, OCI_CONFIG),
        layers: image.layers.map((l) => descriptor(l, OCI_LAYER)),
      }
    : { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [descriptor(image.manifest, OCI_MANIFEST)] };
  if (rng.chance(0.15)) (manifest.layers as unknown[] | undefined)?.push(descriptor(blobOf(`missing${rng.next()}`), OCI_LAYER));
  if (rng.chance(0.4)) manifest.annotations = { [`k${rng.int(3)}`]: '\u0002MARK\u0002', 'org.opencontainers.image.created': new Date(0).toISOString() };
  if (rng.chance(0.2)) manifest.artifactType = 'application/x.fuzz\u0003MARK\u0003';
  if (rng.chance(0.2)) manifest.subject = descriptor(image.manifest, OCI_MANIFEST);
  manifest.salt = rng.next();
  // Hostile text goes in as raw JSON escapes, which JSON.stringify would never write.
  let text = JSON.stringify(manifest);
  text = text.replace(/\\u0002MARK\\u0002/g, () => rng.pick(HOSTILE_TEXT)).replace(/\\u0003MARK\\u0003/g, () => rng.pick(HOSTILE_TEXT));
  if (rng.chance(0.03)) text = text.replace('"salt"', `"deep":${'['.repeat(2000)}${']'.repeat(2000)},"salt"`);
  return Buffer.from(text, 'utf8');
}

function blobPush(rng: Rng, seeded: Seeded): FuzzRequest {
  const repo = rng.chance(0.85) ? trackedRepo(rng) : anyName(rng);
  const roll = rng.next();
  if (roll < 0.2) {
    const source = rng.pick([...TRACKED, SCRATCH, 'fuzz/none', 'Bad']);
    const blob = rng.pick([seeded.images.get(source)?.config ?? blobOf('none'), blobOf('never pushed')]);
    const from = rng.chance(0.7) ? `&from=${source}` : '';
    const tracked = TRACKED.includes(repo) && seeded.images.has(source) && source !== repo;
    return {
      method: 'POST',
      target: `/v2/${repo}/blobs/uploads/?mount=${rng.chance(0.9) ? blob.digest : rng.pick(ODD_QUERY)}${from}`,
      headers: headers(rng),
      body: Buffer.alloc(0),
      framing: 'none',
      ...(tracked && from && blob !== undefined && seeded.images.get(source)?.config === blob ? { effect: { kind: 'mount', repo, digest: blob.digest, bytes: blob.bytes } } : {}),
    };
  }
  const bytes = Buffer.from(Array.from({ length: rng.int(3000) }, () => rng.int(256)));
  const honest = rng.chance(0.6);
  const digest = honest ? sha256(bytes) : rng.chance(0.5) ? sha256(`${rng.next()}`) : rng.pick(ODD_QUERY);
  const framing = rng.chance(0.85) ? 'length' : framingFor(rng, bytes);
  const tracked = TRACKED.includes(repo) && digest.startsWith('sha256:') && (framing === 'length' || framing === 'chunked');
  return {
    method: 'POST',
    target: `/v2/${repo}/blobs/uploads/?digest=${digest}`,
    headers: headers(rng, rng.chance(0.8) ? [['Content-Type', 'application/octet-stream']] : [['Content-Type', rng.pick(CONTENT_TYPES)]]),
    body: bytes,
    framing,
    ...(tracked ? { effect: { kind: 'blob', repo, digest, bytes } } : {}),
  };
}

function uploadRequest(rng: Rng, seeded: Seeded): FuzzRequest {
  const location = rng.chance(0.85) ? rng.pick(seeded.uploads) : `/v2/${anyName(rng)}/blobs/uploads/${rng.pick(['nope', '%00', '..', '00000000-0000-0000-0000-000000000000', 'x'.repeat(300)])}`;
  const repo = location.slice('/v2/'.length, location.indexOf('/blobs/uploads/'));
  const method = rng.pick(['PATCH', 'PATCH', 'PUT', 'GET', 'DELETE', 'POST', 'HEAD']);
  const bytes = method === 'PATCH' || method === 'PUT' ? Buffer.from(Array.from({ length: rng.int(2000) }, () => rng.int(256))) : Buffer.alloc(0);
  const extra: Array<[string, string]> = [];
  if (rng.chance(0.3)) extra.push(['Content-Range', rng.pick(['0-0', `0-${bytes.length - 1}`, 'bytes=0-9', '5-2', 'abc', '99999999999999999-1', `*/${bytes.length}`])]);
  if (rng.chance(0.3)) extra.push(['Content-Type', rng.pick(CONTENT_TYPES)]);
  const query = method === 'PUT' ? `?digest=${rng.pick([sha256(bytes), `sha256:${'0'.repeat(64)}`, ...ODD_QUERY])}` : '';
  const tracked = method === 'PUT' && TRACKED.includes(repo) && location.includes('-');
  // DELETE on a tracked repository's upload session only cancels the session: no tracked content.
  return {
    method,
    target: `${location}${query}`,
    headers: headers(rng, extra),
    body: bytes,
    framing: framingFor(rng, bytes),
    ...(tracked ? { effect: { kind: 'upload-complete', repo } } : {}),
  };
}

function listing(rng: Rng, seeded: Seeded): FuzzRequest {
  const query = (key: string) => (rng.chance(0.5) ? `${key}=${rng.chance(0.5) ? rng.pick(ODD_QUERY) : rng.pick(['seed', 'f1', 'fuzz/a', '10'])}` : '');
  const params = () => [query('n'), query('last'), rng.chance(0.1) ? 'n=1&n=2' : ''].filter(Boolean).join('&');
  const roll = rng.next();
  const target =
    roll < 0.35
      ? `/v2/${anyName(rng)}/tags/list?${params()}`
      : roll < 0.55
        ? `/v2/_catalog?${params()}`
        : `/v2/${anyName(rng)}/referrers/${digestLike(rng, seeded)}${rng.chance(0.5) ? `?artifactType=${rng.pick([...ODD_QUERY, 'application%2Fx.fuzz'])}` : ''}`;
  return { method: rng.chance(0.9) ? 'GET' : rng.pick(METHODS.filter((m) => m !== 'CONNECT')), target, headers: headers(rng), body: Buffer.alloc(0), framing: 'none' };
}

function read(rng: Rng, seeded: Seeded): FuzzRequest {
  const name = anyName(rng);
  const target = rng.chance(0.5) ? `/v2/${name}/manifests/${referenceLike(rng, seeded)}` : `/v2/${name}/blobs/${digestLike(rng, seeded)}`;
  return { method: rng.pick(['GET', 'GET', 'HEAD']), target, headers: headers(rng), body: Buffer.alloc(0), framing: 'none' };
}

/** Any method on any path, including ones no route has, with any body. */
function anything(rng: Rng, seeded: Seeded): FuzzRequest {
  let method = rng.pick(METHODS);
  const name = anyName(rng);
  let target = rng.pick([
    '/v2/',
    '/v2',
    '/',
    '/v1/',
    '/v2//',
    `/v2/${name}`,
    `/v2/${name}/`,
    `/v2/${name}/tags/list/`,
    `/v2/${name}/manifests/`,
    `/v2/${name}/manifests/${referenceLike(rng, seeded)}/`,
    `/v2/${name}/blobs/`,
    `/v2/${name}/blobs/uploads`,
    `/v2/${name}/${rng.pick(['x', '%00', '..', '%2e%2e', '%FF'])}`,
    `/v2/${name}/manifests/${referenceLike(rng, seeded)}`,
    `/v2/${name}/blobs/${digestLike(rng, seeded)}`,
    `/v2/../../etc/passwd`,
    '/v2/_catalog/x',
    `/v2/${'a/'.repeat(600)}tags/list`,
    '*',
    'http://fuzz/v2/',
  ]);
  // Deletes never touch the content the model tracks.
  if (method === 'DELETE' && TRACKED.some((repo) => target.startsWith(`/v2/${repo}/`))) target = target.replace(/^\/v2\/[^?]*/, `/v2/${SCRATCH}/manifests/${referenceLike(rng, seeded)}`);
  if (method === 'CONNECT' && rng.chance(0.5)) target = 'fuzz:443';
  if (method === 'PUT' && TRACKED.some((repo) => target.includes(`/v2/${repo}/manifests/`))) method = 'GET';
  const body = rng.chance(0.4) ? Buffer.from(Array.from({ length: rng.int(500) }, () => rng.int(256))) : Buffer.alloc(0);
  return { method, target, headers: headers(rng, rng.chance(0.3) ? [['Content-Type', rng.pick(CONTENT_TYPES)]] : []), body, framing: method === 'CONNECT' ? 'none' : framingFor(rng, body) };
}

// ---- verification ---------------------------------------------------------------------------------

async function verify(base: string, model: Model, seedValue: number): Promise<void> {
  const problems: string[] = [];
  for (const [key, bytes] of model.manifests) {
    const [repo, digest] = key.split('@') as [string, string];
    const response = await http('GET', `${base}/v2/${repo}/manifests/${digest}`, { headers: { accept: '*/*' } });
    if (response.status !== 200 || !response.body.equals(bytes)) problems.push(`manifest ${key}: ${response.status}`);
  }
  for (const [key, digest] of model.tags) {
    const [repo, tag] = key.split(':') as [string, string];
    const response = await http('GET', `${base}/v2/${repo}/manifests/${tag}`, { headers: { accept: '*/*' } });
    if (response.status !== 200 || response.headers['docker-content-digest'] !== digest) problems.push(`tag ${key}: ${response.status} ${response.headers['docker-content-digest']} != ${digest}`);
  }
  for (const [key, bytes] of model.blobs) {
    const [repo, digest] = key.split('@') as [string, string];
    const response = await http('GET', `${base}/v2/${repo}/blobs/${digest}`);
    if (response.status !== 200 || sha256(response.body) !== digest || (bytes && !response.body.equals(bytes))) problems.push(`blob ${key}: ${response.status}`);
  }
  for (const key of model.refusedManifests) {
    if (model.manifests.has(key)) continue;
    const [repo, digest] = key.split('@') as [string, string];
    const response = await http('GET', `${base}/v2/${repo}/manifests/${digest}`, { headers: { accept: '*/*' } });
    if (response.status !== 404) problems.push(`refused manifest ${key} is served: ${response.status}`);
  }
  for (const key of model.refusedBlobs) {
    if (model.blobs.has(key) || !key.includes('@sha256:')) continue;
    const [repo, digest] = key.split('@') as [string, string];
    const response = await http('GET', `${base}/v2/${repo}/blobs/${digest}`);
    if (response.status !== 404 && response.status !== 400) problems.push(`refused blob ${key} is served: ${response.status}`);
  }
  assert.deepEqual(problems, [], `CAIRN_FUZZ_SEED=${seedValue}: ${model.manifests.size} manifests, ${model.tags.size} tags, ${model.blobs.size} blobs checked`);
}
