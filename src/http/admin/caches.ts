/**
 * The BuildKit cache API: reads need pull permission on the repository (or admin); the
 * registry-wide list holds only what the caller may pull; settings are written by admins.
 * Repository names contain slashes: these paths are matched from the right (see route.ts).
 */
import type { AccessControl } from '../../auth/access-control.js';
import type { CacheService, CacheSettings } from '../../cache/service.js';
import type { Repositories } from '../../registry/repositories.js';
import { mayRead } from './api-auth.js';
import { defineRoute, type AdminRoute } from './route.js';
import * as s from './schemas.js';

type Name = { name: string };

const NAME_NOTE = 'Repository names contain slashes and are sent as they are: /api/v1/repositories/team/app/caches.';

export function cacheRoutes(access: AccessControl, caches: CacheService, repositories: Repositories): AdminRoute[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/caches',
      operationId: 'listCaches',
      tag: 'caches',
      summary: 'Every tagged BuildKit cache the caller may pull: tag, branch, format, mode, sizes, records, layers, imports, warnings',
      access: 'reader',
      schema: { response: s.caches },
      status: 200,
      errors: [],
      handler: async ({ caller }) => {
        const visible = [];
        for (const cache of await caches.list()) if (await mayRead(access, caller, cache.repository)) visible.push(cache);
        return { caches: visible };
      },
    }),
    // Declaration order is matching order: `…/caches/{tag}/diff/{other}` before `…/caches/{tag}`.
    defineRoute<Name>({
      method: 'GET',
      path: '/repositories/{name}/caches',
      operationId: 'listRepositoryCaches',
      tag: 'caches',
      summary: "A repository's BuildKit caches",
      description: NAME_NOTE,
      access: 'reader',
      schema: { response: s.repositoryCaches },
      status: 200,
      errors: ['repository_name_invalid', 'repository_not_found'],
      handler: async ({ params }) => ({ repository: params.name, caches: await caches.list(await repositories.require(params.name)) }),
    }),
    defineRoute<Name & { tag: string; other: string }>({
      method: 'GET',
      path: '/repositories/{name}/caches/{tag}/diff/{other}',
      operationId: 'diffCaches',
      tag: 'caches',
      summary: 'Records and layers only in one of two caches, and the bytes on each side',
      description: NAME_NOTE,
      access: 'reader',
      schema: { response: s.cacheDiff },
      status: 200,
      errors: ['repository_name_invalid', 'repository_not_found', 'cache_not_found'],
      handler: async ({ params }) => caches.diff(await repositories.require(params.name), params.tag, params.other),
    }),
    defineRoute<Name & { tag: string }>({
      method: 'GET',
      path: '/repositories/{name}/caches/{tag}',
      operationId: 'getCache',
      tag: 'caches',
      summary: 'One cache: layers (digest, size, media type, buildkit/createdat), records with their result chains and inputs, bytes shared with every other cache',
      description: NAME_NOTE,
      access: 'reader',
      schema: { response: s.cacheDetail },
      status: 200,
      errors: ['repository_name_invalid', 'repository_not_found', 'cache_not_found'],
      handler: async ({ params }) => caches.detail(await repositories.require(params.name), params.tag),
    }),
    defineRoute<Name>({
      method: 'GET',
      path: '/repositories/{name}/cache-settings',
      operationId: 'getCacheSettings',
      tag: 'caches',
      summary: 'Branch pattern, merge-enabled tag globs and fallback tags of a repository',
      description: NAME_NOTE,
      access: 'reader',
      schema: { response: s.cacheSettingsAnswer },
      status: 200,
      errors: ['repository_name_invalid', 'repository_not_found'],
      handler: async ({ params }) => caches.settings(await repositories.require(params.name)),
    }),
    defineRoute<Name, Record<string, never>, CacheSettings, CacheSettings>({
      method: 'PUT',
      path: '/repositories/{name}/cache-settings',
      operationId: 'putCacheSettings',
      tag: 'caches',
      summary: 'Set the branch pattern, merge-enabled tag globs and fallback tags of a repository (created if new)',
      description: NAME_NOTE,
      access: 'admin',
      schema: { body: s.cacheSettings, response: s.cacheSettingsAnswer },
      status: 200,
      errors: ['repository_name_invalid', 'cache_settings_invalid'],
      handler: async ({ params, body }) => caches.saveSettings(await repositories.findOrCreate(params.name), body),
      action: 'cache_settings.update',
      audit: ({ params }, saved) => ({ target: params.name, details: { ...saved } }),
    }),
  ];
}
