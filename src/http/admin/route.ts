/**
 * An admin API operation is declared once, as an AdminRoute: method, path, who may call it,
 * schemas, success status, the domain errors it can answer, and — for every change — what the
 * audit log records. From that one declaration come the Fastify route (validation, fast
 * serialisation), the audit event, and the OpenAPI operation (openapi.ts). Adding a documented
 * route is adding one entry to a list.
 *
 * Paths are OpenAPI templates relative to /api/v1 (`/users/{name}`). Repository names contain
 * slashes, which Fastify path parameters cannot hold, so routes under `/repositories/{name}/…`
 * are matched from the right by one dispatcher (registerRepositoryRoutes) that applies the same
 * schemas through Fastify's own compilers.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccessControl } from '../../auth/access-control.js';
import { auditActor, identifyCaller, requireAdmin, requireReader, type AdminCaller, type ApiCaller } from './api-auth.js';
import { ApiError, requestInvalid, type ApiErrorKind } from './errors.js';

export type ChangeMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type Method = 'GET' | ChangeMethod;

/**
 * Who may call: `public` anyone; `reader` anyone, judged by the handler or, with a `{name}`
 * repository parameter, refused without pull permission on it; `admin` admins (or, in open
 * mode, loopback callers).
 */
export type RouteAccess = 'public' | 'reader' | 'admin';

export interface RouteInput<P, Q, B, C extends ApiCaller> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly caller: C;
  readonly request: FastifyRequest;
}

/** What the audit log records for a change: the object acted on (never the route) and details. */
export interface AuditRecord {
  readonly target: string;
  /** Never secrets or passwords. */
  readonly details?: Record<string, unknown>;
}

interface RouteCommon<P, Q, B, R, C extends ApiCaller> {
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  readonly description?: string;
  readonly tag: string;
  readonly schema: {
    readonly params?: object;
    readonly querystring?: object;
    readonly body?: object;
    /** The success answer; omitted for 204. */
    readonly response?: object;
  };
  /**
   * The request body is multipart/form-data, documented by this schema and read by the handler
   * itself from `request` as it streams in (the builds API's context upload): no JSON body.
   */
  readonly multipart?: object;
  /**
   * The success answer is a stream of JSON lines (application/x-ndjson), each documented by
   * `item`: the handler answers a Readable, sent as it is produced.
   */
  readonly stream?: { readonly item: object };
  readonly status: 200 | 201 | 204;
  /** Domain failures this operation answers; those of auth and request validation are added. */
  readonly errors: readonly ApiErrorKind[];
  readonly handler: (input: RouteInput<P, Q, B, C>) => Promise<R>;
}

type ReadRoute<P, Q, B, R> = RouteCommon<P, Q, B, R, ApiCaller> & { readonly method: 'GET'; readonly access: RouteAccess };

/** A change: admins only, and audited; the type does not allow one without its audit record. */
type ChangeRoute<P, Q, B, R> = RouteCommon<P, Q, B, R, AdminCaller> & {
  readonly method: ChangeMethod;
  readonly access: 'admin';
  /** The audit action, named after the fact: `user.create`, `permission.revoke`… */
  readonly action: string;
  readonly audit: (input: RouteInput<P, Q, B, AdminCaller>, result: R) => AuditRecord;
};

/**
 * A change any authenticated caller may ask for, judged by the handler (creating a build needs
 * push permission on its targets, not admin); audited like every change.
 */
type CallerChangeRoute<P, Q, B, R> = RouteCommon<P, Q, B, R, ApiCaller> & {
  readonly method: ChangeMethod;
  readonly access: 'reader';
  readonly action: string;
  readonly audit: (input: RouteInput<P, Q, B, ApiCaller>, result: R) => AuditRecord;
};

export type RouteDefinition<P, Q, B, R> = ReadRoute<P, Q, B, R> | ChangeRoute<P, Q, B, R> | CallerChangeRoute<P, Q, B, R>;

// Routes are stored type-erased; defineRoute checks each one against its own parameter types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AdminRoute = RouteDefinition<any, any, any, any>;

export function defineRoute<P = Record<string, never>, Q = Record<string, never>, B = undefined, R = unknown>(route: RouteDefinition<P, Q, B, R>): AdminRoute {
  return route;
}

