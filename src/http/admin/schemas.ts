/**
 * JSON schemas of the admin API. Route definitions use them to validate requests, to serialise
 * answers (Fastify compiles a serialiser per response schema: fast, and fields a schema does not
 * name never leave the process) and to publish the OpenAPI document, so the three cannot drift.
 * Every property name is camelCase, in requests and answers alike.
 */

const string = { type: 'string' } as const;
const nullableString = { type: ['string', 'null'] } as const;
const dateTime = { type: 'string', format: 'date-time' } as const;
const nullableDateTime = { type: ['string', 'null'], format: 'date-time' } as const;
const integer = { type: 'integer' } as const;
const strings = { type: 'array', items: string } as const;

/** A closed object: every property listed is required (answers always carry all of them). */
export function record<P extends Record<string, object>>(properties: P, description?: string) {
  return { type: 'object', additionalProperties: false, required: Object.keys(properties), properties, ...(description ? { description } : {}) } as const;
}

// ---- requests -------------------------------------------------------------------------------

export const accountName = { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$' } as const;
const password = { type: 'string', minLength: 8, maxLength: 1024 } as const;

export const createUser = {
  type: 'object',
  required: ['name', 'password'],
  additionalProperties: false,
  properties: { name: accountName, password, admin: { type: 'boolean' } },
} as const;

export const updateUser = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { password, admin: { type: 'boolean' }, disabled: { type: 'boolean' } },
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
    expiresAt: { ...dateTime, description: 'omit for a token that never expires' },
  },
} as const;

const action = { type: 'string', enum: ['pull', 'push', 'delete', 'admin'] } as const;

export const grantPermission = {
  type: 'object',
  required: ['pattern', 'actions'],
  additionalProperties: false,
  properties: {
    account: { ...accountName, description: 'the account granted; or set anonymous' },
    anonymous: { type: 'boolean', description: 'true: grant every caller without credentials' },
    pattern: { type: 'string', minLength: 1, maxLength: 255, description: 'repository glob: team/app, team/*, team/**, **' },
    actions: { type: 'array', minItems: 1, uniqueItems: true, items: action },
  },
} as const;

export const permissionId = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1 } },
} as const;

export const auditQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    before: { type: 'integer', minimum: 1, description: 'an event id: only older events (paging)' },
    actor: { type: 'string', maxLength: 255 },
    action: { type: 'string', maxLength: 64 },
    target: { type: 'string', maxLength: 512, description: 'the account, repository or permission id acted on' },
  },
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

// ---- answers --------------------------------------------------------------------------------

export const account = record({
  name: string,
  kind: { type: 'string', enum: ['user', 'robot'] },
  admin: { type: 'boolean' },
  disabled: { type: 'boolean' },
  description: nullableString,
  createdAt: dateTime,
});

export const users = record({ users: { type: 'array', items: account } });
export const robots = record({ robots: { type: 'array', items: account } });

/** A robot and its secret: shown once, on creation and on rotation. */
export const robotWithSecret = record({ ...account.properties, secret: { type: 'string', description: 'cairn_robot_…; shown once' } });

export const token = record({
  account: string,
  name: string,
  createdAt: dateTime,
  expiresAt: nullableDateTime,
  revokedAt: nullableDateTime,
  lastUsedAt: nullableDateTime,
});

export const tokens = record({ tokens: { type: 'array', items: token } });
export const tokenWithSecret = record({ ...token.properties, secret: { type: 'string', description: 'cairn_pat_…; shown once' } });

export const permission = record({
  id: integer,
  account: { ...nullableString, description: 'null for a grant to anonymous callers' },
  anonymous: { type: 'boolean' },
  pattern: string,
  actions: { type: 'array', items: action },
  createdAt: dateTime,
});

export const permissions = record({ permissions: { type: 'array', items: permission } });

export const auditEvent = record({
  id: integer,
  at: dateTime,
  actor: { type: 'string', description: "an account name; 'anonymous' for a caller without credentials; 'cairn' for Cairn itself" },
  actorKind: {
    type: 'string',
    enum: ['account', 'anonymous', 'open', 'system'],
    description: 'account: authenticated (for login_failed: the name tried); anonymous: no credentials; open: no credentials while no admin existed; system: Cairn itself (CAIRN_ADMIN_PASSWORD at start)',
  },
  action: string,
  target: { ...nullableString, description: 'the object acted on: account, repository, permission id' },
  clientIp: nullableString,
  details: { type: ['object', 'null'], additionalProperties: true },
});

export const auditEvents = record({ events: { type: 'array', items: auditEvent } });

export const cacheSettingsAnswer = record(cacheSettings.properties);

export const cacheSummary = record({
  repository: string,
  tag: string,
  branch: nullableString,
  manifestDigest: string,
  format: { type: 'string', enum: ['image-manifest', 'index', 'inline'] },
  mode: nullableString,
  parsed: { type: 'boolean' },
  reason: nullableString,
  records: integer,
  layers: integer,
  totalBytes: integer,
  uniqueBytes: integer,
  configDigest: nullableString,
  configBytes: { type: ['integer', 'null'] },
  manifestBytes: integer,
  pushedAt: dateTime,
  lastImportedAt: nullableDateTime,
  importCount: integer,
  lastImporter: nullableString,
  warnings: strings,
});

export const caches = record({ caches: { type: 'array', items: cacheSummary } });
export const repositoryCaches = record({ repository: string, caches: { type: 'array', items: cacheSummary } });

export const cacheDetail = record({
  ...cacheSummary.properties,
  layers: {
    type: 'array',
    items: record({ digest: string, parent: integer, size: { type: ['integer', 'null'] }, mediaType: nullableString, createdAt: nullableString }),
  },
  records: {
    type: 'array',
    items: record({
      digest: string,
      results: { type: 'array', items: strings, description: 'each result as its layer chain, base first' },
      chains: { type: 'array', items: strings },
      inputs: { type: 'array', items: { type: 'array', items: record({ record: nullableString, selector: nullableString }) } },
    }),
  },
  sharedWith: { type: 'array', items: record({ tag: nullableString, layers: integer, bytes: integer }) },
});

const sides = (items: object) => record({ onlyInA: items, onlyInB: items, common: integer });
export const cacheDiff = record({
  a: string,
  b: string,
  records: sides(strings),
  layers: sides(strings),
  bytes: record({ onlyInA: integer, onlyInB: integer, common: integer }),
});

export const error = record({
  error: record({
    code: { type: 'string', description: 'stable: invalid_request, malformed_body, unauthorized, forbidden, not_found, method_not_allowed, conflict, body_too_large, unsupported_media_type, too_many_requests, internal, unavailable' },
    message: string,
    detail: { description: 'machine-readable detail, or null: validation issues ({in, path, message}), allowed methods, seconds to wait' },
  }),
});

/** The OpenAPI document itself: any JSON object. */
export const document = { type: 'object', additionalProperties: true } as const;

export const cacheMounts = record({
  repository: string,
  mounts: { type: 'array', items: record({ id: string, bytes: integer, inodes: integer }) },
});
