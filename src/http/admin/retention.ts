/**
 * The retention API under /api/v1 (admin only; every change audited with actor and target):
 *   GET    /retention/policies                 PUT|GET|DELETE /retention/policies/<name>
 *   POST   /retention/plan      {"policy"?}    the exact dry run: decisions, bytesFreed, blobsFreed
 *   POST   /retention/runs      {"policy"?}    apply now;  GET /retention/runs, /retention/runs/<id>
 *   GET    /retention/git-mappings             PUT|DELETE /retention/git-mappings/<git repository>
 *   GET    /retention/cache-usage/<repository> per cache: layers and bytes held vs fetched, unused records
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AccessControl } from '../../auth/access-control.js';
import type { BranchLifecycle } from '../../retention/branches.js';
import type { PolicyInput } from '../../retention/policy.js';
import type { Plan, RetentionService } from '../../retention/service.js';
import { requireAdmin } from './api-auth.js';
import { strictValidation } from './strict-validation.js';
import * as s from './retention-schemas.js';

export function registerRetentionRoutes(app: FastifyInstance, access: AccessControl, retention: RetentionService, lifecycle: BranchLifecycle): void {
  app.register(async (scope) => {
    strictValidation(scope);
    scope.addHook('preHandler', async (request) => {
      request.admin = await requireAdmin(access, request);
    });
    const audit = (request: FastifyRequest, action: string, target: string, details: Record<string, unknown> = {}) =>
      access.audit(request.admin?.name ?? null, action, request.ip, details, target);
    // POST /retention/plan and /retention/runs without a body mean every policy.
    scope.addHook('preValidation', async (request) => {
      if (request.method === 'POST' && request.body === undefined) request.body = {};
    });
    const nameParams = { type: 'object', properties: { name: s.policyName } } as const;

    scope.get('/retention/policies', async () => ({ policies: await retention.policies() }));
    scope.get<{ Params: { name: string } }>('/retention/policies/:name', { schema: { params: nameParams } }, async (request) => retention.policy(request.params.name));
    scope.put<{ Params: { name: string }; Body: PolicyInput }>(
      '/retention/policies/:name',
      { schema: { params: nameParams, body: s.policyBody } },
      async (request, reply) => {
        const { policy, created } = await retention.savePolicy(request.params.name, request.body);
        await audit(request, 'retention.policy.put', policy.name, { policy: request.body });
        return reply.code(created ? 201 : 200).send(policy);
      },
    );
    scope.delete<{ Params: { name: string } }>('/retention/policies/:name', { schema: { params: nameParams } }, async (request, reply) => {
      await retention.deletePolicy(request.params.name);
      await audit(request, 'retention.policy.delete', request.params.name);
      return reply.code(204).send();
    });

    scope.post<{ Body: { policy?: string } | undefined }>('/retention/plan', { schema: { body: s.planBody } }, async (request) =>
      planView(await retention.plan(request.body?.policy)),
    );
    scope.post<{ Body: { policy?: string } | undefined }>('/retention/runs', { schema: { body: s.planBody } }, async (request, reply) => {
      // The service audits each run (scheduled ones too), with this actor.
      const runs = await retention.run(request.body?.policy, 'api', request.admin?.name ?? null);
      return reply.code(201).send({ runs });
    });
    scope.get<{ Querystring: { policy?: string; limit: number; before?: number } }>('/retention/runs', { schema: { querystring: s.runsQuery } }, async (request) => ({
      runs: await retention.runs(request.query),
    }));
    scope.get<{ Params: { id: number } }>('/retention/runs/:id', { schema: { params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } } } } }, async (request) =>
      retention.findRun(request.params.id),
    );

    scope.get('/retention/cache-usage/*', async (request) => {
      const repository = wildcard(request);
      return { repository, caches: await retention.cacheUsage(repository) };
    });

    scope.get('/retention/git-mappings', async () => ({ mappings: await lifecycle.mappings() }));
    scope.put<{ Body: { repositories: string[]; lowercase?: boolean } }>('/retention/git-mappings/*', { schema: { body: s.gitMapping } }, async (request) => {
      const gitRepository = wildcard(request);
      const mapping = await lifecycle.saveMapping(gitRepository, request.body.repositories, request.body.lowercase ?? false);
      await audit(request, 'retention.git-mapping.put', gitRepository, { repositories: mapping.repositories, lowercase: mapping.lowercase });
      return mapping;
    });
    scope.delete('/retention/git-mappings/*', async (request, reply) => {
      const gitRepository = wildcard(request);
      await lifecycle.deleteMapping(gitRepository);
      await audit(request, 'retention.git-mapping.delete', gitRepository);
      return reply.code(204).send();
    });
  });
}

function wildcard(request: FastifyRequest): string {
  return (request.params as { '*': string })['*'];
}

function planView(plan: Plan) {
  return {
    decisions: plan.decisions.map(({ policy, repository, tag, digest, action, rule, reason }) => ({ policy, repository, tag, digest, action, rule, reason })),
    manifests: plan.manifests.map(({ repository, digest }) => ({ repository, digest })),
    bytesFreed: plan.bytesFreed,
    blobsFreed: plan.blobsFreed,
  };
}
