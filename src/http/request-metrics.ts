/**
 * Request metrics: one count, one latency observation and the body sizes per request, labelled by
 * route template. The label is never the raw path: repository names, tags, digests and upload ids
 * would make the series unbounded. OCI paths are routed by Cairn's own parser under one Fastify
 * route (`/v2/*`), so their template comes from that parser; other routes use Fastify's template;
 * anything unrouted is `unmatched`.
 *
 * Cost on the hot path: one route parse of the path for /v2/ requests (a handful of anchored
 * regular expressions) and three metric updates, done in onResponse after the answer is sent.
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

export function recordRequest(metrics: Metrics, request: FastifyRequest, reply: FastifyReply): void {
  const route = routeTemplate(request);
  const method = METHODS.has(request.method) ? request.method : 'other';
  metrics.httpRequests.inc({ route, method, status: String(reply.statusCode) });
  metrics.httpDuration.observe({ route, method }, reply.elapsedTime / 1000);
  const received = declaredLength(request.headers['content-length']);
  if (received > 0) metrics.httpBytesReceived.inc({ route }, received);
  // A HEAD answer and a 304 declare the length of a body they do not send.
  if (method !== 'HEAD' && reply.statusCode !== 304) {
    const served = declaredLength(reply.getHeader('content-length'));
    if (served > 0) metrics.httpBytesServed.inc({ route }, served);
  }
}
