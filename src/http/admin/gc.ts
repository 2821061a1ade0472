/**
 * Garbage collection in the admin API (admin only):
 *   GET  /gc        queue figures and totals over every recorded pass
 *   POST /gc/runs   runs a pass now (with a sweep of storage), answers what it did; audited
 * Schemas here validate requests, shape responses and feed the OpenAPI document (`gcPaths`).
 */
import type { FastifyInstance } from 'fastify';
import type { AccessControl } from '../../auth/access-control.js';
import type { GarbageCollector } from '../../gc/index.js';
import { requireAdmin } from './api-auth.js';
import { error as errorSchema } from './schemas.js';

const timestamp = { type: 'string', format: 'date-time' } as const;
const nullableTimestamp = { type: ['string', 'null'], format: 'date-time' } as const;
const count = { type: 'integer', minimum: 0 } as const;
const queue = {
  type: 'object',
  properties: { queued: count, due: count, nextDueAt: nullableTimestamp },
} as const;
const sizedDigests = {
  type: 'array',
  items: { type: 'object', properties: { digest: { type: 'string' }, size: count } },
} as const;

export const gcRunRequest = {
  type: 'object',
  additionalProperties: false,
  properties: {
    dryRun: { type: 'boolean', default: false, description: 'decide and report, delete nothing' },
  },
} as const;

export const gcStatus = {
  type: 'object',
  properties: {
    queued: { ...count, description: 'rows on both review queues' },
    due: { ...count, description: 'rows whose review time has come' },
    nextDueAt: { ...nullableTimestamp, description: 'when the next row that is not yet due becomes due' },
    bytesFreed: { ...count, description: 'blob-store bytes freed by every pass recorded in this database (all replicas, since it was created; dry runs excluded)' },
    queues: { type: 'object', properties: { manifests: queue, blobs: queue } },
    totals: {
      type: 'object',
      properties: { runs: count, manifestsDeleted: count, blobsDeleted: count, orphansDeleted: count, lastRunAt: nullableTimestamp },
    },
    settings: {
      type: 'object',
      properties: { reviewDelaySeconds: { type: 'number' }, intervalSeconds: { type: 'number' }, sweepIntervalSeconds: { type: 'number' } },
    },
  },
} as const;

export const gcRunReport = {
  type: 'object',
  properties: {
    id: count,
    trigger: { type: 'string', enum: ['schedule', 'api', 'cli'] },
    actor: { type: ['string', 'null'] },
    dryRun: { type: 'boolean' },
    startedAt: timestamp,
    finishedAt: timestamp,
    manifestsDeleted: count,
    blobsDeleted: count,
    orphansDeleted: count,
    bytesFreed: { ...count, description: 'blob-store bytes freed (for a dry run: that would be freed)' },
    kept: { ...count, description: 'reviews that kept their object (referenced, or not old enough)' },
    busy: { ...count, description: 'objects held by a push or another replica: left for a later pass' },
    swept: { type: 'boolean' },
    deleted: {
      type: 'object',
      properties: {
        manifests: { type: 'array', items: { type: 'object', properties: { repository: { type: 'string' }, digest: { type: 'string' } } } },
        blobs: sizedDigests,
        orphans: sizedDigests,
        truncated: { type: 'boolean', description: 'more were deleted than listed (1000 per kind)' },
      },
    },
  },
} as const;

export function registerGcRoutes(app: FastifyInstance, access: AccessControl, gc: GarbageCollector): void {
  app.get('/gc', { schema: { response: { 200: gcStatus } } }, async (request) => {
    await requireAdmin(access, request);
    return gc.status();
  });

  app.post<{ Body: { dryRun?: boolean } | undefined }>(
    '/gc/runs',
    {
      schema: { body: gcRunRequest, response: { 200: gcRunReport } },
      // A bare POST (no body) is the common call: validate it as {}.
      preValidation: async (request) => {
        request.body ??= {};
      },
    },
    async (request) => {
      const admin = await requireAdmin(access, request);
      const actor = admin?.name ?? null;
      const report = await gc.run({ trigger: 'api', actor, dryRun: request.body?.dryRun ?? false, sweep: true });
      const { deleted: _lists, ...figures } = report;
      await access.audit(actor, report.dryRun ? 'gc.dry_run' : 'gc.run', request.ip, figures, 'gc');
      return report;
    },
  );
}

/** The OpenAPI paths of these routes. */
export const gcPaths = {
  '/api/v1/gc': {
    get: {
      summary: 'Garbage collection: review queues (queued, due, next due) and bytes freed in total',
      responses: { '200': { description: 'OK', content: { 'application/json': { schema: gcStatus } } }, '401': { description: 'not authenticated', content: { 'application/json': { schema: errorSchema } } }, '403': { description: 'not an admin', content: { 'application/json': { schema: errorSchema } } } },
    },
  },
  '/api/v1/gc/runs': {
    post: {
      summary: 'Run a garbage collection pass now (reviews due objects, follows chains, sweeps storage); audited',
      requestBody: { required: false, content: { 'application/json': { schema: gcRunRequest } } },
      responses: { '200': { description: 'what the pass did', content: { 'application/json': { schema: gcRunReport } } }, '400': { description: 'invalid request', content: { 'application/json': { schema: errorSchema } } }, '401': { description: 'not authenticated', content: { 'application/json': { schema: errorSchema } } }, '403': { description: 'not an admin', content: { 'application/json': { schema: errorSchema } } } },
    },
  },
} as const;
