/**
 * The admin REST API under /api/v1, as one encapsulated Fastify plugin: JSON in and out with
 * camelCase properties, requests validated and answers serialised by the schemas in schemas.ts,
 * every failure — unknown path, wrong method, bad JSON, schema violation, refused caller — in one
 * shape from one table (errors.ts), every change audited with its actor and the object it
 * changed (route.ts). The operations are the lists below; openapi.ts documents the same lists.
 */
import Ajv, { type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import multipart from '@fastify/multipart';
import type { AccessControl } from '../../auth/access-control.js';
import type { BuildService } from '../../build/service.js';
import type { CacheService } from '../../cache/service.js';
import type { GarbageCollector } from '../../gc/index.js';
import type { Repositories } from '../../registry/repositories.js';
import type { BranchLifecycle } from '../../retention/branches.js';
import type { RetentionService } from '../../retention/service.js';
import { accountRoutes } from './accounts.js';
import { buildRoutes } from './builds.js';
import type { CacheMounts } from '../../build/engine/cache-mounts.js';
import { cacheMountRoutes } from './cache-mounts.js';
import { cacheRoutes } from './caches.js';
import { gcRoutes } from './gc.js';
import { ApiError, apiErrorHandler, sendApiError } from './errors.js';
import { webhookReceivers } from './hooks.js';
import { buildOpenApiDocument } from './openapi.js';
import { permissionRoutes } from './permissions.js';
import { retentionRoutes } from './retention.js';
import { defineRoute, registerRoutes, type AdminRoute } from './route.js';
import * as s from './schemas.js';

export interface AdminApiOptions {
  readonly access: AccessControl;
  readonly caches: CacheService;
  readonly gc: GarbageCollector;
  readonly repositories: Repositories;
  readonly retention: RetentionService;
  readonly branches: BranchLifecycle;
  readonly builds: BuildService;
  readonly cacheMounts: CacheMounts;
}

/** Every operation of the API, in matching order. */
export function adminRoutes({ access, caches, gc, repositories, retention, branches, builds, cacheMounts }: AdminApiOptions): AdminRoute[] {
  const routes: AdminRoute[] = [
    ...accountRoutes(access),
    ...permissionRoutes(access),
    ...cacheRoutes(access, caches, repositories),
    ...gcRoutes(gc),
    ...retentionRoutes(retention, branches),
    ...buildRoutes(access, builds),
    ...cacheMountRoutes(cacheMounts),
  ];
  const document = buildOpenApiDocument([openApiRoute(() => document), ...routes]);
  return [openApiRoute(() => document), ...routes];
}

/**
 * A validator that compiles its schema when first called, not when Fastify calls the compiler at
 * ready(). Why: compiling every admin route's schema (and building the two Ajv instances, which
 * compile JSON Schema's meta-schema) ran on every start, before the first /v2/ answer, for an API
 * most starts never see a call to (measured: ajv was ~0.2-0.6 s of a restart's main-thread
 * profile on a busy 2-core machine). Contract as Fastify reads it: returns Ajv's boolean and
 * exposes the last call's `errors`.
 */
function compileOnFirstUse(compile: () => ValidateFunction): ValidateFunction {
  let validate: ValidateFunction | undefined;
  const lazy = ((data: unknown) => {
    validate ??= compile();
    const valid = validate(data);
    lazy.errors = validate.errors;
    return valid;
  }) as ValidateFunction;
  lazy.errors = null;
  return lazy;
}

function openApiRoute(document: () => object): AdminRoute {
  return defineRoute({
    method: 'GET',
    path: '/openapi.json',
    operationId: 'getOpenApiDocument',
    tag: 'meta',
    summary: 'This document',
    access: 'public',
    schema: { response: s.document },
    status: 200,
    errors: [],
    handler: async () => document(),
  });
}

export async function adminApi(app: FastifyInstance, options: AdminApiOptions): Promise<void> {
  // Unlike Fastify's defaults, properties a schema does not allow are refused, not silently
  // dropped (a misspelt `expires_at` must not create a token that never expires), and JSON bodies
  // are taken as typed ("true" is not a boolean); only the query and path, text by nature, are coerced.
  const ajvOptions = { useDefaults: true, removeAdditional: false, allErrors: false } as const;
  let forBody: Ajv.default | undefined;
  let forText: Ajv.default | undefined;
  const compilerFor = (httpPart: string | undefined): Ajv.default =>
    httpPart === 'body'
      ? (forBody ??= addFormats.default(new Ajv.default({ ...ajvOptions, coerceTypes: false })))
      : (forText ??= addFormats.default(new Ajv.default({ ...ajvOptions, coerceTypes: 'array' })));
  app.setValidatorCompiler(({ schema, httpPart }) => compileOnFirstUse(() => compilerFor(httpPart).compile(schema)));
  // Bodies are JSON: any other content type is 415, not a string the schema then refuses.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
  // Multipart bodies are left unread for the one route that streams one (POST /builds); every
  // other route refuses them (route.ts, checkBodyKind).
  await app.register(multipart, { throwFileSizeLimit: true });
  app.setErrorHandler(apiErrorHandler);
  app.setNotFoundHandler((_request, reply) => sendApiError(reply, new ApiError('route_unknown', 'unknown endpoint')));
  registerRoutes(app, options.access, adminRoutes(options));
  // Forge webhooks need the raw body bytes: their own parser, in their own scope (hooks.ts).
  await app.register(webhookReceivers, { branches: options.branches });
}
