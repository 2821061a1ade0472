/**
 * Branch lifecycle: branch states set over REST (one branch, or a sync with the full list of live
 * branches), and from Git forge webhooks through a Git repository → Cairn repositories mapping.
 * The planner reads the states; nothing here deletes anything.
 */
import type { Logger } from 'pino';
import { branchOf } from '../cache/branches.js';
import type { AuditActor } from '../metadata/stores/audit.js';
import type { Metadata, Stores } from '../metadata/stores/index.js';
import { isValidRepositoryName } from '../oci/name.js';
import type { Repositories } from '../registry/repositories.js';
import { sanitiseBranch } from './branch-names.js';
import { BranchInvalidError, MappingInvalidError, MappingNotFoundError, WebhookInvalidError, WebhookNotConfiguredError, WebhookUnauthenticatedError } from './errors.js';
import { readGitHubEvent, readGitLabEvent, verifyGitHubSignature, verifyGitLabToken, type BranchEvent, type Forge } from './webhooks.js';

export interface BranchView {
  readonly branch: string;
  readonly state: 'live' | 'gone';
  /** When the state last changed; null for a branch only known from its cache tags. */
  readonly changedAt: Date | null;
  readonly source: string | null;
  readonly tags: string[];
}

export interface GitMapping {
  readonly gitRepository: string;
  readonly repositories: string[];
  readonly lowercase: boolean;
  readonly updatedAt: Date;
}

export interface WebhookSecrets {
  readonly github?: string;
  readonly gitlab?: string;
}

export interface WebhookDelivery {
  readonly event: string | undefined;
  readonly deliveryId: string | undefined;
  /** X-Hub-Signature-256 (GitHub) or X-Gitlab-Token (GitLab). */
  readonly credential: string | undefined;
  readonly body: Buffer;
}

export type WebhookOutcome =
  | { readonly status: 'applied'; readonly gitRepository: string; readonly branch: string; readonly state: 'live' | 'gone'; readonly repositories: string[] }
  /** A known event we chose not to act on (replayed delivery, unmapped repository). */
  | { readonly status: 'ignored'; readonly reason: string }
  /** An event we do not act on at all (ping, push, issues…). */
  | { readonly status: 'unhandled'; readonly event: string | null };

const MAX_BRANCH_LENGTH = 255;
const MAX_SYNC_BRANCHES = 10_000;

export class BranchLifecycle {
  constructor(
    private readonly deps: { metadata: Metadata; repositories: Repositories; secrets: WebhookSecrets; logger: Logger },
  ) {}

  /** Branches of a repository: from its tags (with the tags) and from recorded states. */
  async list(repository: string): Promise<BranchView[]> {
    const id = await this.deps.repositories.require(repository);
    const { stores } = this.deps.metadata;
    const [tags, states, patterns] = await Promise.all([stores.retention.tagFacts([id]), stores.branches.list([id]), stores.retention.branchPatterns([id])]);
    const views = new Map<string, BranchView>();
    for (const s of states) views.set(s.branch, { branch: s.branch, state: s.state, changedAt: s.changed_at, source: s.source, tags: [] });
    for (const t of tags) {
      const branch = branchOf(t.tag, patterns.get(id));
      if (branch === undefined) continue;
      const view = views.get(branch) ?? { branch, state: 'live' as const, changedAt: null, source: null, tags: [] };
      view.tags.push(t.tag);
      views.set(branch, view);
    }
    return [...views.values()].sort((a, b) => (a.branch < b.branch ? -1 : a.branch > b.branch ? 1 : 0));
  }

  /** One branch; the name may be given as Git names it. Never recorded and untagged: live. */
  async find(repository: string, branch: string): Promise<BranchView> {
    const name = checkedBranch(branch);
    return (await this.list(repository)).find((b) => b.branch === name) ?? { branch: name, state: 'live', changedAt: null, source: null, tags: [] };
  }

  /** Sets one branch's state. The branch may be given as Git names it (`feature/x`). */
  async set(repository: string, branch: string, state: 'live' | 'gone', source: string): Promise<BranchView> {
    const name = checkedBranch(branch);
    const id = await this.deps.repositories.require(repository);
    await this.deps.metadata.stores.branches.set(id, [name], state, source);
    return (await this.list(repository)).find((b) => b.branch === name)!;
  }

  /** Every branch the repository knows (tags or states) that is not in `live` becomes gone; those in it live. */
  async sync(repository: string, live: readonly string[], source: string): Promise<{ live: string[]; gone: string[] }> {
    if (live.length > MAX_SYNC_BRANCHES) throw new BranchInvalidError(`at most ${MAX_SYNC_BRANCHES} branches per sync`);
    const liveNames = [...new Set(live.map(checkedBranch))];
    const known = (await this.list(repository)).map((b) => b.branch);
    const gone = known.filter((b) => !liveNames.includes(b));
    const id = await this.deps.repositories.require(repository);
    await this.deps.metadata.transaction(async (stores) => {
      await stores.branches.set(id, liveNames, 'live', source);
      await stores.branches.set(id, gone, 'gone', source);
    });
    return { live: liveNames, gone };
  }

