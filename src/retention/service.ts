/**
 * Retention at the edges: gathers the snapshot the pure planner reads, computes a plan's exact
 * impact in SQL, and applies plans through the registry's manifest service (so the garbage
 * collector's review-queue triggers see every delete). Runs are recorded, audited and counted.
 */
import type { Logger } from 'pino';
import type { AuditActor } from '../metadata/stores/audit.js';
import type { Metadata } from '../metadata/stores/index.js';
import type { DoomedManifest, PolicyRow, RunRow } from '../metadata/stores/retention.js';
import type { BlobService } from '../registry/blobs.js';
import type { ManifestService } from '../registry/manifests.js';
import type { Repositories } from '../registry/repositories.js';
import type { UploadService } from '../registry/uploads.js';
import { PolicyInvalidError, PolicyNotFoundError, RunInProgressError, RunNotFoundError } from './errors.js';
import type { RetentionMetrics } from './metrics.js';
import { plan, type Decision } from './planner.js';
import { definitionOf, policyFrom, validatePolicy, type PolicyInput, type RetentionPolicy } from './policy.js';
import { gatherSnapshot } from './facts.js';
import { PRUNE_RULE } from './prune.js';
import { CacheRewriter, type Rewrite } from './rewrites.js';

/** A run that outlives this is presumed dead; another replica may then take the policy. */
const LEASE_SECONDS = 15 * 60;

export interface StoredPolicy extends RetentionPolicy {
  readonly nextRunAt: Date | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

export interface Plan {
  readonly decisions: Decision[];
  /** Manifests the plan deletes: untagged ones, and those its tag deletes and rewrites leave unreferenced. */
  readonly manifests: DoomedManifest[];
  /** The caches the plan rewrites (the decisions with action `rewrite`), computed from their cacheconfigs. */
  readonly rewrites: Rewrite[];
  readonly bytesFreed: number;
  readonly blobsFreed: number;
  /** Digests of the blobs counted in bytesFreed (a run checks them again after applying). */
  readonly freed: readonly string[];
}

export interface DeletedItem {
  readonly repository: string;
  readonly tag: string | null;
  readonly digest: string;
  readonly rule: string;
  readonly reason: string;
}

export interface RewrittenItem {
  readonly repository: string;
  readonly tag: string;
  /** The manifest the tag pointed at. */
  readonly digest: string;
  readonly rewrittenDigest: string;
  readonly rule: string;
  readonly reason: string;
}

export interface Run {
  readonly id: number;
  readonly policy: string | null;
  readonly trigger: RunRow['trigger'];
  /** Who ran it: an admin or open-mode caller (API), Cairn itself (schedule, CLI). */
  readonly actor: AuditActor;
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
  readonly tagsDeleted: number;
  readonly manifestsDeleted: number;
  readonly tagsRewritten: number;
  /** Bytes of blobs no manifest names any more after the run (checked after applying). */
  readonly bytesFreed: number;
  readonly blobsFreed: number;
  readonly deleted: DeletedItem[];
  readonly rewritten: RewrittenItem[];
  readonly error: string | null;
}

export type Trigger = RunRow['trigger'];

export class RetentionService {
  private readonly rewriter: CacheRewriter;

  constructor(
    private readonly deps: {
      metadata: Metadata;
      manifests: ManifestService;
      blobs: BlobService;
      uploads: UploadService;
      repositories: Repositories;
      metrics: RetentionMetrics;
      logger: Logger;
      /** Names this process in policy leases. */
      owner: string;
      now?: () => Date;
    },
  ) {
    this.rewriter = new CacheRewriter(deps);
  }

