/**
 * The builds API (issue 11), for `cairn build` and for CI calling it directly:
 *   POST /builds                 multipart/form-data: a `request` part (JSON, BuildRequest) and then
 *                                a `context` part (a tar), streamed into the blob store while hashed;
 *                                needs push permission on every target; 201 with the queued build
 *   GET  /builds                 the caller's builds (an admin's: everyone's), newest first, paged
 *   GET  /builds/{id}            status and, once finished, the result
 *   GET  /builds/{id}/events     the log as NDJSON, one event a line with its `seq`, from `after`;
 *                                follows a running build live and ends when it has finished
 *   POST /builds/{id}/cancel     asks to cancel; answers the build as it stands
 * Builds are visible to whoever created them and to admins; to anyone else they do not exist (404).
 */
import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import type { AccessControl } from '../../auth/access-control.js';
import type { BuildRequest } from '../../build/job.js';
import { BuildError } from '../../build/errors.js';
import type { BuildService } from '../../build/service.js';
import type { BuildRow } from '../../metadata/stores/builds.js';
import { isValidRepositoryName, isValidTag } from '../../oci/name.js';
import { auditActor, type ApiCaller } from './api-auth.js';
import { AuthError } from '../../auth/errors.js';
import { ApiError, requestInvalid } from './errors.js';
import { defineRoute, type AdminRoute } from './route.js';

const MAX_REQUEST_PART = 64 * 1024;
const timestamp = { type: 'string', format: 'date-time' } as const;
const nullableTimestamp = { type: ['string', 'null'], format: 'date-time' } as const;
const stringMap = { type: 'object', additionalProperties: { type: 'string', maxLength: 65536 }, maxProperties: 200 } as const;

/** The `request` part: what to build (BuildRequest; defaults filled in). */
export const buildRequestSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['tags'],
  properties: {
    tags: { type: 'array', minItems: 1, maxItems: 32, items: { type: 'string', minLength: 3, maxLength: 400 }, description: 'targets, repository:tag (no registry host); the first names the cache repository' },
    dockerfile: { type: 'string', minLength: 1, maxLength: 4096, default: 'Dockerfile', description: 'path of the Dockerfile inside the context' },
    target: { type: 'string', minLength: 1, maxLength: 128 },
    buildArgs: { ...stringMap, default: {} },
    cacheBranch: { type: 'string', minLength: 1, maxLength: 255 },
    noCache: { type: 'boolean', default: false },
    format: { type: 'string', enum: ['oci', 'docker'], default: 'oci' },
    compression: { type: 'string', enum: ['gzip', 'zstd'], default: 'gzip' },
  },
} as const;

const createBody = {
  type: 'object',
  required: ['request', 'context'],
  properties: {
    request: { type: 'string', contentMediaType: 'application/json', description: 'the build request (JSON), first', contentSchema: buildRequestSchema },
    context: { type: 'string', contentMediaType: 'application/x-tar', description: 'the build context as a tar (after the request), up to CAIRN_BUILD_CONTEXT_MAX_BYTES' },
  },
} as const;

const missReason = {
  type: 'object',
  properties: { kind: { type: 'string', enum: ['no-cache', 'instruction', 'build-arg', 'file', 'parent', 'new'] }, detail: { type: 'string' }, name: { type: 'string' }, path: { type: 'string' } },
} as const;

const result = {
  type: ['object', 'null'],
  properties: {
    status: { type: 'string', enum: ['succeeded', 'failed', 'cancelled'] },
    error: { type: 'string' },
    images: { type: 'array', items: { type: 'object', properties: { reference: { type: 'string' }, digest: { type: 'string' } } } },
    cache: { type: 'array', items: { type: 'object', properties: { step: { type: 'string' }, hit: { type: 'boolean' }, reason: missReason } } },
    durationMs: { type: 'number', description: 'server-side build time: the worker took the job → result' },
  },
} as const;

const build = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    state: { type: 'string', enum: ['queued', 'running', 'succeeded', 'failed', 'cancelled'] },
    request: { type: 'object', properties: { ...buildRequestSchema.properties } },
    contextDigest: { type: 'string' },
    contextSize: { type: 'integer', minimum: 0 },
    actor: { type: 'string' },
    createdAt: timestamp,
    startedAt: nullableTimestamp,
    finishedAt: nullableTimestamp,
    cancelRequested: { type: 'boolean' },
    result,
  },
} as const;

const eventLine = {
  type: 'object',
  required: ['seq', 'type'],
  description: 'one BuildEvent (vertex, cached, log, done, error, result) with its place in the log',
  properties: {
    seq: { type: 'integer', minimum: 1 },
    type: { type: 'string', enum: ['vertex', 'cached', 'log', 'done', 'error', 'result'] },
    id: { type: 'integer' },
    name: { type: 'string' },
    stage: { type: 'string' },
    step: { type: 'object', properties: { index: { type: 'integer' }, count: { type: 'integer' } } },
    stream: { type: 'string', enum: ['stdout', 'stderr'] },
    text: { type: 'string' },
    durationMs: { type: 'number' },
    message: { type: 'string' },
    result,
  },
} as const;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } } as const;
const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 200, default: 50 },
    before: { type: 'string', pattern: '^[0-9]{1,15}$', description: 'the `next` cursor of the previous page' },
  },
} as const;
const eventsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { after: { type: 'integer', minimum: 0, default: 0, description: 'only events with a greater seq (to resume)' } },
} as const;