  async mappings(): Promise<GitMapping[]> {
    return (await this.deps.metadata.stores.branches.listMappings()).map(mappingView);
  }

  async saveMapping(gitRepository: string, repositories: readonly string[], lowercase: boolean): Promise<GitMapping> {
    checkGitRepository(gitRepository);
    const bad = repositories.find((r) => !isValidRepositoryName(r));
    if (bad !== undefined) throw new MappingInvalidError(`"${bad}" is not a repository name`);
    return mappingView(await this.deps.metadata.stores.branches.saveMapping(gitRepository, repositories, lowercase));
  }

  async deleteMapping(gitRepository: string): Promise<void> {
    checkGitRepository(gitRepository);
    if (!(await this.deps.metadata.stores.branches.deleteMapping(gitRepository))) throw new MappingNotFoundError(gitRepository);
  }

  /**
   * A forge delivery: authenticated with the shared secret (constant time), acted on at most once
   * per delivery id, and only for the events we know; anything else is ignored.
   */
  async receive(forge: Forge, delivery: WebhookDelivery): Promise<WebhookOutcome> {
    const secret = this.deps.secrets[forge];
    if (!secret) throw new WebhookNotConfiguredError(forge);
    const authentic = forge === 'github' ? verifyGitHubSignature(secret, delivery.body, delivery.credential) : verifyGitLabToken(secret, delivery.credential);
    if (!authentic) throw new WebhookUnauthenticatedError(forge);
    let payload: unknown;
    try {
      payload = JSON.parse(delivery.body.toString('utf8'));
    } catch {
      throw new WebhookInvalidError('the body is not JSON (set the webhook content type to application/json)');
    }
    const event = forge === 'github' ? readGitHubEvent(delivery.event, payload) : readGitLabEvent(payload);
    if (!event) return { status: 'unhandled', event: delivery.event ?? null };
    if (!delivery.deliveryId) throw new WebhookInvalidError(`missing ${forge === 'github' ? 'X-GitHub-Delivery' : 'X-Gitlab-Event-UUID'} header`);
    const mapping = await this.deps.metadata.stores.branches.findMapping(event.gitRepository);
    if (!mapping) return { status: 'ignored', reason: `no mapping for Git repository "${event.gitRepository}"` };
    return this.deps.metadata.transaction((stores) => this.apply(stores, forge, delivery.deliveryId!, event, mapping.repositories, mapping.lowercase));
  }

  /** Records the delivery and the states in one transaction, so a failure leaves the delivery retryable. */
  private async apply(stores: Stores, forge: Forge, deliveryId: string, event: BranchEvent, repositories: string[], lowercase: boolean): Promise<WebhookOutcome> {
    if (!(await stores.branches.firstDelivery(forge, deliveryId))) return { status: 'ignored', reason: `delivery ${deliveryId} was already received` };
    const branch = sanitiseBranch(event.branch, { lowercase });
    const applied: string[] = [];
    for (const repository of repositories) {
      const id = await this.deps.repositories.find(repository);
      if (id === undefined) continue;
      await stores.branches.set(id, [branch], event.state, event.why);
      applied.push(repository);
    }
    await stores.audit.record({
      actor: webhookActor(forge),
      action: 'branch.update',
      target: event.gitRepository,
      details: { delivery: deliveryId, branch, state: event.state, why: event.why, repositories: applied },
    });
    this.deps.logger.info({ forge, gitRepository: event.gitRepository, branch, state: event.state, repositories: applied }, 'branch state from webhook');
    return { status: 'applied', gitRepository: event.gitRepository, branch, state: event.state, repositories: applied };
  }
}

/**
 * A forge's delivery, as an audit actor: kind 'system' — Cairn acting on the operator's
 * configuration (the shared secret they set and the mapping an admin made), as for the start-up
 * admin — so no new actor kind (and no migration of audit_events' CHECK) is needed. The name
 * says which forge; the kind keeps it apart from an account of that name.
 */
export function webhookActor(forge: Forge): AuditActor {
  return { name: forge, kind: 'system' };
}

function checkGitRepository(gitRepository: string): void {
  if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)+$/.test(gitRepository) || gitRepository.length > 255) {
    throw new MappingInvalidError(`"${gitRepository}" is not a Git repository path (owner/name, group/sub/name)`);
  }
}

function checkedBranch(branch: string): string {
  if (branch.length === 0 || branch.length > MAX_BRANCH_LENGTH) throw new BranchInvalidError(`a branch name has 1 to ${MAX_BRANCH_LENGTH} characters`);
  return sanitiseBranch(branch);
}

function mappingView(row: { git_repository: string; repositories: string[]; lowercase: boolean; updated_at: Date }): GitMapping {
  return { gitRepository: row.git_repository, repositories: row.repositories, lowercase: row.lowercase, updatedAt: row.updated_at };
}
