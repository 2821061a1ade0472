/**
 * Builds the HTTP server from ready services. Nothing here creates a store or opens a database:
 * tests call `buildServer` with whatever they built, and src/app.ts wires the real thing.
 */
import type { CacheMounts } from '../build/engine/cache-mounts.js';
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Http2SecureServer, Http2Session } from 'node:http2';
import type { Logger } from 'pino';
import type { Registry } from '../registry/index.js';
import type { AccessControl } from '../auth/access-control.js';
import type { CacheService } from '../cache/service.js';
import type { GarbageCollector } from '../gc/index.js';
import type { Metrics } from '../metrics.js';
import type { BranchLifecycle } from '../retention/branches.js';
import type { RetentionService } from '../retention/service.js';
import type { BuildService } from '../build/service.js';
import { isLoopback, requireAdmin } from './admin/api-auth.js';
import { adminApi } from './admin/plugin.js';
import { realmFor } from './auth/challenge.js';
import { tokenEndpoint } from './auth/token-endpoint.js';
import { errorBodyFor } from './error-shapes.js';
import { frameworkError, HttpError } from './oci/errors.js';
import { ociApi } from './oci/plugin.js';
import { parserErrorHandling } from './parser-errors.js';
import { recordRequest } from './request-metrics.js';
import { discardUnreadBody } from './unread-body.js';

export interface ServerDeps {
  readonly registry: Registry;
  readonly access: AccessControl;
  readonly caches: CacheService;
  readonly gc: GarbageCollector;
  readonly metrics: Metrics;
  readonly retention: RetentionService;
  readonly branches: BranchLifecycle;
  readonly builds: BuildService;
  /** Build cache mounts under DATA_DIR/worker (shared with the worker processes). */
  readonly cacheMounts: CacheMounts;
  /** Base URL clients reach Cairn at (token realm); default: derived from each request's Host. */
  readonly externalUrl?: string;
  readonly logger: Logger;
  readonly maxManifestBytes: number;
  /** Readiness: resolves when the database and blob store answer. */
  readonly ready: () => Promise<void>;
  /** A checked certificate and key: HTTPS, with HTTP/2 for clients that negotiate it (ALPN). */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
}

export type CairnServer = Awaited<ReturnType<typeof buildServer>>;

