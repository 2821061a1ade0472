/**
 * JSON schemas of the retention, branch and webhook-mapping API: they validate requests and are
 * published in the OpenAPI document (openapi.ts), so the two cannot drift apart.
 */
const days = { type: 'number', exclusiveMinimum: 0, maximum: 36500 } as const;
const count = { type: 'integer', minimum: 1, maximum: 100000 } as const;
const globs = (description: string) => ({ type: 'array', maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 255 }, description }) as const;

export const policyName = { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' } as const;

// One object schema with if/then, not oneOf: Fastify's Ajv removes additional properties, and
// each failing oneOf branch would strip the fields the matching one needs.
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
    intervalSeconds: { type: ['integer', 'null'], minimum: 10, maximum: 31536000, description: 'run on its own every N seconds; null (default): on demand only' },
  },
} as const;

export const planBody = {
  type: 'object',
  additionalProperties: false,
  properties: { policy: { ...policyName, description: 'one policy; omit for all' } },
} as const;

export const runsQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    policy: policyName,
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
    before: { type: 'integer', minimum: 1 },
  },
} as const;

/** PUT …/branches/<branch> takes {"state"}; PUT …/branches takes {"live"} (one schema: see tagSelector). */
export const branchBody = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: {
    state: { enum: ['live', 'gone'], description: 'PUT …/branches/<branch>' },
    live: { type: 'array', maxItems: 10000, items: { type: 'string', minLength: 1, maxLength: 255 }, description: 'PUT …/branches: every live branch; every other known branch becomes gone' },
  },
} as const;

export const gitMapping = {
  type: 'object',
  required: ['repositories'],
  additionalProperties: false,
  properties: {
    repositories: { type: 'array', minItems: 1, maxItems: 100, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 255 }, description: 'Cairn repositories whose cache tags follow this Git repository\'s branches' },
    lowercase: { type: 'boolean', default: false, description: 'lower-case branch names when mapping them to tags' },
  },
} as const;

export const decision = {
  type: 'object',
  properties: {
    policy: { type: 'string' },
    repository: { type: 'string' },
    tag: { type: ['string', 'null'] },
    digest: { type: 'string' },
    action: { enum: ['delete', 'keep'] },
    rule: { type: 'string' },
    reason: { type: 'string' },
  },
} as const;

export const planResponse = {
  type: 'object',
  properties: {
    decisions: { type: 'array', items: decision },
    manifests: { type: 'array', items: { type: 'object', properties: { repository: { type: 'string' }, digest: { type: 'string' } } } },
    bytesFreed: { type: 'integer', description: 'bytes of blobs no manifest anywhere would name any more' },
    blobsFreed: { type: 'integer' },
  },
} as const;
