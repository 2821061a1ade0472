import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from '../../../registry/index.js';
import { RangeNotSatisfiableError } from '../../../registry/errors.js';
import { requestedRange } from '../request.js';

type Route = { name: string; digest: string };

export async function getBlob(registry: Registry, request: FastifyRequest, reply: FastifyReply, route: Route, head: boolean) {
  const blob = await registry.blobs.stat(route.name, route.digest);
  reply
    .header('docker-content-digest', blob.digest.value)
    .header('content-type', 'application/octet-stream')
    .header('accept-ranges', 'bytes')
    .header('etag', `"${blob.digest.value}"`);
  if (head) return reply.code(200).header('content-length', blob.size).send();
  // Object storage can serve the bytes itself: the client follows the redirect (with its Range).
  const redirect = await registry.blobs.redirectUrl(blob, request.headers['user-agent']);
  if (redirect) return reply.code(307).header('location', redirect).header('content-length', 0).send();
  let range;
  try {
    range = requestedRange(request, blob.size);
  } catch (error) {
    if (error instanceof RangeNotSatisfiableError) reply.header('content-range', `bytes */${blob.size}`);
    throw error;
  }
  const stream = await registry.blobs.open(blob, range, request.headers['user-agent']);
  if (range) {
    reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${blob.size}`);
    return reply.header('content-length', range.end - range.start + 1).send(stream);
  }
  return reply.code(200).header('content-length', blob.size).send(stream);
}

export async function deleteBlob(registry: Registry, _request: FastifyRequest, reply: FastifyReply, route: Route) {
  await registry.blobs.delete(route.name, route.digest);
  return reply.code(202).send();
}