export async function buildServer(deps: ServerDeps) {
  const parserErrors = parserErrorHandling(() => app.log, { deletes: deps.registry.deletes });
  const app = Fastify({
    ...protocolOptions(deps.tls),
    loggerInstance: deps.logger,
    // Fastify's two lines per request give way to the one line logged in onResponse below.
    logController: new LogController({ disableRequestLogging: true }),
    // Blob bodies are streamed by the OCI plugin; no parser buffers them, so no body limit here.
    bodyLimit: 1024 * 1024,
    // Requests that arrive while closing are still served (with `Connection: close`), instead of
    // Fastify's own 503 body, which no OCI client can read.
    return503OnClosing: false,
    clientErrorHandler: parserErrors.onClientError,
    rewriteUrl: (request) => escapeOciPath(request.url ?? '/'),
    frameworkErrors: (error, request, reply) => sendError(request, reply, toHttpError(error)),
    // Docker clients send `Accept-Encoding: gzip`; never compress (digests cover the exact bytes).
  });
  parserErrors.install(app.server);
  if (deps.tls) {
    closeSessionsOnClose(app);
    // Fastify sets these on its HTTP/1 server only. Node's HTTP/2 server gives its HTTP/1.1
    // connections a 300 s request timeout (a large upload on a slow link would be cut off, which
    // plain HTTP does not do) and no keep-alive timeout (idle connections would stay forever).
    const http1 = app.server as unknown as { requestTimeout: number; keepAliveTimeout: number };
    http1.requestTimeout = 0; // Fastify's default on plain HTTP: uploads take what they take
    http1.keepAliveTimeout = app.initialConfig.keepAliveTimeout ?? 72_000;
  }

  app.addHook('onRequest', async (request, reply) => {
    reply.header('docker-distribution-api-version', 'registry/2.0');
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      return sendError(request, reply, new HttpError(400, 'UNSUPPORTED', 'an HTTP/1.1 request needs a Host header'));
    }
  });
  app.addHook('onSend', async (request, reply, payload) => {
    // Whatever of the body no handler read is discarded first, within a bound (see unread-body.ts).
    // HTTP/2 has no `Connection` header: there an unread stream is reset alone, not the connection.
    if (!(await discardUnreadBody(request.raw)) && request.raw.httpVersionMajor === 1) reply.header('connection', 'close');
    return payload;
  });
  app.decorateRequest('routeTemplate', undefined);
  app.addHook('onResponse', async (request, reply) => recordRequest(deps.metrics, request, reply));
  app.addHook('onResponse', async (request, reply) => {
    // One line per request. The query string is left out: it is where tokens would travel.
    request.log.info(
      {
        method: request.method,
        path: request.originalUrl.split('?')[0],
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        http: request.raw.httpVersion,
        ua: request.headers['user-agent'],
      },
      'request',
    );
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    try {
      await deps.ready();
      return { status: 'ready' };
    } catch (error) {
      return reply.code(503).send({ status: 'unavailable', reason: (error as Error).message });
    }
  });

  await app.register(ociApi, {
    registry: deps.registry,
    maxManifestBytes: deps.maxManifestBytes,
    access: deps.access,
    externalUrl: deps.externalUrl,
  });
  await app.register(tokenEndpoint, { access: deps.access, realm: (request) => realmFor(request, deps.externalUrl) });
  await app.register(adminApi, {
    prefix: '/api/v1',
    access: deps.access,
    caches: deps.caches,
    gc: deps.gc,
    repositories: deps.registry.repositories,
    retention: deps.retention,
    branches: deps.branches,
    builds: deps.builds,
    cacheMounts: deps.cacheMounts,
  });
  app.get('/metrics', async (request, reply) => {
    // Open to loopback scrapers; elsewhere an admin's credentials are needed once auth is on.
    if (!isLoopback(request.ip) && (await deps.access.isEnforced())) {
      try {
        await requireAdmin(deps.access, request);
      } catch {
        return reply.code(401).header('www-authenticate', 'Basic realm="cairn metrics"').send({ error: { code: 'unauthorized', message: 'admin credentials required' } });
      }
    }
    return reply.header('content-type', deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  return app;
}

/**
 * Plain HTTP/1.1, or TLS with ALPN offering HTTP/2 and HTTP/1.1. Under TLS the server is Node's
 * HTTP/2 server, which hands HTTP/1.1 connections to its HTTP/1 parser: the early refusals of
 * parser-errors.ts and the HTTP/1 request objects stay as they are; HTTP/2 streams arrive through
 * the compatibility API, which has the same request and response methods Cairn uses. The
 * instance is typed as the HTTP/1 one for that reason.
 */
function protocolOptions(tls: ServerDeps['tls']): { http: { requireHostHeader: false } } {
  // Node would answer a missing Host with an empty 400; the onRequest hook answers instead.
  if (!tls) return { http: { requireHostHeader: false } };
  return { http2: true, https: { allowHTTP1: true, cert: tls.cert, key: tls.key } } as never;
}

/**
 * Open HTTP/2 sessions would hold a closing server up until their idle timeout (Node 24 closes
 * them itself; Fastify does so only with `forceCloseConnections`, which also cuts requests in
 * flight). A graceful close sends GOAWAY: the streams under way finish, and no new ones start.
 */
function closeSessionsOnClose(app: { server: unknown; addHook(name: 'preClose', hook: () => Promise<void>): unknown }): void {
  const sessions = new Set<Http2Session>();
  (app.server as Http2SecureServer).on('session', (session: Http2Session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  app.addHook('preClose', async () => {
    for (const session of sessions) session.close();
  });
}

/**
 * Fastify's router percent-decodes a path to match it and refuses one that does not decode
 * (`%FF`) before any API sees it. The OCI API never decodes (src/http/oci/path.ts), so its paths
 * reach the router with `%` escaped — `/v2/*` matches either way — and the OCI plugin reads the
 * path as sent from `request.originalUrl`, where an undecodable name is just an invalid one.
 */
export function escapeOciPath(url: string): string {
  if (!url.startsWith('/v2/') || !url.includes('%')) return url;
  const query = url.indexOf('?');
  const path = query === -1 ? url : url.slice(0, query);
  return path.replaceAll('%', '%25') + (query === -1 ? '' : url.slice(query));
}

function toHttpError(error: Error): HttpError {
  const wire = frameworkError(error) ?? { status: 400, code: 'UNSUPPORTED' as const, message: error.message };
  return new HttpError(wire.status, wire.code, wire.message);
}

/** An error answer outside both APIs' error handlers, in the form of the API addressed. */
function sendError(request: FastifyRequest, reply: FastifyReply, error: HttpError): FastifyReply {
  const body = errorBodyFor(request.originalUrl, { status: error.status, code: error.code, message: error.message });
  return reply.code(error.status).headers(error.headers).header('content-type', 'application/json; charset=utf-8').send(body);
}
