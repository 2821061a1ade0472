/** Builders for test content: blobs, image manifests, indexes, and pushing them over HTTP. */
import { createHash, randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { http } from './http.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export interface Blob {
  readonly bytes: Buffer;
  readonly digest: string;
  readonly size: number;
}

export function blobOf(bytes: Buffer | string): Blob {
  const buffer = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  return { bytes: buffer, digest: sha256(buffer), size: buffer.length };
}

export function randomBlob(size = 1024): Blob {
  return blobOf(randomBytes(size));
}

/** Monolithic push (POST then PUT ?digest=), asserting 201. */
export async function pushBlob(base: string, name: string, blob: Blob): Promise<void> {
  const start = await http('POST', `${base}/v2/${name}/blobs/uploads/`);
  assert.equal(start.status, 202, `POST uploads: ${start.text()}`);
  const location = new URL(start.headers.location!, base);
  location.searchParams.set('digest', blob.digest);
  const put = await http('PUT', location.toString(), {
    headers: { 'content-type': 'application/octet-stream' },
    body: blob.bytes,
  });
  assert.equal(put.status, 201, `PUT upload: ${put.text()}`);
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  artifactType?: string;
}

export function descriptorOf(blob: Blob, mediaType: string, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType, digest: blob.digest, size: blob.size, ...extra };
}

export interface ImageParts {
  config: Blob;
  layers: Blob[];
  manifest: Blob;
}

/** An OCI image (config + layers + manifest) with random content; nothing pushed yet. */
export function makeImage(options: { layers?: number; subject?: Descriptor; artifactType?: string; mediaType?: string } = {}): ImageParts {
  const config = blobOf(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, salt: randomBytes(8).toString('hex') }));
  const layers = Array.from({ length: options.layers ?? 1 }, () => randomBlob(512));
  const mediaType = options.mediaType ?? OCI_MANIFEST;
  const body: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType,
    config: descriptorOf(config, mediaType === DOCKER_MANIFEST ? 'application/vnd.docker.container.image.v1+json' : OCI_CONFIG),
    layers: layers.map((l) => descriptorOf(l, mediaType === DOCKER_MANIFEST ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : OCI_LAYER)),
  };
  if (options.subject) body.subject = options.subject;
  if (options.artifactType) body.artifactType = options.artifactType;
  return { config, layers, manifest: blobOf(JSON.stringify(body)) };
}

/** Pushes an image's blobs and its manifest under `reference`. */
export async function pushImage(base: string, name: string, image: ImageParts, reference: string, mediaType = OCI_MANIFEST): Promise<void> {
  for (const blob of [image.config, ...image.layers]) await pushBlob(base, name, blob);
  await putManifest(base, name, reference, image.manifest.bytes, mediaType, 201);
}

export async function putManifest(base: string, name: string, reference: string, bytes: Buffer, mediaType: string, expect?: number) {
  const response = await http('PUT', `${base}/v2/${name}/manifests/${reference}`, {
    headers: { 'content-type': mediaType },
    body: bytes,
  });
  if (expect !== undefined) assert.equal(response.status, expect, `PUT manifest ${reference}: ${response.text()}`);
  return response;
}
