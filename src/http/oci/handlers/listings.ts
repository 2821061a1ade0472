import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from '../../../registry/index.js';
import { parsePageRequest, type Page } from '../../../registry/pagination.js';
import { MediaType } from '../../../oci/media-types.js';
import { textFault } from '../../../oci/text.js';
import { HttpError } from '../errors.js';
import { queryParam } from '../request.js';

export async function listTags(registry: Registry, request: FastifyRequest, reply: FastifyReply, route: { name: string }) {
  const page = await registry.listings.tags(route.name, pageRequest(request));
  withNextLink(reply, `/v2/${route.name}/tags/list`, page, queryParam(request, 'n'));
  // The page is JSON already (built by the database): no per-tag objects on the way out.
  return sendJson(reply, `{"name":${JSON.stringify(route.name)},"tags":${page.json}}`);
}

/** `visible` filters the catalog by the caller's rights; undefined when access is not enforced. */
export async function listCatalog(
  registry: Registry,
  request: FastifyRequest,
  reply: FastifyReply,
  visible: ((name: string) => Promise<boolean>) | undefined,
) {
  const page = await registry.listings.catalog(pageRequest(request), visible);
  withNextLink(reply, '/v2/_catalog', page, queryParam(request, 'n'));
  return sendJson(reply, `{"repositories":${page.json}}`);
}

export async function listReferrers(registry: Registry, request: FastifyRequest, reply: FastifyReply, route: { name: string; digest: string }) {
  const artifactType = queryParam(request, 'artifactType');
  const fault = artifactType === undefined ? undefined : textFault(artifactType);
  if (fault) throw new HttpError(400, 'UNSUPPORTED', `invalid artifactType filter: it ${fault}`);
  const index = await registry.listings.referrers(route.name, route.digest, artifactType);
  if (artifactType !== undefined) reply.header('oci-filters-applied', 'artifactType');
  // A Buffer, not a string: Fastify would append "; charset=utf-8" to the media type.
  return reply.code(200).header('content-type', MediaType.ociIndex).send(Buffer.from(index));
}

/** JSON text as Fastify would send an object: same status and content type. */
function sendJson(reply: FastifyReply, json: string) {
  return reply.code(200).header('content-type', 'application/json; charset=utf-8').send(json);
}

function pageRequest(request: FastifyRequest) {
  return parsePageRequest(queryParam(request, 'n'), queryParam(request, 'last'));
}

function withNextLink(reply: FastifyReply, path: string, page: Page, n: string | undefined): void {
  if (page.next === undefined) return;
  const query = new URLSearchParams({ ...(n ? { n } : {}), last: page.next });
  reply.header('link', `<${path}?${query.toString()}>; rel="next"`);
}
