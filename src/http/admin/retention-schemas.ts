/**
 * JSON schemas of the retention, branch and Git-mapping API (routes in retention.ts): they
 * validate requests, serialise answers and are published in the OpenAPI document, so the three
 * cannot drift apart. Answers are closed records, as in schemas.ts.
 */
import { record } from './schemas.js';

const string = { type: 'string' } as const;
const nullableString = { type: ['string', 'null'] } as const;
const integer = { type: 'integer' } as const;
const strings = { type: 'array', items: string } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;
const days = { type: 'number', exclusiveMinimum: 0, maximum: 36500 } as const;
const count = { type: 'integer', minimum: 1, maximum: 100000 } as const;
const globs = (description: string) => ({ type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 255 }, description }) as const;

export const policyName = { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' } as const;

// One object schema with if/then rather than oneOf, so a violation is reported once, against the
// property at fault, instead of once per non-matching branch.
export const tagSelector = {
  type: 'object',
  required: ['kind'],
  additionalProperties: false,
  properties: {
    kind: { enum: ['all', 'cache', 'glob', 'regex'] },
    patterns: { ...globs('kind glob: tag globs; * matches any run of characters'), minItems: 1 },
    pattern: { type: 'string', minLength: 1, maxLength: 200, description: 'kind regex: a regular expression over the tag' },
  },
  allOf: [
    { if: { properties: { kind: { const: 'glob' } } }, then: { required: ['patterns'], not: { required: ['pattern'] } } },
    { if: { properties: { kind: { const: 'regex' } } }, then: { required: ['pattern'], not: { required: ['patterns'] } } },
    { if: { properties: { kind: { enum: ['all', 'cache'] } } }, then: { not: { anyOf: [{ required: ['pattern'] }, { required: ['patterns'] }] } } },
  ],
  description: "which tags the policy judges: all, cache (the BuildKit cache index's tags), glob patterns or a regular expression; default cache",
} as const;

export const policyBody = {
  type: 'object',
  required: ['repositories'],
  additionalProperties: false,
  properties: {
    repositories: { ...globs('repository patterns, as in permissions: team/app, team/*, team/**, **'), minItems: 1 },
    tags: tagSelector,
    protect: {
      type: 'object',
      additionalProperties: false,
      properties: {
        branches: globs('branch globs no rule deletes, Git form (release/*) or tag form (release-*); default ["default","main","master"]'),
        tags: globs('tag globs no rule deletes'),
      },
    },
    keep: {
      type: 'object',
      additionalProperties: false,
      description: 'any one keeps a tag, unless its branch is gone',
      properties: {
        recentBranches: { ...count, description: 'keep the N branches most recently imported or pulled' },
        importedWithinDays: { ...days, description: 'keep caches imported within D days' },
        pushedWithinDays: { ...days, description: 'keep tags pushed within D days' },
        newestTags: { ...count, description: 'keep the N newest tags of the selection, per repository' },
      },
    },
    delete: {
      type: 'object',
      additionalProperties: false,
      properties: {
        branchGone: {
          type: 'object',
          required: ['graceHours'],
          additionalProperties: false,
          properties: { graceHours: { type: 'number', minimum: 0, maximum: 876000 } },
          description: 'delete caches of branches marked gone at least graceHours ago and not pushed since',
        },
        unusedForDays: { ...days, description: 'delete tags neither imported nor pulled for D days' },
        untaggedOlderThanDays: { ...days, description: 'delete untagged manifests (no tag, no parent index, no subject) pushed over D days ago' },
        maxBytesPerRepository: { type: 'integer', minimum: 0, description: 'byte budget per repository; beyond it the least recently imported go first' },
      },
    },
    prune: {
      type: 'object',
      required: ['unusedDays'],
      additionalProperties: false,
      properties: { unusedDays: { ...days, description: 'layers no one fetched for D days (never fetched: counted from the cache\'s push)' } },
      description:
        'opt-in: a cache the policy keeps (image-manifest form, not protected) whose layers include ones unused for D days is rewritten ' +
        'without them, the layers stacked on them, the results naming them and the records left useless',
    },
    intervalSeconds: { type: ['integer', 'null'], minimum: 10, maximum: 31536000, description: 'run on its own every N seconds; null (default): on demand only' },
  },
} as const;

export const planBody = {
  type: 'object',
  additionalProperties: false,
  properties: { policy: { ...policyName, description: 'one policy; omit for every policy' } },
} as const;

export const planQuery = planBody;

export const runsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    policy: policyName,
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
    before: { type: 'integer', minimum: 1, description: 'a run id: only older runs (paging)' },
  },
} as const;

export const policyParams = { type: 'object', required: ['name'], properties: { name: policyName } } as const;
export const runParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } } as const;
export const gitRepositoryParams = {
  type: 'object',
  required: ['gitRepository'],
  properties: { gitRepository: { type: 'string', minLength: 1, maxLength: 255, description: 'owner/name or group/sub/name, its slashes percent-encoded: org%2Fapp' } },
} as const;

export const branchState = {
  type: 'object',
  required: ['state'],
  additionalProperties: false,
  properties: { state: { enum: ['live', 'gone'] } },
} as const;

export const branchSync = {
  type: 'object',
  required: ['live'],
  additionalProperties: false,
  properties: {
    live: { type: 'array', maxItems: 10000, items: { type: 'string', minLength: 1, maxLength: 255 }, description: 'every live branch; every other known branch becomes gone' },
  },
} as const;

