/**
 * `RUN --mount=type=cache` directories kept between builds (src/build/engine/cache-mounts.ts),
 * listed with their size in bytes and inodes, and purged. On the embedded default the server and
 * its build workers share DATA_DIR, so the server reads and removes them directly. Reads need pull
 * permission on the repository; purges are admin changes, audited.
 */
import type { CacheMounts } from '../../build/engine/cache-mounts.js';
import { isValidRepositoryName } from '../../oci/name.js';
import { ApiError } from './errors.js';
import { defineRoute, type AdminRoute } from './route.js';
import * as s from './schemas.js';

type Name = { name: string };

const NAME_NOTE = 'Repository names contain slashes and are sent as they are: /api/v1/repositories/team/app/cache-mounts.';

function checked(name: string): string {
  if (!isValidRepositoryName(name)) throw new ApiError('repository_name_invalid', `invalid repository name "${name.slice(0, 300)}"`);
  return name;
}

export function cacheMountRoutes(mounts: CacheMounts): AdminRoute[] {
  return [
    defineRoute<Name>({
      method: 'GET',
      path: '/repositories/{name}/cache-mounts',
      operationId: 'listCacheMounts',
      tag: 'builds',
      summary: "A repository's build cache mounts (RUN --mount=type=cache) with their size in bytes and inodes",
      description: NAME_NOTE,
      access: 'reader',
      schema: { response: s.cacheMounts },
      status: 200,
      errors: ['repository_name_invalid'],
      handler: async ({ params }) => ({ repository: params.name, mounts: (await mounts.list(checked(params.name))).map(({ id, bytes, inodes }) => ({ id, bytes, inodes })) }),
    }),
    // Declaration order is matching order: `…/cache-mounts/{id}` before `…/cache-mounts`.
    defineRoute<Name & { id: string }>({
      method: 'DELETE',
      path: '/repositories/{name}/cache-mounts/{id}',
      operationId: 'deleteCacheMount',
      tag: 'builds',
      summary: 'Purge one cache mount: the next build that uses it starts empty',
      description: NAME_NOTE,
      access: 'admin',
      schema: {},
      status: 204,
      errors: ['repository_name_invalid', 'cache_mount_not_found'],
      handler: async ({ params }) => {
        await mounts.purge(checked(params.name), params.id);
      },
      action: 'cache_mount.purge',
      audit: ({ params }) => ({ target: params.name, details: { id: params.id } }),
    }),
    defineRoute<Name>({
      method: 'DELETE',
      path: '/repositories/{name}/cache-mounts',
      operationId: 'deleteCacheMounts',
      tag: 'builds',
      summary: "Purge every cache mount of a repository",
      description: NAME_NOTE,
      access: 'admin',
      schema: {},
      status: 204,
      errors: ['repository_name_invalid'],
      handler: async ({ params }) => {
        await mounts.purgeAll(checked(params.name));
      },
      action: 'cache_mount.purge_all',
      audit: ({ params }) => ({ target: params.name, details: {} }),
    }),
  ];
}
