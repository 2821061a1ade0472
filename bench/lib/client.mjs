// Registry client operations over one keep-alive undici Pool per target.
// Every response body is consumed or dumped so sockets return to the pool.
import { createHash } from 'node:crypto';
import { Pool, request as plainRequest } from 'undici';
import { blobPieces } from './blobgen.mjs';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const MANIFEST_ACCEPT = [
  OCI_MANIFEST,
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

export class RegistryClient {
  constructor(baseUrl, { connections = 32 } = {}) {
    this.base = new URL(baseUrl);
    this.pool = new Pool(this.base.origin, {
      connections,
      keepAliveTimeout: 30_000,
      headersTimeout: 60_000,
      bodyTimeout: 120_000,
    });
  }

  close() {
    return this.pool.close();
  }

  /** Issues a request and fails loudly on an unexpected status (after draining the body). */
  async call(method, path, { headers = {}, body, expect = [200], read = 'dump' } = {}) {
    const res = await this.pool.request({ method, path, headers, body });
    if (!expect.includes(res.statusCode)) {
      const text = await res.body.text().catch(() => '');
      throw new Error(`${method} ${path} -> ${res.statusCode} ${text.slice(0, 300)}`);
    }
    if (read === 'stream') return res;
    const out = { status: res.statusCode, headers: res.headers };
    if (read === 'text') out.text = await res.body.text();
    else await res.body.dump();
    return out;
  }

  /** Location headers may be absolute or relative; the pool wants a path. */
  pathOf(location) {
    const url = new URL(location, this.base);
    return url.pathname + url.search;
  }

  async ping() {
    return this.call('GET', '/v2/', { expect: [200, 401] });
  }

  async startUpload(repo) {
    const res = await this.call('POST', `/v2/${repo}/blobs/uploads/`, { expect: [202] });
    return this.pathOf(res.headers.location);
  }

  /** Appends `?digest=` (or `&digest=`) to an upload location. */
  withDigest(path, digest) {
    return `${path}${path.includes('?') ? '&' : '?'}digest=${encodeURIComponent(digest)}`;
  }

  /** Monolithic push: POST, then one PUT carrying the whole body. */
  async pushBlob(repo, digest, body, size) {
    const loc = await this.startUpload(repo);
    await this.call('PUT', this.withDigest(loc, digest), {
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body,
      expect: [201],
    });
  }

  /** Monolithic push of a generated blob, streamed. */
  pushGenerated(repo, seed, size, digest) {
    return this.pushBlob(repo, digest, blobPieces(seed, size), size);
  }

  /** Chunked push: POST, PATCH per chunk with Content-Range, then an empty PUT ?digest=. */
  async pushChunked(repo, seed, size, digest, chunkSize) {
    let loc = await this.startUpload(repo);
    const pieces = blobPieces(seed, size);
    for (let start = 0; start < size; start += chunkSize) {
      const len = Math.min(chunkSize, size - start);
      const res = await this.call('PATCH', loc, {
        headers: {
          'content-type': 'application/octet-stream',
          'content-length': String(len),
          'content-range': `${start}-${start + len - 1}`,
        },
        body: take(pieces, len),
        expect: [202],
      });
      loc = this.pathOf(res.headers.location);
    }
    await this.call('PUT', this.withDigest(loc, digest), {
      headers: { 'content-length': '0' },
      expect: [201],
    });
  }

  /**
   * GET a blob, counting bytes without keeping them; `verify` also hashes them
   * (off in timed runs: hashing would compete with the server for CPU).
   * Follows one redirect, as an S3 backend may answer with one.
   */
  async pullBlob(repo, digest, { verify = false } = {}) {
    const path = `/v2/${repo}/blobs/${digest}`;
    let res = await this.call('GET', path, { expect: [200, 307, 302], read: 'stream' });
    if (res.statusCode !== 200) {
      const location = new URL(res.headers.location, this.base);
      await res.body.dump();
      res = await plainRequest(location);
      if (res.statusCode !== 200) throw new Error(`GET ${location} -> ${res.statusCode}`);
    }
    const hash = verify ? createHash('sha256') : undefined;
    let bytes = 0;
    for await (const piece of res.body) {
      bytes += piece.length;
      hash?.update(piece);
    }
    if (hash && `sha256:${hash.digest('hex')}` !== digest) throw new Error(`GET ${path}: content does not match digest`);
    return bytes;
  }

  async headBlob(repo, digest) {
    return this.call('HEAD', `/v2/${repo}/blobs/${digest}`);
  }

  async putManifest(repo, ref, json, mediaType = OCI_MANIFEST) {
    return this.call('PUT', `/v2/${repo}/manifests/${ref}`, {
      headers: { 'content-type': mediaType },
      body: json,
      expect: [201],
    });
  }

  async getManifest(repo, ref) {
    const res = await this.call('GET', `/v2/${repo}/manifests/${ref}`, {
      headers: { accept: MANIFEST_ACCEPT },
      read: 'text',
    });
    return res.text;
  }

  /** Returns the digest the registry reports for a tag, as BuildKit's resolver does. */
  async headManifest(repo, ref) {
    const res = await this.call('HEAD', `/v2/${repo}/manifests/${ref}`, {
      headers: { accept: MANIFEST_ACCEPT },
    });
    return res.headers['docker-content-digest'];
  }

  async getBlobText(repo, digest) {
    const res = await this.call('GET', `/v2/${repo}/blobs/${digest}`, { read: 'text' });
    return res.text;
  }
}

/** Async iterable over exactly `len` bytes drawn from a shared piece generator. */
async function* take(pieces, len) {
  let left = len;
  while (left > 0) {
    const { value, done } = pieces.next();
    if (done) throw new Error('blob generator ran dry');
    // Chunk sizes are multiples of the piece size in practice; split defensively.
    if (value.length > left) throw new Error('chunk size must be a multiple of 1 MiB');
    left -= value.length;
    yield value;
  }
}