export const gitMapping = {
  type: 'object',
  required: ['repositories'],
  additionalProperties: false,
  properties: {
    repositories: { type: 'array', minItems: 1, maxItems: 100, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 255 }, description: "Cairn repositories whose cache tags follow this Git repository's branches" },
    lowercase: { type: 'boolean', default: false, description: 'lower-case branch names when mapping them to tags' },
  },
} as const;

// ---- answers --------------------------------------------------------------------------------

const storedTagSelector = {
  type: 'object',
  required: ['kind'],
  additionalProperties: false,
  properties: { kind: { enum: ['all', 'cache', 'glob', 'regex'] }, patterns: strings, pattern: string },
} as const;
const optional = (properties: Record<string, object>) => ({ type: 'object', additionalProperties: false, properties }) as const;

const storedPolicy = record({
  name: string,
  repositories: strings,
  tags: storedTagSelector,
  protect: record({ branches: strings, tags: strings }),
  keep: optional({ recentBranches: integer, importedWithinDays: { type: 'number' }, pushedWithinDays: { type: 'number' }, newestTags: integer }),
  delete: optional({
    branchGone: record({ graceHours: { type: 'number' } }),
    unusedForDays: { type: 'number' },
    untaggedOlderThanDays: { type: 'number' },
    maxBytesPerRepository: integer,
  }),
  prune: { ...record({ unusedDays: { type: 'number' } }), description: 'present when the policy rewrites caches without their unused layers' },
  intervalSeconds: { type: ['integer', 'null'] },
  nextRunAt: nullableDateTime,
  createdAt: dateTime,
  updatedAt: dateTime,
});
/** `prune` is the one optional property: a policy without it never rewrites. */
export const policy = { ...storedPolicy, required: storedPolicy.required.filter((k) => k !== 'prune') } as const;
export const policies = record({ policies: { type: 'array', items: policy } });

const action = { enum: ['delete', 'keep', 'rewrite'], description: 'rewrite: the cache is kept, rewritten without its unused layers (prune)' } as const;
const bytesFreed = { type: 'integer', description: 'bytes of blobs no manifest anywhere would name any more (a rewritten cache\'s dropped layers and old cacheconfig included)' } as const;

export const plan = record({
  decisions: {
    type: 'array',
    items: record({ policy: string, repository: string, tag: nullableString, digest: string, action, rule: string, reason: string }),
  },
  manifests: { type: 'array', items: record({ repository: string, digest: string }), description: 'manifests the plan deletes: untagged ones and those its tag deletes and rewrites leave unreferenced' },
  rewrites: {
    type: 'array',
    description: 'the caches the plan rewrites: the manifest the tag points at, the rewritten one, the layer blobs it no longer names',
    items: record({ repository: string, tag: string, digest: string, rewrittenDigest: string, blobsDropped: strings, records: record({ before: integer, after: integer }) }),
  },
  bytesFreed,
  blobsFreed: integer,
});

/** POST /retention/plan: the answer the issue specifies, nothing more. */
export const planAnswer = record({
  decisions: { type: 'array', items: record({ repository: string, tag: nullableString, digest: string, action, rule: string, reason: string }) },
  bytesFreed,
  blobsFreed: integer,
});

export const run = record({
  id: integer,
  policy: nullableString,
  trigger: { enum: ['api', 'schedule', 'cli'] },
  actor: record({ name: string, kind: { enum: ['account', 'anonymous', 'open', 'system'] } }),
  startedAt: dateTime,
  finishedAt: nullableDateTime,
  tagsDeleted: integer,
  manifestsDeleted: integer,
  tagsRewritten: integer,
  bytesFreed: { type: 'integer', description: 'bytes of blobs no manifest names any more after the run, left for the garbage collector' },
  blobsFreed: integer,
  deleted: { type: 'array', items: record({ repository: string, tag: nullableString, digest: string, rule: string, reason: string }) },
  rewritten: { type: 'array', items: record({ repository: string, tag: string, digest: string, rewrittenDigest: string, rule: string, reason: string }) },
  error: nullableString,
});
export const runs = record({ runs: { type: 'array', items: run } });

export const branch = record({
  branch: string,
  state: { enum: ['live', 'gone'] },
  changedAt: { ...nullableDateTime, description: 'when the state last changed; null for a branch known only from its cache tags' },
  source: { ...nullableString, description: 'who set it: api:<actor>, or the webhook event' },
  tags: strings,
});
export const branches = record({ repository: string, branches: { type: 'array', items: branch } });
export const branchSyncResult = record({ repository: string, live: strings, gone: strings });

export const mapping = record({ gitRepository: string, repositories: strings, lowercase: { type: 'boolean' }, updatedAt: dateTime });
export const mappings = record({ mappings: { type: 'array', items: mapping } });

export const cacheUsage = record({
  repository: string,
  caches: {
    type: 'array',
    items: record({
      tag: string,
      manifestDigest: string,
      importCount: integer,
      lastImportedAt: nullableDateTime,
      layersHeld: integer,
      bytesHeld: integer,
      layersFetched: integer,
      bytesFetched: integer,
      records: integer,
      recordsNeverUsed: { type: 'integer', description: 'records whose results no one ever fetched' },
    }),
  },
});
