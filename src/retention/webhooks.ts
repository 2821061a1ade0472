/**
 * Git forge webhooks → branch lifecycle events. Pure: signature checks (constant time) and
 * payload reading; the service acts on what comes out.
 *
 * GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`, `X-GitHub-Event`,
 * `X-GitHub-Delivery`. Acted on: `delete` of a branch and `pull_request` closed (its head branch,
 * same repository only) → gone; `create` of a branch → live.
 * GitLab: `X-Gitlab-Token: <secret>`, `X-Gitlab-Event`, `X-Gitlab-Event-UUID`. Acted on: a push
 * whose `after` is all zeros → gone, whose `before` is all zeros → live; a merge request merged
 * (its source branch, same project only) → gone.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type Forge = 'github' | 'gitlab';

export interface BranchEvent {
  /** The Git repository as the forge names it (`org/app`, `group/sub/app`). */
  readonly gitRepository: string;
  /** The branch as Git names it (`feature/x`). */
  readonly branch: string;
  readonly state: 'live' | 'gone';
  readonly why: string;
}

const ZERO_SHA = /^0+$/;

/** Constant-time comparison of a GitHub signature header with the body's HMAC. */
export function verifyGitHubSignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (!header || !header.startsWith('sha256=')) return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** Constant-time comparison of GitLab's token header; both sides hashed so lengths match. */
export function verifyGitLabToken(secret: string, header: string | undefined): boolean {
  if (header === undefined) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(header), digest(secret));
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

/** The branch event a GitHub delivery stands for, or undefined when it is not one we act on. */
export function readGitHubEvent(event: string | undefined, payload: unknown): BranchEvent | undefined {
  const body = obj(payload);
  const gitRepository = str(obj(body.repository).full_name);
  if (!gitRepository) return undefined;
  if ((event === 'delete' || event === 'create') && body.ref_type === 'branch') {
    const branch = str(body.ref);
    return branch ? { gitRepository, branch, state: event === 'delete' ? 'gone' : 'live', why: `github ${event}` } : undefined;
  }
  if (event === 'pull_request' && body.action === 'closed') {
    const head = obj(obj(body.pull_request).head);
    const branch = str(head.ref);
    // A fork's branch is not this repository's branch.
    if (!branch || str(obj(head.repo).full_name) !== gitRepository) return undefined;
    return { gitRepository, branch, state: 'gone', why: 'github pull_request closed' };
  }
  return undefined;
}

/** The branch event a GitLab delivery stands for, or undefined when it is not one we act on. */
export function readGitLabEvent(payload: unknown): BranchEvent | undefined {
  const body = obj(payload);
  const gitRepository = str(obj(body.project).path_with_namespace);
  if (!gitRepository) return undefined;
  if (body.object_kind === 'push') {
    const ref = str(body.ref);
    if (!ref?.startsWith('refs/heads/')) return undefined;
    const branch = ref.slice('refs/heads/'.length);
    if (typeof body.after === 'string' && ZERO_SHA.test(body.after)) return { gitRepository, branch, state: 'gone', why: 'gitlab push deleting the branch' };
    if (typeof body.before === 'string' && ZERO_SHA.test(body.before)) return { gitRepository, branch, state: 'live', why: 'gitlab push creating the branch' };
    return undefined;
  }
  if (body.object_kind === 'merge_request') {
    const mr = obj(body.object_attributes);
    if (mr.action !== 'merge' && mr.state !== 'merged') return undefined;
    const branch = str(mr.source_branch);
    if (!branch || mr.source_project_id !== mr.target_project_id) return undefined;
    return { gitRepository, branch, state: 'gone', why: 'gitlab merge request merged' };
  }
  return undefined;
}
