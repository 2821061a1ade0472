import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from '../../../registry/index.js';
import { ManifestNotFoundError } from '../../../registry/errors.js';
import { mediaTypeOf, readLimitedBody } from '../request.js';

type Route = { name: string; reference: string };

export async function getManifest(registry: Registry, request: FastifyRequest, reply: FastifyReply, route: Route, head: boolean) {
  const found = await registry.manifests.resolve(route.name, route.reference);
  if (!accepts(request.headers.accept, found.mediaType)) {
    throw new ManifestNotFoundError(route.reference);
  }
  reply
    .code(200)
    .header('content-type', found.mediaType)
    .header('content-length', found.payload.byteLength)
    .header('docker-content-digest', found.digest)
    .header('etag', `"${found.digest}"`);
  if (found.servedTag) reply.header('cairn-cache-fallback', found.servedTag);
  if (head) return reply.send();
  registry.manifests.recordPull(found, route.reference);
  return reply.send(found.payload);
}

export async function putManifest(registry: Registry, request: FastifyRequest, reply: FastifyReply, route: Route, maxBytes: number) {
  const payload = await readLimitedBody(request, maxBytes);
  const { digest, manifest, taggedDigest } = await registry.manifests.put(route.name, route.reference, mediaTypeOf(request), payload);
  // The digest of the bytes the client sent, always: clients verify it.
  reply.code(201).header('location', `/v2/${route.name}/manifests/${digest}`).header('docker-content-digest', digest);
  if (manifest.subject) reply.header('oci-subject', manifest.subject.digest.value);
  if (taggedDigest) reply.header('cairn-cache-merged', taggedDigest);
  return reply.send();
}

export async function deleteManifest(registry: Registry, _request: FastifyRequest, reply: FastifyReply, route: Route) {
  await registry.manifests.delete(route.name, route.reference);
  return reply.code(202).send();
}

/**
 * Content negotiation: a client that lists media types without a wildcard gets only those
 * (as distribution does). No Accept header at all means anything goes.
 */
function accepts(accept: string | undefined, mediaType: string): boolean {
  if (!accept) return true;
  const types = accept.split(',').map((part) => part.split(';')[0]!.trim().toLowerCase());
  return types.some((t) => t === mediaType || t === '*/*' || t === 'application/*' || t === '');
}