const REPOSITORY_PREFIX = '/repositories/{name}/';
const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

declare module 'fastify' {
  interface FastifyRequest {
    /** The admin API caller, set before the body is read. */
    apiCaller?: ApiCaller;
  }
}

export function registerRoutes(app: FastifyInstance, access: AccessControl, routes: readonly AdminRoute[]): void {
  const byPath = new Map<string, AdminRoute[]>();
  for (const route of routes) byPath.set(route.path, [...(byPath.get(route.path) ?? []), route]);
  const repositoryRoutes = routes.filter((r) => r.path.startsWith(REPOSITORY_PREFIX));
  for (const [path, sameUrl] of byPath) {
    if (path.startsWith(REPOSITORY_PREFIX)) continue;
    for (const route of sameUrl) registerNative(app, access, route);
    refuseOtherMethods(app, fastifyUrl(path), sameUrl);
  }
  if (repositoryRoutes.length > 0) registerRepositoryRoutes(app, access, repositoryRoutes);
}

function registerNative(app: FastifyInstance, access: AccessControl, route: AdminRoute): void {
  app.route({
    method: route.method,
    url: fastifyUrl(route.path),
    schema: {
      ...(route.schema.params ? { params: route.schema.params } : {}),
      ...(route.schema.querystring ? { querystring: route.schema.querystring } : {}),
      ...(route.schema.body ? { body: route.schema.body } : {}),
      ...(route.schema.response && !route.stream ? { response: { [route.status]: route.schema.response } } : {}),
    },
    // Before the body is read: an unauthenticated caller is refused without parsing anything.
    onRequest: async (request) => {
      request.apiCaller = await authorize(access, route, request, request.params as Record<string, string>);
    },
    preValidation: async (request) => checkBodyKind(route, request),
    handler: async (request, reply) => {
      const result = await run(access, route, request, { params: request.params, query: request.query, body: request.body });
      if (route.stream) return reply.code(route.status).type('application/x-ndjson').send(result);
      return route.status === 204 ? reply.code(204).send() : reply.code(route.status).send(result);
    },
  });
}

/** 405 with Allow for the methods a path does not have (HEAD comes with GET). */
function refuseOtherMethods(app: FastifyInstance, url: string, routes: readonly AdminRoute[]): void {
  const allowed = allowedMethods(routes);
  const others = ALL_METHODS.filter((m) => !allowed.includes(m));
  if (others.length === 0) return;
  app.route({
    method: [...others],
    url,
    handler: async (request) => {
      throw methodNotAllowed(request.method, allowed);
    },
  });
}

/**
 * One wildcard route, every method, for `/repositories/*`: the path is matched against the
 * templates in declaration order (`{name}` takes everything up to the fixed suffix), then the
 * route's schemas are applied with Fastify's compilers, exactly as for a native route.
 */
function registerRepositoryRoutes(app: FastifyInstance, access: AccessControl, routes: readonly AdminRoute[]): void {
  const matchers = routes.map((route) => ({ route, match: templateMatcher(route.path) }));
  const resolved = new WeakMap<FastifyRequest, { route: AdminRoute; params: Record<string, string> }>();

  app.route({
    method: [...ALL_METHODS],
    url: '/repositories/*',
    onRequest: async (request) => {
      const path = rawPath(request).slice(app.prefix.length);
      const candidates = matchers.flatMap(({ route, match }) => {
        const params = match(path);
        return params ? [{ route, params }] : [];
      });
      if (candidates.length === 0) throw new ApiError('route_unknown', 'unknown endpoint');
      const method = request.method === 'HEAD' ? 'GET' : request.method;
      const found = candidates.find((c) => c.route.method === method);
      if (!found) throw methodNotAllowed(request.method, allowedMethods(candidates.filter((c) => c.route.path === candidates[0]!.route.path).map((c) => c.route)));
      resolved.set(request, found);
      request.routeTemplate = app.prefix + found.route.path;
      request.apiCaller = await authorize(access, found.route, request, found.params);
    },
    handler: async (request, reply) => {
      const { route, params } = resolved.get(request)!;
      checkBodyKind(route, request);
      const query = validated(request, route.schema.querystring, 'querystring', request.query);
      const body = validated(request, route.schema.body, 'body', request.body);
      const result = await run(access, route, request, { params, query, body });
      if (route.status === 204 || !route.schema.response) return reply.code(route.status).send();
      // Compiled once per schema and cached by Fastify for this route.
      const json = reply.serializeInput(result as Record<string, unknown>, route.schema.response as Record<string, unknown>);
      return reply.code(route.status).type('application/json; charset=utf-8').send(json);
    },
  });
}

