/**
 * Blob upload endpoints. Locations are relative (`/v2/<name>/blobs/uploads/<id>`) so they stay
 * right behind any proxy, and they stay valid until the upload completes or is cancelled, so a
 * client can retry a chunk or ask for the status after a restart.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from '../../../registry/index.js';
import { UploadRangeError } from '../../../registry/errors.js';
import type { UploadState } from '../../../registry/uploads.js';
import { chunkRangeStart, contentLength, hasBody, queryParam } from '../request.js';

type NameRoute = { name: string };
type UploadRoute = { name: string; id: string };

/**
 * @param mayPull whether the caller may read a repository: a mount from a repository the caller
 *   cannot pull falls back to an ordinary upload, revealing nothing about the source.
 */
export async function startUpload(
  registry: Registry,
  request: FastifyRequest,
  reply: FastifyReply,
  route: NameRoute,
  mayPull: (repository: string) => Promise<boolean>,
) {
  const mount = queryParam(request, 'mount');
  if (mount !== undefined && (await registry.uploads.mount(route.name, mount, queryParam(request, 'from'), mayPull))) {
    return blobCreated(reply, route.name, mount);
  }
  const digest = queryParam(request, 'digest');
  if (digest !== undefined) {
    const length = contentLength(request);
    const stored = await registry.uploads.uploadWhole(route.name, digest, request.raw, { contentLength: length });
    return blobCreated(reply, route.name, stored.value);
  }
  // A POST may carry no body or an empty one; drain whatever came so the connection is reusable.
  if (hasBody(request)) request.raw.resume();
  const upload = await registry.uploads.start(route.name);
  return uploadAccepted(reply, route.name, upload, 202);
}

export async function patchUpload(registry: Registry, request: FastifyRequest, reply: FastifyReply, route: UploadRoute) {
  const length = contentLength(request);
  const rangeStart = chunkRangeStart(request, length);
  const upload = await withRangeHeaders(reply, route, () =>
    registry.uploads.append(route.name, route.id, request.raw, { contentLength: length, rangeStart }),
  );
  return uploadAccepted(reply, route.name, upload, 202);
}

export async function putUpload(registry: Registry, request: FastifyRequest, reply: FastifyReply, route: UploadRoute) {
  const digest = queryParam(request, 'digest') ?? '';
  const length = contentLength(request);
  const body = hasBody(request) ? request.raw : undefined;
  const rangeStart = body ? chunkRangeStart(request, length) : undefined;
  const stored = await withRangeHeaders(reply, route, () =>
    registry.uploads.complete(route.name, route.id, digest, body, { contentLength: length, rangeStart }),
  );
  return blobCreated(reply, route.name, stored.value);
}

export async function getUpload(registry: Registry, _request: FastifyRequest, reply: FastifyReply, route: UploadRoute) {
  const upload = await registry.uploads.status(route.name, route.id);
  return uploadAccepted(reply, route.name, upload, 204);
}

export async function deleteUpload(registry: Registry, _request: FastifyRequest, reply: FastifyReply, route: UploadRoute) {
  await registry.uploads.cancel(route.name, route.id);
  return reply.code(204).send();
}

function uploadAccepted(reply: FastifyReply, name: string, upload: UploadState, status: number) {
  return reply
    .code(status)
    .header('location', `/v2/${name}/blobs/uploads/${upload.id}`)
    .header('range', `0-${Math.max(upload.size - 1, 0)}`)
    .header('docker-upload-uuid', upload.id)
    .header('oci-chunk-min-length', 0)
    .send();
}

function blobCreated(reply: FastifyReply, name: string, digest: string) {
  return reply
    .code(201)
    .header('location', `/v2/${name}/blobs/${digest}`)
    .header('docker-content-digest', digest)
    .send();
}

/** A 416 tells the client where the upload really stands, so it can resume from there. */
async function withRangeHeaders<T>(reply: FastifyReply, route: UploadRoute, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof UploadRangeError) {
      reply
        .header('location', `/v2/${route.name}/blobs/uploads/${route.id}`)
        .header('range', `0-${Math.max(error.expectedOffset - 1, 0)}`)
        .header('docker-upload-uuid', route.id);
    }
    throw error;
  }
}
