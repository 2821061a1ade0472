/**
 * The retention API: policies, the exact dry run, runs and their history, Git repository
 * mappings (admins only), and per repository its branches and the usage of its caches (pull
 * permission, like the cache API; setting a branch's state is an admin change). Every change is
 * audited with its actor and the object it changed (route.ts).
 *
 * A run is recorded twice in the audit log, on purpose: `retention.apply` here is the request
 * (who asked, for which policy), `retention.run` from the service is each policy's run and what
 * it deleted — the one scheduled and `cairn retention apply` runs record too.
 */
import type { BranchLifecycle, BranchView, GitMapping } from '../../retention/branches.js';
import type { PolicyInput } from '../../retention/policy.js';
import { planView, type RetentionService, type Run } from '../../retention/service.js';
import { auditActor } from './api-auth.js';
import { defineRoute, type AdminRoute } from './route.js';
import * as r from './retention-schemas.js';

type Name = { name: string };
type PolicyChoice = { policy?: string };

const NAME_NOTE = 'Repository names contain slashes and are sent as they are: /api/v1/repositories/team/app/branches.';
const BRANCH_NOTE = `${NAME_NOTE} A branch as Git names it (feature/x) is sent percent-encoded (feature%2Fx) and sanitised the way CI names cache tags (feature-x).`;

