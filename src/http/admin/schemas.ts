/**
 * JSON schemas of the admin API, used both to validate requests (Fastify) and to publish the
 * OpenAPI document, so the two cannot drift apart.
 */
export const accountName = { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' } as const;

export const account = {
  type: 'object',
  properties: {
    name: accountName,
    kind: { type: 'string', enum: ['user', 'robot'] },
    admin: { type: 'boolean' },
    disabled: { type: 'boolean' },
    description: { type: ['string', 'null'] },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

export const createUser = {
  type: 'object',
  required: ['name', 'password'],
  additionalProperties: false,
  properties: { name: accountName, password: { type: 'string', minLength: 8, maxLength: 1024 }, admin: { type: 'boolean' } },
} as const;

export const updateUser = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { password: { type: 'string', minLength: 8, maxLength: 1024 }, admin: { type: 'boolean' }, disabled: { type: 'boolean' } },
} as const;

export const createRobot = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: { name: accountName, description: { type: 'string', maxLength: 500 } },
} as const;

export const updateRobot = {
  type: 'object',
  required: ['disabled'],
  additionalProperties: false,
  properties: { disabled: { type: 'boolean' } },
} as const;

export const createToken = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: accountName,
    expiresAt: { type: 'string', format: 'date-time', description: 'omit for a token that never expires' },
  },
} as const;

export const grantPermission = {
  type: 'object',
  required: ['pattern', 'actions'],
  additionalProperties: false,
  properties: {
    account: { ...accountName, description: 'omit (or set anonymous) to grant anonymous callers' },
    anonymous: { type: 'boolean' },
    pattern: { type: 'string', minLength: 1, maxLength: 255, description: 'repository glob: team/app, team/*, team/**, **' },
    actions: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', enum: ['pull', 'push', 'delete', 'admin'] } },
  },
} as const;

export const auditQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    before: { type: 'integer', minimum: 1 },
    actor: { type: 'string', maxLength: 255 },
    action: { type: 'string', maxLength: 64 },
  },
} as const;

export const error = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } },
} as const;

export const cacheSettings = {
  type: 'object',
  required: ['branchPattern', 'mergeTags', 'fallbackTags'],
  additionalProperties: false,
  properties: {
    branchPattern: { type: ['string', 'null'], maxLength: 200, description: 'regular expression with a named group (?<branch>…), refused if it may backtrack catastrophically; null for the default' },
    mergeTags: { type: 'array', maxItems: 50, items: { type: 'string', minLength: 1, maxLength: 128 }, description: 'tag globs whose pushes are merged' },
    fallbackTags: { type: 'array', maxItems: 10, items: { type: 'string', minLength: 1, maxLength: 128 }, description: 'tags served, in order, for a missing branch cache tag' },
  },
} as const;
