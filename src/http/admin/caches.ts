/**
 * The BuildKit cache API under /api/v1 (see openapi.ts):
 *   GET /caches                                     every tagged cache the caller may pull
 *   GET /repositories/<name>/caches                 caches of one repository
 *   GET /repositories/<name>/caches/<tag>           one cache: layers, records, shared bytes
 *   GET /repositories/<name>/caches/<tag>/diff/<other>
 *   GET|PUT /repositories/<name>/cache-settings      branch pattern, merge and fallback (PUT: admin)
 * Repository names contain slashes, so `/repositories/*` is parsed from the right, like /v2.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccessControl } from '../../auth/access-control.js';
import type { CacheService, CacheSettings } from '../../cache/service.js';
import type { Repositories } from '../../registry/repositories.js';
import { AdminError, identifyCaller, mayRead, requireAdmin } from './api-auth.js';
import * as s from './schemas.js';

type Route =
  | { kind: 'list'; name: string }
  | { kind: 'detail'; name: string; tag: string }
  | { kind: 'diff'; name: string; tag: string; other: string }
  | { kind: 'settings'; name: string };

const ROUTES: ReadonlyArray<[RegExp, (m: RegExpExecArray) => Route]> = [
  [/^(.+)\/caches$/, (m) => ({ kind: 'list', name: m[1]! })],
  [/^(.+)\/caches\/([^/]+)\/diff\/([^/]+)$/, (m) => ({ kind: 'diff', name: m[1]!, tag: m[2]!, other: m[3]! })],
  [/^(.+)\/caches\/([^/]+)$/, (m) => ({ kind: 'detail', name: m[1]!, tag: m[2]! })],
  [/^(.+)\/cache-settings$/, (m) => ({ kind: 'settings', name: m[1]! })],
];

export function registerCacheRoutes(app: FastifyInstance, access: AccessControl, caches: CacheService, repositories: Repositories): void {
  app.get('/caches', async (request) => {
    const caller = await identifyCaller(access, request);
    const all = await caches.list();
    const visible = [];
    for (const c of all) if (await mayRead(access, caller, c.repository)) visible.push(c);
    return { caches: visible };
  });

  app.get('/repositories/*', async (request) => {
    const route = parseRoute(request);
    const caller = await identifyCaller(access, request);
    if (!(await mayRead(access, caller, route.name))) {
      if (caller.open || caller.account) throw new AdminError(403, 'forbidden', 'no pull permission on this repository');
      throw new AdminError(401, 'unauthorized', 'authentication required');
    }
    const id = await repositories.require(route.name);
    switch (route.kind) {
      case 'list':
        return { repository: route.name, caches: await caches.list(id) };
      case 'detail':
        return caches.detail(id, route.tag);
      case 'diff':
        return caches.diff(id, route.tag, route.other);
      case 'settings':
        return caches.settings(id);
    }
  });

  app.put<{ Body: CacheSettings }>('/repositories/*', { schema: { body: s.cacheSettings } }, async (request) => {
    const route = parseRoute(request);
    if (route.kind !== 'settings') throw new AdminError(405, 'method_not_allowed', 'only cache-settings can be written');
    await requireAdmin(access, request);
    const id = await repositories.findOrCreate(route.name);
    const saved = await caches.saveSettings(id, request.body);
    await access.audit(null, 'admin.put cache-settings', request.ip, { ...saved }, route.name);
    return saved;
  });
}

function parseRoute(request: FastifyRequest): Route {
  const rest = (request.raw.url ?? '').split('?')[0]!.replace(/^\/api\/v1\/repositories\//, '');
  for (const [pattern, build] of ROUTES) {
    const match = pattern.exec(rest);
    if (match) return build(match);
  }
  throw new AdminError(404, 'not_found', 'unknown endpoint');
}