interface BuildView {
  id: string;
  state: BuildRow['state'];
  request: Record<string, unknown>;
  contextDigest: string;
  contextSize: number;
  actor: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  cancelRequested: boolean;
  result: Record<string, unknown> | null;
}

function view(row: BuildRow): BuildView {
  return {
    id: row.id,
    state: row.state,
    request: row.request,
    contextDigest: row.context_digest,
    contextSize: Number(row.context_size),
    actor: row.actor,
    createdAt: row.created_at.toISOString(),
    startedAt: row.started_at?.toISOString() ?? null,
    finishedAt: row.finished_at?.toISOString() ?? null,
    cancelRequested: row.cancel_requested,
    result: row.result,
  };
}

export function buildRoutes(access: AccessControl, builds: BuildService): AdminRoute[] {
  /** The build, when the caller may see it: its creator, an admin, or anyone on an open registry. */
  const visible = async (caller: ApiCaller, id: string): Promise<BuildRow> => {
    const row = await builds.get(id);
    if (seesAll(caller) || (caller.kind === 'account' && caller.account.name === row.actor)) return row;
    throw new BuildError('build_not_found', `no build ${id}`);
  };

  return [
    defineRoute<Record<string, never>, Record<string, never>, undefined, BuildView>({
      method: 'POST',
      path: '/builds',
      operationId: 'createBuild',
      tag: 'builds',
      summary: 'Start a build: a `request` part (JSON) then a `context` part (tar), as multipart/form-data',
      description:
        'Needs push permission on every target repository. The context is stored while it is received (never held in memory); ' +
        'over CAIRN_BUILD_CONTEXT_MAX_BYTES it is refused with 413. With no build worker running (`--build-workers 0` and no ' +
        '`cairn worker`, or no runc) the answer is 503 unavailable, saying why.',
      access: 'reader',
      multipart: createBody,
      schema: { response: build },
      status: 201,
      errors: ['access_denied', 'build_request_invalid', 'build_context_too_large', 'builds_unavailable'],
      handler: async ({ request, caller }) => view(await create(access, builds, request, caller)),
      action: 'build.create',
      audit: (_input, created) => ({ target: created.id, details: { tags: created.request.tags, contextDigest: created.contextDigest, contextSize: created.contextSize } }),
    }),
    defineRoute<Record<string, never>, { limit: number; before?: string }, undefined, { builds: BuildView[]; next: string | null }>({
      method: 'GET',
      path: '/builds',
      operationId: 'listBuilds',
      tag: 'builds',
      summary: 'Builds, newest first: the caller\'s own (an admin\'s: everyone\'s); `next` is the cursor of the following page',
      access: 'reader',
      schema: {
        querystring: listQuery,
        response: { type: 'object', properties: { builds: { type: 'array', items: build }, next: { type: ['string', 'null'] } } },
      },
      status: 200,
      errors: [],
      handler: async ({ query, caller }) => {
        requireAuthenticated(caller);
        const rows = await builds.list({
          ...(seesAll(caller) ? {} : { actor: (caller as Extract<ApiCaller, { kind: 'account' }>).account.name }),
          ...(query.before ? { before: Number(query.before) } : {}),
          limit: query.limit + 1,
        });
        const page = rows.slice(0, query.limit);
        return { builds: page.map(view), next: rows.length > query.limit ? String(page[page.length - 1]!.queue_order) : null };
      },
    }),
    defineRoute<{ id: string }, Record<string, never>, undefined, BuildView>({
      method: 'GET',
      path: '/builds/{id}',
      operationId: 'getBuild',
      tag: 'builds',
      summary: 'A build: its state and, once finished, its result (images, cache report, server-side duration)',
      access: 'reader',
      schema: { params: idParams, response: build },
      status: 200,
      errors: ['build_not_found'],
      handler: async ({ params, caller }) => {
        requireAuthenticated(caller);
        return view(await visible(caller, params.id));
      },
    }),
    defineRoute<{ id: string }, { after: number }, undefined, Readable>({
      method: 'GET',
      path: '/builds/{id}/events',
      operationId: 'getBuildEvents',
      tag: 'builds',
      summary: 'The build\'s log as NDJSON: one event a line, from `after`, following the build live until it has finished',
      description: 'Each line is a BuildEvent with its `seq`; the last line of a finished build is its `result` event. Reconnect with `after` set to the last seq seen.',
      access: 'reader',
      schema: { params: idParams, querystring: eventsQuery },
      stream: { item: eventLine },
      status: 200,
      errors: ['build_not_found'],
      handler: async ({ params, query, caller, request }) => {
        requireAuthenticated(caller);
        await visible(caller, params.id);
        // The client going away ends the follow (its socket closes); the listener goes with it.
        const gone = new AbortController();
        const socket = request.raw.socket;
        const abort = () => gone.abort();
        socket.once('close', abort);
        const lines = async function* () {
          try {
            for await (const row of builds.follow(params.id, query.after, gone.signal)) yield `${JSON.stringify({ seq: row.seq, ...row.event })}\n`;
          } finally {
            socket.off('close', abort);
          }
        };
        return Readable.from(lines(), { objectMode: false });
      },
    }),
    defineRoute<{ id: string }, Record<string, never>, undefined, BuildView>({
      method: 'POST',
      path: '/builds/{id}/cancel',
      operationId: 'cancelBuild',
      tag: 'builds',
      summary: 'Cancel a build: a queued one at once, a running one at its worker\'s next heartbeat (about a second); a finished one stays as it is',
      access: 'reader',
      schema: { params: idParams, response: build },
      status: 200,
      errors: ['build_not_found'],
      handler: async ({ params, caller }) => {
        requireAuthenticated(caller);
        await visible(caller, params.id);
        return view(await builds.cancel(params.id));
      },
      action: 'build.cancel',
      audit: ({ params }, cancelled) => ({ target: params.id, details: { state: cancelled.state } }),
    }),
  ];
}