  private get store() {
    return this.deps.metadata.stores.retention;
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  async policies(): Promise<StoredPolicy[]> {
    return (await this.store.listPolicies()).map(storedPolicy);
  }

  async policy(name: string): Promise<StoredPolicy> {
    const row = await this.store.findPolicy(name);
    if (!row) throw new PolicyNotFoundError(name);
    return storedPolicy(row);
  }

  async savePolicy(name: string, input: PolicyInput): Promise<{ policy: StoredPolicy; created: boolean }> {
    const policy = policyFrom(name, input);
    const problem = validatePolicy(policy);
    if (problem) throw new PolicyInvalidError(problem);
    const created = await this.store.savePolicy(name, definitionOf(policy), policy.intervalSeconds);
    return { policy: await this.policy(name), created };
  }

  async deletePolicy(name: string): Promise<void> {
    if (!(await this.store.deletePolicy(name))) throw new PolicyNotFoundError(name);
  }

  /** The plan of one policy (the decisions it governs), or of all: nothing is changed. */
  async plan(name?: string): Promise<Plan> {
    const all = await this.policies();
    if (name !== undefined && !all.some((p) => p.name === name)) throw new PolicyNotFoundError(name);
    const { snapshot, repositoryIds } = await gatherSnapshot(this.deps.metadata, all);
    const planned = plan(all, snapshot, this.now()).filter((d) => name === undefined || d.policy === name);
    const { decisions, rewrites } = await this.prepareRewrites(planned);
    const deletes = decisions.filter((d) => d.action === 'delete');
    // A rewritten tag leaves its manifest as a deleted tag would, except for the layers it keeps.
    const untagged = [...deletes.filter((d) => d.tag !== null), ...rewrites].map((d) => ({ repositoryId: repositoryIds.get(d.repository)!, tag: d.tag! }));
    const impact = await this.store.impact(
      untagged,
      deletes.filter((d) => d.tag === null).map((d) => d.manifestId),
      rewrites.flatMap((r) => r.kept),
    );
    return { decisions, manifests: impact.doomed, rewrites, bytesFreed: impact.bytesFreed, blobsFreed: impact.blobsFreed, freed: impact.freed };
  }

  /** Reads each cache to rewrite; one that cannot be rewritten is kept as it is, saying why. */
  private async prepareRewrites(decisions: Decision[]): Promise<{ decisions: Decision[]; rewrites: Rewrite[] }> {
    const rewrites: Rewrite[] = [];
    const out: Decision[] = [];
    for (const d of decisions) {
      if (d.action !== 'rewrite' || d.tag === null) {
        out.push(d);
        continue;
      }
      const prepared = await this.rewriter.prepare({ ...d, tag: d.tag });
      if (typeof prepared === 'string') {
        const { unusedLayers: _unused, ...rest } = d;
        out.push({ ...rest, action: 'keep', rule: PRUNE_RULE, reason: `not rewritten: ${prepared}` });
        continue;
      }
      rewrites.push(prepared);
      out.push({ ...d, reason: `${d.reason}; ${prepared.blobsDropped.length} blobs and ${prepared.records.before - prepared.records.after} of ${prepared.records.before} records dropped, rewritten as ${prepared.to}` });
    }
    return { decisions: out, rewrites };
  }

  /**
   * Applies the plan of one policy now, or of every policy in turn. A policy is run by one
   * replica at a time: a named policy that is busy is refused, a busy one in an all-policies run
   * is skipped.
   */
  async run(name: string | undefined, trigger: Trigger, actor: AuditActor): Promise<Run[]> {
    const names = name !== undefined ? [(await this.policy(name)).name] : (await this.store.listPolicies()).map((p) => p.name);
    const runs: Run[] = [];
    for (const policy of names) {
      if (!(await this.store.claim(policy, this.deps.owner, LEASE_SECONDS))) {
        if (name !== undefined) throw new RunInProgressError(policy);
        continue;
      }
      try {
        runs.push(await this.runClaimed(policy, trigger, actor));
      } finally {
        await this.store.release(policy, this.deps.owner);
      }
    }
    return runs;
  }

  async runs(filter: { policy?: string; limit: number; before?: number }): Promise<Run[]> {
    return (await this.store.listRuns(filter)).map(runView);
  }

  async findRun(id: number): Promise<Run> {
    const row = await this.store.findRun(id);
    if (!row) throw new RunNotFoundError(id);
    return runView(row);
  }

  /**
   * Pruning inside a cache: per tagged cache of the repository, its imports, the layers and bytes
   * it holds and those anyone fetched, and its records whose results no one ever fetched.
   */
  async cacheUsage(repository: string) {
    const id = await this.deps.repositories.require(repository);
    const rows = await this.deps.metadata.stores.cacheUsage.usage(id);
    return rows.map((r) => ({
      tag: r.tag,
      manifestDigest: r.manifest_digest,
      importCount: r.import_count,
      lastImportedAt: r.last_imported_at,
      layersHeld: r.layers_held,
      bytesHeld: r.bytes_held,
      layersFetched: r.layers_fetched,
      bytesFetched: r.bytes_fetched,
      records: r.records,
      recordsNeverUsed: r.records_never_used,
    }));
  }

  private async runClaimed(policy: string, trigger: Trigger, actor: AuditActor): Promise<Run> {
    const { metrics, logger, manifests, metadata } = this.deps;
    const id = await this.store.startRun(policy, trigger, actor);
    const deleted: DeletedItem[] = [];
    const rewritten: RewrittenItem[] = [];
    let tagsDeleted = 0;
    let manifestsDeleted = 0;
    let freed = { bytes: 0, blobs: 0 };
    let error: string | null = null;
    try {
      const planned = await this.plan(policy);
      for (const d of planned.decisions) {
        if (d.action !== 'delete' || d.tag === null) continue;
        if (await manifests.untag(d.repository, d.tag, d.digest)) {
          tagsDeleted++;
          deleted.push({ repository: d.repository, tag: d.tag, digest: d.digest, rule: d.rule, reason: d.reason });
        }
      }
      // Before the manifests below are deleted: a rewrite leaves its old manifest untagged.
      for (const r of planned.rewrites) {
        if (await this.rewriter.apply(r)) {
          rewritten.push({ repository: r.repository, tag: r.tag, digest: r.from, rewrittenDigest: r.to, rule: r.rule, reason: r.reason });
        }
      }
      const rewrittenFrom = new Map(rewritten.map((r) => [`${r.repository}\u0000${r.digest}`, r]));
      const untaggedBy = new Map(planned.decisions.filter((d) => d.tag === null && d.action === 'delete').map((d) => [d.manifestId, d]));
      for (const m of planned.manifests) {
        if (!(await manifests.deleteOrphaned(m.repository, m.digest))) continue;
        manifestsDeleted++;
        const decision = untaggedBy.get(m.id);
        const rewrite = rewrittenFrom.get(`${m.repository}\u0000${m.digest}`);
        deleted.push(
          decision
            ? { repository: m.repository, tag: null, digest: m.digest, rule: decision.rule, reason: decision.reason }
            : rewrite
              ? { repository: m.repository, tag: null, digest: m.digest, rule: rewrite.rule, reason: `its tag ${rewrite.tag} now points at the rewritten cache ${rewrite.rewrittenDigest}` }
              : { repository: m.repository, tag: null, digest: m.digest, rule: 'unreferenced', reason: m.depth === 0 ? 'its last tag was deleted by this run' : 'child of an index deleted by this run' },
        );
      }
      freed = await this.store.unreferenced(planned.freed);
    } catch (err) {
      error = (err as Error).message;
      logger.error({ err, policy }, 'retention run failed');
    }
    const tagsRewritten = rewritten.length;
    await this.store.finishRun(id, { tagsDeleted, manifestsDeleted, tagsRewritten, bytesFreed: freed.bytes, blobsFreed: freed.blobs, deleted, rewritten, error });
    await metadata.stores.audit.record({
      actor,
      action: 'retention.run',
      target: policy,
      details: { run: id, trigger, tagsDeleted, manifestsDeleted, tagsRewritten, bytesFreed: freed.bytes, blobsFreed: freed.blobs, ...(error ? { error } : {}) },
    });
    metrics.runs.inc({ policy, trigger, outcome: error ? 'failed' : 'ok' });
    metrics.tagsDeleted.inc({ policy }, tagsDeleted);
    metrics.manifestsDeleted.inc({ policy }, manifestsDeleted);
    metrics.tagsRewritten.inc({ policy }, tagsRewritten);
    metrics.bytesFreed.inc({ policy }, freed.bytes);
    logger.info({ policy, trigger, run: id, tagsDeleted, manifestsDeleted, tagsRewritten, bytesFreed: freed.bytes }, 'retention run');
    return this.findRun(id);
  }
}

/** A plan as the API's GET /retention/plan and `cairn retention plan --json` show it. */
export function planView(plan: Plan) {
  return {
    decisions: plan.decisions.map(({ policy, repository, tag, digest, action, rule, reason }) => ({ policy, repository, tag, digest, action, rule, reason })),
    manifests: plan.manifests.map(({ repository, digest }) => ({ repository, digest })),
    rewrites: plan.rewrites.map((r) => ({
      repository: r.repository,
      tag: r.tag,
      digest: r.from,
      rewrittenDigest: r.to,
      blobsDropped: [...r.blobsDropped],
      records: { ...r.records },
    })),
    bytesFreed: plan.bytesFreed,
    blobsFreed: plan.blobsFreed,
  };
}

function storedPolicy(row: PolicyRow): StoredPolicy {
  const d = row.definition as unknown as Omit<RetentionPolicy, 'name' | 'intervalSeconds'>;
  return {
    name: row.name,
    repositories: d.repositories,
    tags: d.tags,
    protect: d.protect,
    keep: d.keep,
    delete: d.delete,
    ...(d.prune ? { prune: d.prune } : {}),
    intervalSeconds: row.interval_seconds,
    nextRunAt: row.next_run_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function runView(row: RunRow): Run {
  return {
    id: row.id,
    policy: row.policy,
    trigger: row.trigger,
    actor: { name: row.actor, kind: row.actor_kind },
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    tagsDeleted: row.tags_deleted,
    manifestsDeleted: row.manifests_deleted,
    tagsRewritten: row.tags_rewritten,
    bytesFreed: row.bytes_freed,
    blobsFreed: row.blobs_freed,
    deleted: row.deleted as DeletedItem[],
    rewritten: row.rewritten as RewrittenItem[],
    error: row.error,
  };
}
