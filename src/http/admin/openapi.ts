/**
 * The OpenAPI 3.1 document of the admin API (GET /api/v1/openapi.json), built from the route
 * definitions: the same schemas Fastify validates and serialises with, and the statuses each
 * operation really answers — its success status, the failures of its domain errors, and those
 * every route of its kind can meet (authentication, request validation).
 */
import { API_ERRORS, type ApiErrorKind } from './errors.js';
import type { AdminRoute } from './route.js';
import * as s from './schemas.js';

const PREFIX = '/api/v1';

/** Failures every route of a kind can answer, whatever its handler does. */
function commonErrors(route: AdminRoute): ApiErrorKind[] {
  const kinds: ApiErrorKind[] = [];
  if (route.access !== 'public') {
    // 403 even for `reader` routes without a repository: in open mode, to a caller off loopback.
    kinds.push('unauthenticated', 'remote_while_open', 'login_rate_limited');
    if (route.access === 'admin') kinds.push('not_admin');
    if (route.access === 'reader' && route.path.includes('{name}')) kinds.push('access_denied');
  }
  if (route.schema.body || route.multipart) kinds.push('request_invalid', 'body_malformed', 'body_too_large', 'media_type_unsupported');
  if (route.schema.querystring || route.schema.params) kinds.push('request_invalid');
  return kinds;
}

/** The statuses an operation answers, each with the kinds behind it (for the description). */
export function documentedStatuses(route: AdminRoute): Map<number, ApiErrorKind[]> {
  const statuses = new Map<number, ApiErrorKind[]>();
  for (const kind of [...commonErrors(route), ...route.errors]) {
    const status = API_ERRORS[kind].status;
    const kinds = statuses.get(status) ?? [];
    if (!kinds.includes(kind)) kinds.push(kind);
    statuses.set(status, kinds);
  }
  return statuses;
}

const SUCCESS: Record<AdminRoute['status'], string> = { 200: 'OK', 201: 'Created', 204: 'Done; no content' };

export function buildOpenApiDocument(routes: readonly AdminRoute[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    const responses: Record<string, unknown> = {
      [route.status]: {
        description: SUCCESS[route.status],
        ...(route.stream ? { content: { 'application/x-ndjson': { schema: route.stream.item } } } : route.schema.response ? json(route.schema.response) : {}),
      },
    };
    for (const [status, kinds] of [...documentedStatuses(route)].sort(([a], [b]) => a - b)) {
      responses[status] = {
        description: `${API_ERRORS[kinds[0]!].code}: ${kinds.join(', ').replaceAll('_', ' ')}`,
        ...(status === 405 ? {} : { content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }),
        ...(status === 429 ? { headers: { 'Retry-After': { description: 'seconds to wait', schema: { type: 'integer' } } } } : {}),
      };
    }
    const operation = {
      operationId: route.operationId,
      summary: route.summary,
      ...(route.description ? { description: route.description } : {}),
      tags: [route.tag],
      ...(route.access === 'public' ? { security: [] } : {}),
      parameters: [...pathParameters(route), ...queryParameters(route)],
      ...(route.schema.body ? { requestBody: { required: true, ...json(route.schema.body) } } : {}),
      ...(route.multipart ? { requestBody: { required: true, content: { 'multipart/form-data': { schema: route.multipart } } } } : {}),
      responses,
    };
    (paths[`${PREFIX}${route.path}`] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Cairn admin API',
      version: '1',
      description:
        'Accounts, robots, personal access tokens, permissions, the audit log and BuildKit caches. Authenticate with HTTP Basic ' +
        '(a password, robot secret or personal access token) or a Bearer token from /token. Every property is camelCase. ' +
        'Every failure is {"error":{"code","message","detail"}}; an unknown path is 404 not_found, a method a path does not have ' +
        '405 method_not_allowed with Allow.',
    },
    components: {
      securitySchemes: { basic: { type: 'http', scheme: 'basic' }, bearer: { type: 'http', scheme: 'bearer' } },
      schemas: { Error: s.error },
    },
    security: [{ basic: [] }, { bearer: [] }],
    paths,
  };
}

function json(schema: object) {
  return { content: { 'application/json': { schema } } };
}

function pathParameters(route: AdminRoute) {
  const declared = (route.schema.params as { properties?: Record<string, object> } | undefined)?.properties ?? {};
  return [...route.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({ name: name!, in: 'path', required: true, schema: declared[name!] ?? { type: 'string' } }));
}

function queryParameters(route: AdminRoute) {
  const query = route.schema.querystring as { properties?: Record<string, object> } | undefined;
  return Object.entries(query?.properties ?? {}).map(([name, schema]) => ({ name, in: 'query', required: false, schema }));
}
