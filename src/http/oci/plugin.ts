/**
 * The OCI Distribution API under /v2/, as one encapsulated Fastify plugin: its own body handling
 * (request bodies stay streams: blobs are never buffered), its own error handler (OCI errors).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from '../../registry/index.js';
import { HttpError, ociErrorHandler, sendOciError } from './errors.js';
import { deleteBlob, getBlob } from './handlers/blobs.js';
import { listCatalog, listReferrers, listTags } from './handlers/listings.js';
import { deleteManifest, getManifest, putManifest } from './handlers/manifests.js';
import { deleteUpload, getUpload, patchUpload, putUpload, startUpload } from './handlers/uploads.js';
import { parseOciPath, type OciRoute } from './path.js';

export interface OciApiOptions {
  readonly registry: Registry;
  readonly maxManifestBytes: number;
}

type Method = 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
type Handler<R> = (request: FastifyRequest, reply: FastifyReply, route: R) => Promise<unknown>;
type RouteOf<K extends OciRoute['kind']> = Extract<OciRoute, { kind: K }>;
type DispatchTable = { [K in OciRoute['kind']]: Partial<Record<Method, Handler<RouteOf<K>>>> };

function dispatchTable({ registry: r, maxManifestBytes }: OciApiOptions): DispatchTable {
  return {
    base: {
      GET: async (_q, reply) => reply.code(200).send({}),
      HEAD: async (_q, reply) => reply.code(200).send(),
    },
    catalog: { GET: (q, reply) => listCatalog(r, q, reply) },
    tags: { GET: (q, reply, route) => listTags(r, q, reply, route) },
    manifest: {
      GET: (q, reply, route) => getManifest(r, q, reply, route, false),
      HEAD: (q, reply, route) => getManifest(r, q, reply, route, true),
      PUT: (q, reply, route) => putManifest(r, q, reply, route, maxManifestBytes),
      DELETE: (q, reply, route) => deleteManifest(r, q, reply, route),
    },
    blob: {
      GET: (q, reply, route) => getBlob(r, q, reply, route, false),
      HEAD: (q, reply, route) => getBlob(r, q, reply, route, true),
      DELETE: (q, reply, route) => deleteBlob(r, q, reply, route),
    },
    uploads: { POST: (q, reply, route) => startUpload(r, q, reply, route) },
    upload: {
      GET: (q, reply, route) => getUpload(r, q, reply, route),
      PATCH: (q, reply, route) => patchUpload(r, q, reply, route),
      PUT: (q, reply, route) => putUpload(r, q, reply, route),
      DELETE: (q, reply, route) => deleteUpload(r, q, reply, route),
    },
    referrers: { GET: (q, reply, route) => listReferrers(r, q, reply, route) },
  };
}

export async function ociApi(app: FastifyInstance, options: OciApiOptions): Promise<void> {
  const table = dispatchTable(options);

  // Leave every body unread: handlers stream blobs and read manifests with their own limit.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_request, _payload, done) => done(null));
  app.setErrorHandler(ociErrorHandler);
  app.setNotFoundHandler((_request, reply) => sendOciError(reply, 404, 'NOT_FOUND', 'unknown endpoint'));

  const dispatch = async (request: FastifyRequest, reply: FastifyReply) => {
    const route = parseOciPath(pathAfterV2(request.raw.url ?? ''));
    if (!route) throw new HttpError(404, 'NOT_FOUND', 'unknown endpoint');
    const handler = (table[route.kind] as Partial<Record<string, Handler<OciRoute>>>)[request.method];
    if (!handler) throw new HttpError(405, 'UNSUPPORTED', `${request.method} is not supported here`);
    return handler(request, reply, route);
  };
  app.route({ method: ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'], url: '/v2', handler: dispatch });
  app.route({ method: ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'], url: '/v2/*', handler: dispatch });
}

/** The raw, undecoded path after `/v2/` (see path.ts for why it is never decoded). */
function pathAfterV2(url: string): string {
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  return path.startsWith('/v2/') ? path.slice(4) : '';
}
