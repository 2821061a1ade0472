/**
 * Helpers for the builds tests: context tars, multipart bodies, following a build's events, and a
 * busybox base image pushed over HTTP (RUN steps need a shell; the machine has no internet).
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { request } from 'undici';
import { http } from '../../support/http.js';
import { buildBusyboxImage } from '../../support/images.js';

/** A Dockerfile line for the busybox base pushed by pushBusyboxBase. */
export const BUSYBOX_BASE = 'base/busybox:latest';

/** Pushes the busybox image (test/support/images.ts) as `base/busybox:latest` with `headers`' credentials. */
export async function pushBusyboxBase(base: string, headers: Record<string, string>, reference = BUSYBOX_BASE): Promise<void> {
  const colon = reference.lastIndexOf(':');
  const [name, tag] = [reference.slice(0, colon), reference.slice(colon + 1)];
  const image = buildBusyboxImage();
  for (const [digest, bytes] of [[image.layerDigest, image.layer], [image.configDigest, image.config]] as const) {
    const start = await http('POST', `${base}/v2/${name}/blobs/uploads/`, { headers });
    assert.equal(start.status, 202, start.text());
    const location = new URL(start.headers.location!, base);
    location.searchParams.set('digest', digest);
    const put = await http('PUT', location.toString(), { headers: { ...headers, 'content-type': 'application/octet-stream' }, body: bytes });
    assert.equal(put.status, 201, put.text());
  }
  const manifest = await http('PUT', `${base}/v2/${name}/manifests/${tag}`, { headers: { ...headers, 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: image.manifest });
  assert.equal(manifest.status, 201, manifest.text());
}

export async function tarOf(files: Record<string, string | Buffer>): Promise<Buffer> {
  const pack = tar.pack();
  for (const [name, content] of Object.entries(files)) pack.entry({ name, mtime: new Date(0) }, content);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A multipart/form-data body with the given parts in order. */
export function multipart(parts: Array<{ name: string; content: string | Buffer; filename?: string; type?: string }>): { body: Buffer; contentType: string } {
  const boundary = `----cairn-test-${Math.random().toString(36).slice(2)}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename ? `; filename="${part.filename}"` : ''}`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\nContent-Type: ${part.type ?? 'application/octet-stream'}\r\n\r\n`));
    chunks.push(Buffer.isBuffer(part.content) ? part.content : Buffer.from(part.content));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

export async function buildBody(request: object, files: Record<string, string | Buffer>): Promise<{ body: Buffer; contentType: string }> {
  return multipart([
    { name: 'request', content: JSON.stringify(request), type: 'application/json' },
    { name: 'context', content: await tarOf(files), filename: 'context.tar', type: 'application/x-tar' },
  ]);
}

export interface ReceivedEvent {
  readonly at: number;
  readonly line: Record<string, any>;
}

/** Follows GET /builds/{id}/events to its end; every line with the time it arrived. */
export async function followEvents(base: string, id: string, headers: Record<string, string>, after = 0): Promise<ReceivedEvent[]> {
  const response = await request(`${base}/api/v1/builds/${id}/events?after=${after}`, { headers });
  if (response.statusCode !== 200) throw new Error(`events: ${response.statusCode} ${await response.body.text()}`);
  const received: ReceivedEvent[] = [];
  let buffered = '';
  for await (const chunk of response.body) {
    buffered += (chunk as Buffer).toString('utf8');
    let newline: number;
    while ((newline = buffered.indexOf('\n')) !== -1) {
      received.push({ at: performance.now(), line: JSON.parse(buffered.slice(0, newline)) });
      buffered = buffered.slice(newline + 1);
    }
  }
  return received;
}

/** The regular files of a tar (a gzip'd one too), by path without a leading ./ */
export async function filesOf(archive: Buffer): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const extract = tar.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        if (header.type === 'file') files.set(header.name.replace(/^\.\//, ''), Buffer.concat(chunks));
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  const gzipped = archive[0] === 0x1f && archive[1] === 0x8b;
  (gzipped ? Readable.from([archive]).pipe(createGunzip()) : Readable.from([archive])).pipe(extract);
  await done;
  return files;
}
