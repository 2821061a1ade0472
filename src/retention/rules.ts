/**
 * Retention rules as small objects (zot's shape): a name, and `evaluate`, which judges the tags
 * of one repository that a policy selects and says *why* for each tag it applies to. Rules read
 * the clock only through `now`, so a plan is a pure function of its inputs.
 */
import type { RetentionPolicy } from './policy.js';
import { branchGlobMatches } from './branch-names.js';
import { globMatches } from '../cache/branches.js';
import { lastUsed, type BranchState, type TagFacts } from './snapshot.js';

export interface RuleContext {
  readonly now: Date;
  /** Branch states of the repository being judged, by branch. */
  readonly branches: ReadonlyMap<string, BranchState>;
}

export interface Rule {
  readonly name: string;
  /** For each tag the rule applies to: the reason, in words. */
  evaluate(tags: readonly TagFacts[], ctx: RuleContext): Map<TagFacts, string>;
}

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;

/** A rule that judges each tag on its own. */
function perTag(name: string, judge: (tag: TagFacts, ctx: RuleContext) => string | undefined): Rule {
  return {
    name,
    evaluate(tags, ctx) {
      const out = new Map<TagFacts, string>();
      for (const tag of tags) {
        const reason = judge(tag, ctx);
        if (reason !== undefined) out.set(tag, reason);
      }
      return out;
    },
  };
}

const iso = (d: Date) => d.toISOString();
const ageDays = (now: Date, then: Date) => (now.getTime() - then.getTime()) / DAY_MS;

/** Rules whose keep means "leave it as it is": nothing deletes or rewrites what they keep. */
export const PROTECTING_RULES: ReadonlySet<string> = new Set(['protected-branch', 'protected-tag']);

export function protectedBranchRule(globs: readonly string[]): Rule {
  return perTag('protected-branch', (tag) => {
    if (tag.branch === null) return undefined;
    const glob = globs.find((g) => branchGlobMatches(g, tag.branch!));
    return glob === undefined ? undefined : `branch "${tag.branch}" is protected ("${glob}")`;
  });
}

export function protectedTagRule(globs: readonly string[]): Rule {
  return perTag('protected-tag', (tag) => {
    const glob = globs.find((g) => globMatches(g, tag.tag));
    return glob === undefined ? undefined : `tag is protected ("${glob}")`;
  });
}

/**
 * The tag's branch was marked gone at least `graceHours` ago, and the tag was not pushed since
 * (a push after the mark means the branch came back).
 */
export function branchGoneRule(graceHours: number): Rule {
  return perTag('branch-gone', (tag, { now, branches }) => {
    if (tag.branch === null) return undefined;
    const state = branches.get(tag.branch);
    if (!state || state.state !== 'gone') return undefined;
    if (tag.pushedAt.getTime() > state.changedAt.getTime()) return undefined;
    if (now.getTime() - state.changedAt.getTime() < graceHours * HOUR_MS) return undefined;
    return `branch "${tag.branch}" gone since ${iso(state.changedAt)} (grace ${graceHours} h)`;
  });
}

/** Keeps every tag of the `count` branches most recently imported or pulled. */
export function recentBranchesRule(count: number): Rule {
  return {
    name: 'keep-recent-branches',
    evaluate(tags) {
      const latest = new Map<string, number>();
      for (const tag of tags) {
        const used = lastUsed(tag);
        if (tag.branch === null || used === null) continue;
        latest.set(tag.branch, Math.max(latest.get(tag.branch) ?? 0, used.getTime()));
      }
      const ranked = [...latest].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, count);
      const rank = new Map(ranked.map(([branch], i) => [branch, i + 1]));
      const out = new Map<TagFacts, string>();
      for (const tag of tags) {
        const r = tag.branch === null ? undefined : rank.get(tag.branch);
        if (r !== undefined) out.set(tag, `branch "${tag.branch}" is #${r} of the ${count} most recently imported or pulled`);
      }
      return out;
    },
  };
}

export function importedWithinRule(days: number): Rule {
  return perTag('keep-imported-within', (tag, { now }) => {
    const at = tag.cache?.lastImportedAt;
    return at && ageDays(now, at) <= days ? `cache imported ${iso(at)}, within ${days} d` : undefined;
  });
}

export function pushedWithinRule(days: number): Rule {
  return perTag('keep-pushed-within', (tag, { now }) =>
    ageDays(now, tag.pushedAt) <= days ? `pushed ${iso(tag.pushedAt)}, within ${days} d` : undefined,
  );
}

/** Keeps the `count` most recently pushed tags of the selection (per repository). */
export function newestTagsRule(count: number): Rule {
  return {
    name: 'keep-newest-tags',
    evaluate(tags) {
      const newest = [...tags].sort((a, b) => b.pushedAt.getTime() - a.pushedAt.getTime() || (a.tag < b.tag ? -1 : 1)).slice(0, count);
      return new Map(newest.map((tag, i) => [tag, `#${i + 1} of the ${count} newest tags`]));
    },
  };
}

/** Neither imported nor pulled for `days` (a tag never used counts from its push). */
export function unusedForRule(days: number): Rule {
  return perTag('unused-for', (tag, { now }) => {
    const used = lastUsed(tag);
    const since = used ?? tag.pushedAt;
    if (ageDays(now, since) < days) return undefined;
    return used ? `last imported or pulled ${iso(used)}, over ${days} d ago` : `never imported or pulled; pushed ${iso(tag.pushedAt)}, over ${days} d ago`;
  });
}

/** The rules of a policy, in the groups the planner applies in order of precedence. */
export function rulesOf(policy: RetentionPolicy): { protect: Rule[]; gone: Rule[]; keep: Rule[]; remove: Rule[] } {
  const { keep, delete: del, protect } = policy;
  return {
    protect: [protectedBranchRule(protect.branches), protectedTagRule(protect.tags)],
    gone: del.branchGone ? [branchGoneRule(del.branchGone.graceHours)] : [],
    keep: [
      ...(keep.recentBranches !== undefined ? [recentBranchesRule(keep.recentBranches)] : []),
      ...(keep.importedWithinDays !== undefined ? [importedWithinRule(keep.importedWithinDays)] : []),
      ...(keep.pushedWithinDays !== undefined ? [pushedWithinRule(keep.pushedWithinDays)] : []),
      ...(keep.newestTags !== undefined ? [newestTagsRule(keep.newestTags)] : []),
    ],
    remove: del.unusedForDays !== undefined ? [unusedForRule(del.unusedForDays)] : [],
  };
}
