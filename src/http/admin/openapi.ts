/** The OpenAPI 3.1 document of the admin API, served at GET /api/v1/openapi.json. */
import * as s from './schemas.js';
import { gcPaths } from './gc.js';

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
    '/api/v1/audit-events': {
      get: op('Audit events, newest first', {
        parameters: Object.entries(s.auditQuery.properties).map(([name, schema]) => ({ name, in: 'query', schema })),
      }),
    },
    ...gcPaths,
  },
} as const;