/**
 * A multipart body (the multipart parser is on for the whole API) reaches only the routes that
 * read one; a JSON route refuses it as it refuses any other type, and a multipart route a JSON body.
 */
function checkBodyKind(route: AdminRoute, request: FastifyRequest): void {
  const multipart = typeof request.isMultipart === 'function' && request.isMultipart();
  if (route.multipart && !multipart) throw new ApiError('media_type_unsupported', 'the body is multipart/form-data');
  if (!route.multipart && multipart) throw new ApiError('media_type_unsupported', 'request bodies are application/json');
}

function validated(request: FastifyRequest, schema: object | undefined, part: 'body' | 'querystring', value: unknown): unknown {
  if (!schema) return value;
  const validate = request.compileValidationSchema(schema as Record<string, unknown>, part);
  if (!validate(value)) throw requestInvalid(part, validate.errors ?? []);
  return value;
}

async function authorize(access: AccessControl, route: AdminRoute, request: FastifyRequest, params: Record<string, string>): Promise<ApiCaller> {
  switch (route.access) {
    case 'public':
      return { kind: 'anonymous', principal: { kind: 'anonymous' } };
    case 'admin':
      return requireAdmin(access, request);
    case 'reader': {
      const caller = await identifyCaller(access, request);
      if (params.name !== undefined && route.path.startsWith(REPOSITORY_PREFIX)) await requireReader(access, caller, params.name);
      return caller;
    }
  }
}

/** Runs the handler; a change is audited (before the answer leaves) and drops cached grants. */
async function run(access: AccessControl, route: AdminRoute, request: FastifyRequest, parts: { params: unknown; query: unknown; body: unknown }): Promise<unknown> {
  // A change route's caller passed requireAdmin (its access is 'admin'), so it is an AdminCaller.
  const input = { ...parts, caller: request.apiCaller!, request } as RouteInput<unknown, unknown, unknown, AdminCaller>;
  const result = await route.handler(input);
  if (route.method !== 'GET') {
    access.forget();
    const { target, details } = route.audit(input, result);
    await access.audit(auditActor(input.caller), route.action, request.ip, details, target);
  }
  return result;
}

function methodNotAllowed(method: string, allowed: readonly string[]): ApiError {
  return new ApiError('method_not_allowed', `${method} is not allowed here`, { allow: allowed }, { allow: allowed.join(', ') });
}

function allowedMethods(routes: readonly AdminRoute[]): string[] {
  const methods = routes.map((r) => r.method as string);
  return methods.includes('GET') ? ['GET', 'HEAD', ...methods.filter((m) => m !== 'GET')] : methods;
}

/** `/users/{name}` → `/users/:name` */
function fastifyUrl(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}

/**
 * Matches a raw path against a template: `{name}` after /repositories/ takes one or more
 * segments, every other parameter exactly one. Values are not percent-decoded, as on /v2 (see
 * src/http/oci/path.ts): a repository name is checked as sent.
 */
export function templateMatcher(template: string): (path: string) => Record<string, string> | undefined {
  const names: string[] = [];
  const source = template.replace(/\{(\w+)\}|[^{]+/g, (part, name: string | undefined) => {
    if (!name) return part.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
    names.push(name);
    return names.length === 1 && template.startsWith(REPOSITORY_PREFIX) ? '(.+?)' : '([^/]+)';
  });
  const pattern = new RegExp(`^${source}$`);
  return (path) => {
    const match = pattern.exec(path);
    return match ? Object.fromEntries(names.map((n, i) => [n, match[i + 1]!])) : undefined;
  };
}

function rawPath(request: FastifyRequest): string {
  const url = request.raw.url ?? '';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}
