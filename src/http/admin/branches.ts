/**
 * Branch lifecycle under /api/v1/repositories/<name>/… (admin only; changes audited):
 *   GET /repositories/<name>/branches              branches from cache tags and recorded states
 *   PUT /repositories/<name>/branches   {"live":[…]}   sync: every other known branch becomes gone
 *   PUT /repositories/<name>/branches/<branch>  {"state":"gone"|"live"}
 *
 * `/repositories/*` also carries the cache routes (caches.ts). Repository names hold slashes, so
 * neither can use path parameters; a router constraint derived from the path's ending sends
 * branch requests here and leaves every other path to the cache routes.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccessControl } from '../../auth/access-control.js';
import type { BranchLifecycle } from '../../retention/branches.js';
import { BranchInvalidError } from '../../retention/errors.js';
import { requireAdmin } from './api-auth.js';
import { strictValidation } from './strict-validation.js';
import * as s from './retention-schemas.js';

const SUBRESOURCE = 'repositorySubresource';
const BRANCHES_PATH = /^\/api\/v1\/repositories\/(.+)\/branches(?:\/([^/]+))?$/;

function branchPath(request: FastifyRequest): { repository: string; branch?: string } {
  const match = BRANCHES_PATH.exec((request.raw.url ?? '').split('?')[0]!)!;
  return { repository: match[1]!, ...(match[2] !== undefined ? { branch: decodeURIComponent(match[2]) } : {}) };
}

export function registerBranchRoutes(app: FastifyInstance, access: AccessControl, lifecycle: BranchLifecycle): void {
  app.addConstraintStrategy({
    name: SUBRESOURCE,
    storage() {
      const handlers = new Map<string, unknown>();
      return { get: (value: string) => (handlers.get(value) ?? null) as never, set: (value: string, store: unknown) => void handlers.set(value, store) };
    },
    deriveConstraint: (req: { url?: string }) => (BRANCHES_PATH.test((req.url ?? '').split('?')[0]!) ? 'branches' : undefined) as unknown as string,
    mustMatchWhenDerived: false,
    validate: () => true,
  });
  const constraints = { [SUBRESOURCE]: 'branches' };

  app.register(async (scope) => {
    strictValidation(scope);
    scope.addHook('preHandler', async (request) => {
      request.admin = await requireAdmin(access, request);
    });
    scope.get('/repositories/*', { constraints }, async (request) => {
      const { repository, branch } = branchPath(request);
      const branches = await lifecycle.list(repository);
      if (branch === undefined) return { repository, branches };
      return branches.find((b) => b.branch === branch) ?? { branch, state: 'live', changedAt: null, source: null, tags: [] };
    });
    scope.put<{ Body: { state?: 'live' | 'gone'; live?: string[] } }>(
      '/repositories/*',
      { constraints, schema: { body: s.branchBody } },
      async (request) => {
        const { repository, branch } = branchPath(request);
        const actor = request.admin?.name ?? null;
        if (branch !== undefined) {
          if (request.body.state === undefined) throw new BranchInvalidError('body must be {"state":"live"|"gone"}');
          const view = await lifecycle.set(repository, branch, request.body.state, `api:${actor ?? 'open'}`);
          await access.audit(actor, 'retention.branch', request.ip, { state: view.state }, `${repository}:${view.branch}`);
          return view;
        }
        if (request.body.live === undefined) throw new BranchInvalidError('body must be {"live":[branches]}');
        const result = await lifecycle.sync(repository, request.body.live, `api:${actor ?? 'open'}`);
        await access.audit(actor, 'retention.branch.sync', request.ip, result, repository);
        return { repository, ...result };
      },
    );
  });
}