export function retentionRoutes(retention: RetentionService, lifecycle: BranchLifecycle): AdminRoute[] {
  return [
    defineRoute({
      method: 'GET',
      path: '/retention/policies',
      operationId: 'listRetentionPolicies',
      tag: 'retention',
      summary: 'Retention policies',
      access: 'admin',
      schema: { response: r.policies },
      status: 200,
      errors: [],
      handler: async () => ({ policies: await retention.policies() }),
    }),
    defineRoute<Name>({
      method: 'GET',
      path: '/retention/policies/{name}',
      operationId: 'getRetentionPolicy',
      tag: 'retention',
      summary: 'One retention policy',
      access: 'admin',
      schema: { params: r.policyParams, response: r.policy },
      status: 200,
      errors: ['policy_not_found'],
      handler: async ({ params }) => retention.policy(params.name),
    }),
    defineRoute<Name, Record<string, never>, PolicyInput>({
      method: 'PUT',
      path: '/retention/policies/{name}',
      operationId: 'putRetentionPolicy',
      tag: 'retention',
      summary: 'Create or replace a retention policy (created if new, like cache settings)',
      description: 'Unknown properties are refused: a misspelt keep rule must not silently become no keep rule, and more deletions.',
      access: 'admin',
      schema: { params: r.policyParams, body: r.policyBody, response: r.policy },
      status: 200,
      errors: ['policy_invalid'],
      handler: async ({ params, body }) => (await retention.savePolicy(params.name, body)).policy,
      action: 'retention_policy.save',
      audit: ({ params, body }) => ({ target: params.name, details: { policy: body } }),
    }),
    defineRoute<Name>({
      method: 'DELETE',
      path: '/retention/policies/{name}',
      operationId: 'deleteRetentionPolicy',
      tag: 'retention',
      summary: 'Delete a retention policy',
      access: 'admin',
      schema: { params: r.policyParams },
      status: 204,
      errors: ['policy_not_found'],
      handler: async ({ params }) => retention.deletePolicy(params.name),
      action: 'retention_policy.delete',
      audit: ({ params }) => ({ target: params.name }),
    }),
    defineRoute<Record<string, never>, PolicyChoice>({
      method: 'GET',
      path: '/retention/plan',
      operationId: 'planRetention',
      tag: 'retention',
      summary: 'The dry run of one policy (?policy=) or of all: every decision with its rule and reason, and the exact bytes and blobs no manifest would name any more',
      access: 'admin',
      schema: { querystring: r.planQuery, response: r.plan },
      status: 200,
      errors: ['policy_not_found'],
      handler: async ({ query }) => planView(await retention.plan(query.policy)),
    }),
    defineRoute<Record<string, never>, Record<string, never>, PolicyChoice, { bytesFreed: number; blobsFreed: number }>({
      method: 'POST',
      path: '/retention/plan',
      operationId: 'planRetentionPost',
      tag: 'retention',
      summary: 'The dry run of one policy ({"policy": NAME}) or of all ({}): each decision with its rule and reason, and the exact bytes and blobs no manifest would name any more; nothing is changed',
      description: 'The answer is exactly {"decisions":[{"repository","tag","digest","action","rule","reason"}],"bytesFreed","blobsFreed"}; GET /retention/plan also names each decision\'s policy, the manifests deleted and the caches rewritten.',
      access: 'admin',
      schema: { body: r.planBody, response: r.planAnswer },
      status: 200,
      errors: ['policy_not_found'],
      handler: async ({ body }) => {
        const plan = await retention.plan(body.policy);
        return {
          decisions: plan.decisions.map(({ repository, tag, digest, action, rule, reason }) => ({ repository, tag, digest, action, rule, reason })),
          bytesFreed: plan.bytesFreed,
          blobsFreed: plan.blobsFreed,
        };
      },
      // A POST, but a dry run: it changes nothing, yet the route table audits every POST; the
      // record says who looked at what a policy would do.
      action: 'retention.plan',
      audit: ({ body }, answer) => ({ target: body.policy ?? '*', details: { bytesFreed: answer.bytesFreed, blobsFreed: answer.blobsFreed } }),
    }),
    defineRoute<Record<string, never>, Record<string, never>, PolicyChoice, { runs: Run[] }>({
      method: 'POST',
      path: '/retention/runs',
      operationId: 'runRetention',
      tag: 'retention',
      summary: 'Apply one policy ({"policy": NAME}) or every policy ({}) now; a policy another replica is running is refused (409) or, for {}, skipped',
      access: 'admin',
      schema: { body: r.planBody, response: r.runs },
      status: 201,
      errors: ['policy_not_found', 'run_in_progress'],
      handler: async ({ body, caller }) => ({ runs: await retention.run(body.policy, 'api', auditActor(caller)) }),
      action: 'retention.apply',
      // '*' as in repository patterns: every policy.
      audit: ({ body }, result) => ({ target: body.policy ?? '*', details: { runs: result.runs.map((run) => run.id) } }),
    }),
    defineRoute<Record<string, never>, { policy?: string; limit: number; before?: number }>({
      method: 'GET',
      path: '/retention/runs',
      operationId: 'listRetentionRuns',
      tag: 'retention',
      summary: 'Run history, newest first: what each run deleted, by which rule, and the bytes it left unreferenced',
      access: 'admin',
      schema: { querystring: r.runsQuery, response: r.runs },
      status: 200,
      errors: [],
      handler: async ({ query }) => ({ runs: await retention.runs(query) }),
    }),
    defineRoute<{ id: number }>({
      method: 'GET',
      path: '/retention/runs/{id}',
      operationId: 'getRetentionRun',
      tag: 'retention',
      summary: 'One run',
      access: 'admin',
      schema: { params: r.runParams, response: r.run },
      status: 200,
      errors: ['run_not_found'],
      handler: async ({ params }) => retention.findRun(params.id),
    }),
    defineRoute({
      method: 'GET',
      path: '/retention/git-mappings',
      operationId: 'listGitMappings',
      tag: 'retention',
      summary: 'Git repository → Cairn repositories mappings, used by the webhook receivers',
      access: 'admin',
      schema: { response: r.mappings },
      status: 200,
      errors: [],
      handler: async () => ({ mappings: await lifecycle.mappings() }),
    }),
    defineRoute<{ gitRepository: string }, Record<string, never>, { repositories: string[]; lowercase: boolean }, GitMapping>({
      method: 'PUT',
      path: '/retention/git-mappings/{gitRepository}',
      operationId: 'putGitMapping',
      tag: 'retention',
      summary: 'Map a Git repository (owner/name, group/sub/name; percent-encode its slashes) to Cairn repositories',
      access: 'admin',
      schema: { params: r.gitRepositoryParams, body: r.gitMapping, response: r.mapping },
      status: 200,
      errors: ['mapping_invalid'],
      handler: async ({ params, body }) => lifecycle.saveMapping(params.gitRepository, body.repositories, body.lowercase),
      action: 'git_mapping.save',
      audit: ({ params }, saved) => ({ target: params.gitRepository, details: { repositories: saved.repositories, lowercase: saved.lowercase } }),
    }),
    defineRoute<{ gitRepository: string }>({
      method: 'DELETE',
      path: '/retention/git-mappings/{gitRepository}',
      operationId: 'deleteGitMapping',
      tag: 'retention',
      summary: 'Remove a Git repository mapping',
      access: 'admin',
      schema: { params: r.gitRepositoryParams },
      status: 204,
      errors: ['mapping_invalid', 'mapping_not_found'],
      handler: async ({ params }) => lifecycle.deleteMapping(params.gitRepository),
      action: 'git_mapping.delete',
      audit: ({ params }) => ({ target: params.gitRepository }),
    }),
    // Declaration order is matching order: `…/branches/{branch}` before `…/branches`.
    defineRoute<Name & { branch: string }>({
      method: 'GET',
      path: '/repositories/{name}/branches/{branch}',
      operationId: 'getBranch',
      tag: 'retention',
      summary: 'One branch (live and never recorded when no state was set and no cache tag names it); a name over 255 characters is refused',
      description: BRANCH_NOTE,
      access: 'reader',
      status: 200,
      schema: { response: r.branch },
      errors: ['repository_name_invalid', 'repository_not_found', 'branch_invalid'],
      handler: async ({ params }) => lifecycle.find(params.name, branchParam(params.branch)),
    }),
    defineRoute<Name & { branch: string }, Record<string, never>, { state: 'live' | 'gone' }, BranchView>({
      method: 'PUT',
      path: '/repositories/{name}/branches/{branch}',
      operationId: 'putBranchState',
      tag: 'retention',
      summary: 'Mark a branch gone (its caches become deletable after a policy\'s grace period) or live again',
      description: BRANCH_NOTE,
      access: 'admin',
      schema: { body: r.branchState, response: r.branch },
      status: 200,
      errors: ['repository_name_invalid', 'repository_not_found', 'branch_invalid'],
      handler: async ({ params, body, caller }) => lifecycle.set(params.name, branchParam(params.branch), body.state, `api:${auditActor(caller).name}`),
      action: 'branch.update',
      audit: ({ params }, view) => ({ target: params.name, details: { branch: view.branch, state: view.state } }),
    }),
    defineRoute<Name>({
      method: 'GET',
      path: '/repositories/{name}/branches',
      operationId: 'listBranches',
      tag: 'retention',
      summary: 'Branches of a repository: from its cache tags and recorded states (live or gone, since when, set by whom)',
      description: NAME_NOTE,
      access: 'reader',
      schema: { response: r.branches },
      status: 200,
      errors: ['repository_name_invalid', 'repository_not_found'],
      handler: async ({ params }) => ({ repository: params.name, branches: await lifecycle.list(params.name) }),
    }),
    defineRoute<Name, Record<string, never>, { live: string[] }, { repository: string; live: string[]; gone: string[] }>({
      method: 'PUT',
      path: '/repositories/{name}/branches',
      operationId: 'syncBranches',
      tag: 'retention',
      summary: 'Sync with the full list of live branches: every other branch the repository knows becomes gone',
      description: NAME_NOTE,
      access: 'admin',
      schema: { body: r.branchSync, response: r.branchSyncResult },
      status: 200,
      errors: ['repository_name_invalid', 'repository_not_found', 'branch_invalid'],
      handler: async ({ params, body, caller }) => ({ repository: params.name, ...(await lifecycle.sync(params.name, body.live, `api:${auditActor(caller).name}`)) }),
      action: 'branch.sync',
      audit: ({ params }, result) => ({ target: params.name, details: { live: result.live, gone: result.gone } }),
    }),
    defineRoute<Name>({
      method: 'GET',
      path: '/repositories/{name}/cache-usage',
      operationId: 'getCacheUsage',
      tag: 'retention',
      summary: 'Pruning inside a cache: per tagged cache, imports, layers and bytes held vs fetched, records whose results no one fetched',
      description: NAME_NOTE,
      access: 'reader',
      schema: { response: r.cacheUsage },
      status: 200,
      errors: ['repository_name_invalid', 'repository_not_found'],
      handler: async ({ params }) => ({ repository: params.name, caches: await retention.cacheUsage(params.name) }),
    }),
  ];
}

/**
 * The `{branch}` segment, percent-decoded: the dispatcher hands segments over as sent, and
 * Fastify has already refused a URL whose percent-encoding is malformed.
 */
function branchParam(raw: string): string {
  return decodeURIComponent(raw);
}
