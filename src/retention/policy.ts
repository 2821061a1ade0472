/**
 * Retention policies: what a policy selects, protects, keeps and deletes. Pure.
 *
 * Our terms: a *branch* is the branch a cache tag names (src/cache/branches.ts), in the
 * CI-sanitised form the tag carries (`feature/x` → `feature-x`); a *retention policy* is a named set
 * of the rules below, stored as JSON and run on demand or on its own schedule.
 */
import safeRegex from 'safe-regex2';
import { isValidPattern } from '../auth/patterns.js';

export type TagSelector =
  /** Every tag. */
  | { readonly kind: 'all' }
  /** Tags whose manifest is in the BuildKit cache index. */
  | { readonly kind: 'cache' }
  /** Tags matching any glob (`*` matches any run of characters). */
  | { readonly kind: 'glob'; readonly patterns: readonly string[] }
  | { readonly kind: 'regex'; readonly pattern: string };

export interface RetentionPolicy {
  readonly name: string;
  /** Repository patterns, as in permissions: `team/app`, `team/*`, `team/**`, `**`. */
  readonly repositories: readonly string[];
  readonly tags: TagSelector;
  /** Never deleted by any rule: branch globs (Git form `release/*` or tag form) and tag globs. */
  readonly protect: { readonly branches: readonly string[]; readonly tags: readonly string[] };
  /** Any one keeps a tag (unless its branch is gone). */
  readonly keep: {
    readonly recentBranches?: number;
    readonly importedWithinDays?: number;
    readonly pushedWithinDays?: number;
    readonly newestTags?: number;
  };
  readonly delete: {
    readonly branchGone?: { readonly graceHours: number };
    readonly unusedForDays?: number;
    readonly untaggedOlderThanDays?: number;
    readonly maxBytesPerRepository?: number;
  };
  /**
   * Opt-in: a kept cache (image-manifest form, not protected) whose layers include ones no one
   * fetched for this many days is rewritten without them (src/retention/prune.ts).
   */
  readonly prune?: { readonly unusedDays: number };
  /** Runs on its own every this many seconds; null: only on demand. */
  readonly intervalSeconds: number | null;
}

/** The branches protected when a policy names none: the bare `cache` tag's branch and the usual mains. */
export const DEFAULT_PROTECTED_BRANCHES: readonly string[] = ['default', 'main', 'master'];

export const MAX_REGEX_LENGTH = 200;

/**
 * What JSON schema cannot check: repository patterns' grammar and a tag regex that compiles and
 * cannot backtrack catastrophically (it runs over every tag of every selected repository).
 * Returns the problem, or undefined.
 */
export function validatePolicy(policy: RetentionPolicy): string | undefined {
  for (const pattern of policy.repositories) {
    if (!isValidPattern(pattern)) return `invalid repository pattern "${pattern}"`;
  }
  if (policy.tags.kind === 'regex') {
    const { pattern } = policy.tags;
    if (pattern.length > MAX_REGEX_LENGTH) return `tag regex longer than ${MAX_REGEX_LENGTH} characters`;
    try {
      new RegExp(pattern);
    } catch (error) {
      return `tag regex does not compile: ${(error as Error).message}`;
    }
    if (!safeRegex(pattern)) return 'tag regex may backtrack catastrophically (nested or overlapping repetition); simplify it';
  }
  return undefined;
}

/** A policy as the admin API takes it: everything but the repositories has a default. */
export interface PolicyInput {
  readonly repositories: readonly string[];
  readonly tags?: TagSelector;
  readonly protect?: { readonly branches?: readonly string[]; readonly tags?: readonly string[] };
  readonly keep?: RetentionPolicy['keep'];
  readonly delete?: RetentionPolicy['delete'];
  readonly prune?: RetentionPolicy['prune'];
  readonly intervalSeconds?: number | null;
}

export function policyFrom(name: string, input: PolicyInput): RetentionPolicy {
  return {
    name,
    repositories: [...input.repositories],
    tags: input.tags ?? { kind: 'cache' },
    protect: { branches: [...(input.protect?.branches ?? DEFAULT_PROTECTED_BRANCHES)], tags: [...(input.protect?.tags ?? [])] },
    keep: { ...input.keep },
    delete: { ...input.delete },
    ...(input.prune ? { prune: { ...input.prune } } : {}),
    intervalSeconds: input.intervalSeconds ?? null,
  };
}

/** The stored form (`retention_policies.definition`): the policy without its name and schedule. */
export function definitionOf(policy: RetentionPolicy): Record<string, unknown> {
  const { name: _name, intervalSeconds: _interval, ...definition } = policy;
  return definition;
}
