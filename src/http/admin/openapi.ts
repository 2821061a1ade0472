/** The OpenAPI 3.1 document of the admin API, served at GET /api/v1/openapi.json. */
import * as r from './retention-schemas.js';
import * as s from './schemas.js';

const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const errors = {
  '400': { description: 'invalid request', ...json(s.error) },
  '401': { description: 'not authenticated', ...json(s.error) },
  '403': { description: 'not an admin', ...json(s.error) },
  '404': { description: 'no such account, token or permission', ...json(s.error) },
  '409': { description: 'already exists', ...json(s.error) },
};
const op = (summary: string, extra: object = {}) => ({ summary, responses: { '200': { description: 'OK' }, ...errors }, ...extra });
const body = (schema: object) => ({ requestBody: { required: true, ...json(schema) } });
const nameParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Cairn admin API',
    version: '1',
    description:
      'Accounts, robots, personal access tokens, permissions and the audit log. Admin only: authenticate with HTTP Basic (an admin user, or its personal access token) or a Bearer token issued to an admin.',
  },
  components: { securitySchemes: { basic: { type: 'http', scheme: 'basic' }, bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ basic: [] }, { bearer: [] }],
  paths: {
    '/api/v1/users': { get: op('List users'), post: op('Create a user', body(s.createUser)) },
    '/api/v1/users/{name}': {
      parameters: [nameParam('name')],
      get: op('Show a user'),
      patch: op('Change password, admin flag or disabled flag', body(s.updateUser)),
    },
    '/api/v1/robots': { get: op('List robot accounts'), post: op('Create a robot; the secret is in the response, once', body(s.createRobot)) },
    '/api/v1/robots/{name}': { parameters: [nameParam('name')], patch: op('Disable or enable a robot', body(s.updateRobot)) },
    '/api/v1/robots/{name}/secret': { parameters: [nameParam('name')], post: op('Rotate the secret; the new one is in the response, once') },
    '/api/v1/accounts/{name}/tokens': {
      parameters: [nameParam('name')],
      get: op('List personal access tokens (never their secrets)'),
      post: op('Create a personal access token; the secret is in the response, once', body(s.createToken)),
    },
    '/api/v1/accounts/{name}/tokens/{token}': { parameters: [nameParam('name'), nameParam('token')], delete: op('Revoke a token') },
    '/api/v1/permissions': { get: op('List grants'), post: op('Grant actions on a repository pattern', body(s.grantPermission)) },
    '/api/v1/permissions/{id}': { parameters: [nameParam('id')], delete: op('Revoke a grant') },
    '/api/v1/caches': { get: op('Every tagged BuildKit cache the caller may pull: tag, branch, format, mode, sizes, records, layers, imports, warnings') },
    '/api/v1/repositories/{name}/caches': { parameters: [nameParam('name')], get: op("A repository's BuildKit caches (pull permission)") },
    '/api/v1/repositories/{name}/caches/{tag}': {
      parameters: [nameParam('name'), nameParam('tag')],
      get: op('One cache: layers (digest, size, media type, buildkit/createdat), records with their result chains and inputs, bytes shared with every other cache'),
    },
    '/api/v1/repositories/{name}/caches/{tag}/diff/{other}': {
      parameters: [nameParam('name'), nameParam('tag'), nameParam('other')],
      get: op('Records and layers only in one of two caches, and the bytes on each side'),
    },
    '/api/v1/repositories/{name}/cache-settings': {
      parameters: [nameParam('name')],
      get: op('Branch pattern, merge-enabled tag globs and fallback tags'),
      put: op('Set them (admin)', body(s.cacheSettings)),
    },
    '/api/v1/retention/policies': { get: op('Retention policies') },
    '/api/v1/retention/policies/{name}': {
      parameters: [nameParam('name')],
      get: op('One retention policy'),
      put: op('Create (201) or replace (200) a retention policy; unknown properties are refused', body(r.policyBody)),
      delete: op('Delete a retention policy'),
    },
    '/api/v1/retention/plan': {
      post: op('Dry run of one policy ({"policy"}) or all ({}): every decision with its rule and reason, and the exact bytes and blobs no manifest would name any more', {
        ...body(r.planBody),
        responses: { '200': { description: 'the plan', ...json(r.planResponse) }, ...errors },
      }),
    },
    '/api/v1/retention/runs': {
      post: op('Apply one policy or all now (201; 409 while the policy runs elsewhere)', body(r.planBody)),
      get: op('Run history, newest first', { parameters: Object.entries(r.runsQuery.properties).map(([name, schema]) => ({ name, in: 'query', schema })) }),
    },
    '/api/v1/retention/runs/{id}': { parameters: [nameParam('id')], get: op('One run: what it deleted, by which rule, and the bytes it left unreferenced') },
    '/api/v1/retention/cache-usage/{repository}': {
      parameters: [nameParam('repository')],
      get: op('Per tagged cache: imports, layers and bytes held vs fetched, records whose results no one fetched'),
    },
    '/api/v1/retention/git-mappings': { get: op('Git repository → Cairn repositories mappings used by the webhooks') },
    '/api/v1/retention/git-mappings/{gitRepository}': {
      parameters: [nameParam('gitRepository')],
      put: op('Map a Git repository (owner/name, group/sub/name) to Cairn repositories', body(r.gitMapping)),
      delete: op('Remove a mapping'),
    },
    '/api/v1/repositories/{name}/branches': {
      parameters: [nameParam('name')],
      get: op('Branches: from cache tags and recorded states (live or gone, since when, set by whom)'),
      put: op('Sync: {"live":[…]}; every other known branch becomes gone', body(r.branchBody)),
    },
    '/api/v1/repositories/{name}/branches/{branch}': {
      parameters: [nameParam('name'), nameParam('branch')],
      get: op('One branch'),
      put: op('{"state":"gone"} or {"state":"live"}; a Git-form name (feature/x) is sanitised like CI does', body(r.branchBody)),
    },
    '/api/v1/hooks/github': {
      post: op('GitHub webhook (X-Hub-Signature-256 over the raw body; delete of a branch, pull_request closed, create of a branch). 200 applied, 202 ignored (replay, unmapped), 204 unhandled event, 401 bad signature', { security: [] }),
    },
    '/api/v1/hooks/gitlab': {
      post: op('GitLab webhook (X-Gitlab-Token; push deleting or creating a branch, merge request merged). 200 applied, 202 ignored, 204 unhandled event, 401 bad token', { security: [] }),
    },
    '/api/v1/audit-events': {
      get: op('Audit events, newest first', {
        parameters: Object.entries(s.auditQuery.properties).map(([name, schema]) => ({ name, in: 'query', schema })),
      }),
    },
  },
} as const;
