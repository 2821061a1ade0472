/**
 * Request metrics: one count, one latency observation and the body sizes per request, labelled by
 * route template. The label is never the raw path: repository names, tags, digests and upload ids
 * would make the series unbounded. OCI paths are routed by Cairn's own parser under one Fastify
 * route (`/v2/*`), so their template comes from that parser; other routes use Fastify's template;
 * anything unrouted is `unmatched`.
 *
 * Cost on the hot path: one route parse of the path for /v2/ requests (a handful of anchored
 * regular expressions) and up to four metric updates on series resolved once per route, method
 * and status, done in onResponse after the answer is sent.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Metrics } from '../metrics.js';
import { routeOfTarget, type OciRoute } from './oci/path.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The route template, set by plugins that route under one wildcard themselves (the admin
     * API's `/repositories/*`): Fastify only knows the wildcard.
     */
    routeTemplate: string | undefined;
  }
}

const OCI_TEMPLATES: Record<OciRoute['kind'], string> = {
  base: '/v2/',
  catalog: '/v2/_catalog',
  tags: '/v2/{name}/tags/list',
  manifest: '/v2/{name}/manifests/{reference}',
  blob: '/v2/{name}/blobs/{digest}',
  uploads: '/v2/{name}/blobs/uploads/',
  upload: '/v2/{name}/blobs/uploads/{id}',
  referrers: '/v2/{name}/referrers/{digest}',
};

/** Methods outside this set (PROPFIND, made-up ones) are counted as `other`: bounded. */
const METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'PATCH', 'DELETE', 'OPTIONS']);

export function routeTemplate(request: FastifyRequest): string {
  if (request.routeTemplate !== undefined) return request.routeTemplate;
  const url = request.routeOptions.url;
  if (url === undefined) return 'unmatched';
  if (url === '/v2' || url === '/v2/*') {
    const route = routeOfTarget(request.originalUrl);
    return route ? OCI_TEMPLATES[route.kind] : 'unmatched';
  }
  return url;
}

function declaredLength(value: string | number | string[] | undefined): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}

/** The series of one route and method, resolved once (labels are bounded, so is this cache). */
interface RouteMeter {
  readonly statuses: Map<number, { inc(): void }>;
  readonly duration: { observe(seconds: number): void };
  readonly received: { inc(bytes: number): void };
  readonly served: { inc(bytes: number): void };
}

const meters = new WeakMap<Metrics, Map<string, RouteMeter>>();

function meterFor(metrics: Metrics, route: string, method: string): RouteMeter {
  let byRoute = meters.get(metrics);
  if (!byRoute) meters.set(metrics, (byRoute = new Map()));
  const key = `${method} ${route}`;
  let meter = byRoute.get(key);
  if (!meter) {
    meter = {
      statuses: new Map(),
      duration: metrics.httpDuration.labels({ route, method }),
      received: metrics.httpBytesReceived.labels({ route }),
      served: metrics.httpBytesServed.labels({ route }),
    };
    byRoute.set(key, meter);
  }
  return meter;
}

export function recordRequest(metrics: Metrics, request: FastifyRequest, reply: FastifyReply): void {
  const route = routeTemplate(request);
  const method = METHODS.has(request.method) ? request.method : 'other';
  const meter = meterFor(metrics, route, method);
  const status = reply.statusCode;
  let requests = meter.statuses.get(status);
  if (!requests) meter.statuses.set(status, (requests = metrics.httpRequests.labels({ route, method, status: String(status) })));
  requests.inc();
  meter.duration.observe(reply.elapsedTime / 1000);
  const received = declaredLength(request.headers['content-length']);
  if (received > 0) meter.received.inc(received);
  // A HEAD answer and a 304 declare the length of a body they do not send.
  if (method !== 'HEAD' && status !== 304) {
    const served = declaredLength(reply.getHeader('content-length'));
    if (served > 0) meter.served.inc(served);
  }
}
