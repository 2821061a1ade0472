/**
 * The OCI Distribution API under /v2/, as one encapsulated Fastify plugin: its own body handling
 * (request bodies stay streams: blobs are never buffered), its own error handler (OCI errors).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from '../../registry/index.js';
import { ociErrorHandler } from './errors.js';
import { deleteBlob, getBlob } from './handlers/blobs.js';
import { listCatalog, listReferrers, listTags } from './handlers/listings.js';
import { deleteManifest, getManifest, putManifest } from './handlers/manifests.js';
import { deleteUpload, getUpload, patchUpload, putUpload, startUpload } from './handlers/uploads.js';
import { allowedMethods, routeOfTarget, type MethodPolicy, type OciRoute, type RouteMethod } from './path.js';
import { routeFailure } from './unrouted.js';
import type { AccessControl, Principal } from '../../auth/access-control.js';
import { AuthError } from '../../auth/errors.js';
import { assertValidName } from '../../registry/repositories.js';
import { authReply, realmFor, sendAuthReply } from '../auth/challenge.js';
import { parseAuthorization } from '../auth/credentials.js';
import { requiredAccess, type RouteAccess } from './access.js';

export interface OciApiOptions {
  readonly registry: Registry;
  readonly maxManifestBytes: number;
  readonly access: AccessControl;
  /** Base URL clients reach Cairn at, for the token realm; default: from the Host header. */
  readonly externalUrl?: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who is calling; set on every /v2 request before its handler runs. */
    principal: Principal;
  }
}

type Handler<R> = (request: FastifyRequest, reply: FastifyReply, route: R) => Promise<unknown>;
type RouteOf<K extends OciRoute['kind']> = Extract<OciRoute, { kind: K }>;
/** Exactly the methods of ROUTE_METHODS, each with its handler (checked both ways at compile time). */
type DispatchTable = { [K in OciRoute['kind']]: Record<RouteMethod<K>, Handler<RouteOf<K>>> };

function dispatchTable({ registry: r, maxManifestBytes, access }: OciApiOptions): DispatchTable {
  const mayPull = async (request: FastifyRequest, repository: string) =>
    !(await access.isEnforced()) || access.mayPull(request.principal, repository);
  return {
    base: {
      GET: async (_q, reply) => reply.code(200).send({}),
      HEAD: async (_q, reply) => reply.code(200).send(),
    },
    catalog: {
      GET: async (q, reply) =>
        listCatalog(r, q, reply, (await access.isEnforced()) ? (name) => access.mayPull(q.principal, name) : undefined),
    },
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
    uploads: { POST: (q, reply, route) => startUpload(r, q, reply, route, (from) => mayPull(q, from)) },
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
  // Without a prefix this is also the answer for paths no API claims (an admin API path has its
  // own): registries are probed by OCI clients, so they get the OCI form too. Methods Fastify
  // does not route at all (OPTIONS, PROPFIND, UNLINK…) land here on /v2/ paths as well.
  const policy: MethodPolicy = { deletes: options.registry.deletes };
  app.setNotFoundHandler(async (request) => {
    throw routeFailure(routeOfTarget(request.originalUrl), request.method, policy);
  });

  app.decorateRequest('principal', null as never);

  const dispatch = async (request: FastifyRequest, reply: FastifyReply) => {
    // originalUrl: src/http/server.ts escapes `%` in /v2/ paths for Fastify's router only.
    const route = routeOfTarget(request.originalUrl);
    if (!route) throw routeFailure(route, request.method);
    if ('name' in route) assertValidName(route.name);
    const handler = (table[route.kind] as Partial<Record<string, Handler<OciRoute>>>)[request.method];
    // Before authentication: what the registry does not serve is the same answer for everyone.
    if (!handler || !allowedMethods(route, policy).includes(request.method)) throw routeFailure(route, request.method, policy);
    const needed = requiredAccess(route, request.method);
    try {
      request.principal = await authorize(options.access, request, needed);
    } catch (error) {
      if (!(error instanceof AuthError)) throw error;
      const challenge = { realm: realmFor(request, options.externalUrl), service: options.access.tokens.service };
      const scope = needed.kind === 'scoped' ? needed.challenge : undefined;
      const insufficientScope = request.principal?.kind === 'token';
      return sendAuthReply(reply, authReply(error, { ...challenge, scope }, insufficientScope));
    }
    return handler(request, reply, route);
  };

  app.addHook('onResponse', async (request, reply) => auditChange(options.access, request, reply.statusCode));
  app.route({ method: ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'], url: '/v2', handler: dispatch });
  app.route({ method: ['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE'], url: '/v2/*', handler: dispatch });
}

/**
 * Authenticates the caller and checks the route's scope. With enforcement off (no admin yet, on
 * loopback) every caller may do everything, but credentials that are sent are still checked.
 */
async function authorize(access: AccessControl, request: FastifyRequest, needed: RouteAccess): Promise<Principal> {
  const principal = await access.authenticate(parseAuthorization(request.headers.authorization), request.ip);
  request.principal = principal;
  if (!(await access.isEnforced())) return principal;
  if (needed.kind === 'authenticated') {
    if (principal.kind === 'anonymous') throw new AuthError('unauthenticated', 'authentication required');
    return principal;
  }
  if (await access.permits(principal, needed.check)) return principal;
  if (principal.kind === 'anonymous') throw new AuthError('unauthenticated', 'authentication required');
  throw new AuthError('denied', 'requested access to the resource is denied');
}

/** Pushes and deletes go to the audit log, with who did them. */
async function auditChange(access: AccessControl, request: FastifyRequest, status: number): Promise<void> {
  const action = request.method === 'PUT' && status === 201 ? 'push' : request.method === 'DELETE' && status === 202 ? 'delete' : undefined;
  if (!action || !request.principal) return;
  const path = request.originalUrl.split('?')[0]!;
  if (action === 'push' && !path.includes('/manifests/')) return; // blob uploads: too many to log one by one
  const actor = request.principal.kind === 'account' ? request.principal.account.name : request.principal.kind === 'token' ? (request.principal.subject ?? null) : null;
  await access.audit(actor, action, request.ip, undefined, path.slice('/v2/'.length)).catch((err: unknown) => request.log.warn({ err }, 'audit failed'));
}
