/**
 * Garbage collection in the admin API (admin only):
 *   GET  /gc                     queue figures and totals over every recorded pass
 *   POST /gc/runs[?dryRun=true]  runs a pass now (with a sweep of storage), answers what it did;
 *                                audited as gc.run with its figures (dryRun among them)
 */
import type { GarbageCollector, PassReport } from '../../gc/index.js';
import { defineRoute, type AdminRoute } from './route.js';

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

export const gcRunQuery = {
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

export function gcRoutes(gc: GarbageCollector): AdminRoute[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/gc',
      operationId: 'getGcStatus',
      tag: 'gc',
      summary: 'Garbage collection: review queues (queued, due, next due) and bytes freed in total',
      access: 'admin',
      schema: { response: gcStatus },
      status: 200,
      errors: [],
      handler: async () => gc.status(),
    }),
    defineRoute<Record<string, never>, { dryRun: boolean }, undefined, PassReport>({
      method: 'POST',
      path: '/gc/runs',
      operationId: 'runGc',
      tag: 'gc',
      summary: 'Run a garbage collection pass now in this replica (reviews due objects, follows chains, sweeps storage) and answer what it did',
      access: 'admin',
      schema: { querystring: gcRunQuery, response: gcRunReport },
      status: 200,
      errors: [],
      handler: async ({ query, caller }) =>
        gc.run({ trigger: 'api', actor: caller.kind === 'account' ? caller.account.name : null, dryRun: query.dryRun, sweep: true }),
      action: 'gc.run',
      audit: (_input, report) => {
        const { deleted: _lists, ...figures } = report;
        return { target: 'gc', details: figures };
      },
    }),
  ];
}