function seesAll(caller: ApiCaller): boolean {
  return caller.kind === 'open' || (caller.kind === 'account' && caller.account.isAdmin);
}

function requireAuthenticated(caller: ApiCaller): void {
  if (caller.kind === 'anonymous') throw new AuthError('unauthenticated', 'authentication required');
}

/**
 * Reads the multipart body in order: the request (checked, and the caller's push permission on
 * every target, before a byte of context is stored), then the context, stored as it arrives.
 */
async function create(access: AccessControl, builds: BuildService, request: FastifyRequest, caller: ApiCaller): Promise<BuildRow> {
  requireAuthenticated(caller);
  await builds.requireWorkers();
  let buildRequest: BuildRequest | undefined;
  let context: { digest: string; size: number } | undefined;
  const parts = request.parts({ limits: { parts: 2, fields: 1, files: 1, fieldSize: MAX_REQUEST_PART, fileSize: builds.contextMaxBytes + 1 } });
  for await (const part of parts) {
    if (part.type === 'field' && part.fieldname === 'request' && !buildRequest) {
      // A part sent as application/json arrives parsed (secure-json-parse); any other as text.
      buildRequest = parseRequest(request, part.value);
      await requirePush(access, caller, buildRequest.tags);
    } else if (part.type === 'file' && part.fieldname === 'context' && buildRequest && !context) {
      context = await builds.storeContext(part.file);
    } else {
      if (part.type === 'file') part.file.resume();
      throw new BuildError('build_request_invalid', `unexpected part "${part.fieldname}": send a "request" field (JSON), then a "context" file (tar)`);
    }
  }
  if (!buildRequest || !context) throw new BuildError('build_request_invalid', 'a build needs a "request" part (JSON) and then a "context" part (tar)');
  return builds.create(buildRequest, context, auditActor(caller));
}

function parseRequest(request: FastifyRequest, part: unknown): BuildRequest {
  let value = part;
  if (typeof part === 'string') {
    try {
      value = JSON.parse(part);
    } catch {
      throw new BuildError('build_request_invalid', 'the "request" part is not valid JSON');
    }
  }
  if (typeof value !== 'object' || value === null || Object.hasOwn(value, '__proto__')) throw new BuildError('build_request_invalid', 'the "request" part must be a JSON object');
  const validate = request.compileValidationSchema(buildRequestSchema as unknown as Record<string, unknown>, 'body');
  if (!validate(value)) throw requestInvalid('request', validate.errors ?? []);
  const parsed = value as BuildRequest;
  for (const tag of parsed.tags) {
    if (!parseTarget(tag)) throw new BuildError('build_request_invalid', `"${tag}" is not a target: repository:tag, without the registry host`);
  }
  return parsed;
}

/** `team/app:1.0` → repository and tag; undefined when either is invalid. */
export function parseTarget(reference: string): { repository: string; tag: string } | undefined {
  const colon = reference.lastIndexOf(':');
  if (colon <= 0 || reference.indexOf('/', colon) !== -1) return undefined;
  const repository = reference.slice(0, colon);
  const tag = reference.slice(colon + 1);
  return isValidRepositoryName(repository) && isValidTag(tag) ? { repository, tag } : undefined;
}

async function requirePush(access: AccessControl, caller: ApiCaller, tags: readonly string[]): Promise<void> {
  if (seesAll(caller) || caller.kind !== 'account') return;
  for (const tag of tags) {
    const { repository } = parseTarget(tag)!;
    if (!(await access.permits(caller.principal, { type: 'repository', name: repository, actions: ['push'] }))) {
      throw new ApiError('access_denied', `no push permission on ${repository}`);
    }
  }
}
