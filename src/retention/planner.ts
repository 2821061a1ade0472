/**
 * The retention planner: a pure function from policies, a snapshot and the time to decisions.
 * No I/O and no wall clock, so every rule and combination is tested without a database.
 *
 * Which policy governs a tag: the first, in name order, whose repositories and tag selector
 * match it (a plan of one policy is the full plan's decisions governed by that policy, so a
 * policy's scheduled run never fights another policy's protection).
 *
 * Precedence, per tag of a policy's selection:
 *   1. protected branch or tag → keep (no rule deletes it)
 *   2. branch gone (after its grace period, not pushed since) → delete
 *   3. any keep rule → keep
 *   4. a delete rule (unused for D days) → delete
 *   5. the repository's byte budget → delete the least recently imported, until under it
 *   6. otherwise → keep ("no-rule")
 *   7. kept and not protected, with `prune` and cache layers unused for D days → rewrite
 *      (the cache without those layers; src/retention/prune.ts)
 * Untagged manifests (no tag, no parent index) of a governed repository older than D → delete.
 */
import { matchesPattern } from '../auth/patterns.js';
import { globMatches } from '../cache/branches.js';
import { applyBudget, BUDGET_RULE } from './budget.js';
import type { RetentionPolicy, TagSelector } from './policy.js';
import { PRUNE_RULE, unusedLayers } from './prune.js';
import { PROTECTING_RULES, rulesOf, type Rule, type RuleContext } from './rules.js';
import type { BranchState, Snapshot, TagFacts } from './snapshot.js';

export interface Decision {
  readonly policy: string;
  readonly repository: string;
  /** null for an untagged manifest. */
  readonly tag: string | null;
  readonly digest: string;
  readonly manifestId: number;
  readonly action: 'delete' | 'keep' | 'rewrite';
  readonly rule: string;
  readonly reason: string;
  /** For a rewrite: the layer blobs unused for the policy's D days (the rewrite drops them and what stands on them). */
  readonly unusedLayers?: readonly string[];
}

const DAY_MS = 86_400_000;

export function plan(policies: readonly RetentionPolicy[], snapshot: Snapshot, now: Date): Decision[] {
  const ordered = [...policies].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const branchStates = indexBranches(snapshot.branches);
  const byRepository = groupBy(snapshot.tags, (t) => t.repository);
  const decisions: Decision[] = [];
  for (const [repository, tags] of byRepository) {
    const governed = new Map<RetentionPolicy, TagFacts[]>();
    for (const tag of tags) {
      const policy = ordered.find((p) => selects(p, tag));
      if (!policy) continue;
      const list = governed.get(policy);
      if (list) list.push(tag);
      else governed.set(policy, [tag]);
    }
    const ctx: RuleContext = { now, branches: branchStates.get(repository) ?? new Map() };
    const deleted = new Set<TagFacts>();
    const judged: Array<{ policy: RetentionPolicy; verdicts: Map<TagFacts, Verdict> }> = [];
    for (const [policy, selection] of governed) {
      const verdicts = judge(policy, selection, ctx);
      for (const [tag, v] of verdicts) if (v.action === 'delete') deleted.add(tag);
      judged.push({ policy, verdicts });
    }
    // Budgets last: they need every other deletion in the repository to know what remains.
    for (const { policy, verdicts } of judged) {
      const budget = policy.delete.maxBytesPerRepository;
      if (budget === undefined) continue;
      const candidates = [...verdicts].filter(([, v]) => v.action === 'undecided').map(([t]) => t);
      const surviving = tags.filter((t) => !deleted.has(t));
      for (const [tag, reason] of applyBudget(budget, surviving, candidates, snapshot.blobSizes)) {
        verdicts.set(tag, { action: 'delete', rule: BUDGET_RULE, reason });
        deleted.add(tag);
      }
    }
    for (const { policy, verdicts } of judged) {
      for (const [tag, v] of verdicts) {
        const final = v.action === 'undecided' ? { action: 'keep' as const, rule: 'no-rule', reason: 'no delete rule applies' } : v;
        const base = { policy: policy.name, repository, tag: tag.tag, digest: tag.digest, manifestId: tag.manifestId };
        const prune = final.action === 'keep' && policy.prune && !PROTECTING_RULES.has(final.rule) ? unusedLayers(tag, policy.prune.unusedDays, now) : undefined;
        decisions.push(prune ? { ...base, action: 'rewrite', rule: PRUNE_RULE, reason: prune.reason, unusedLayers: prune.digests } : { ...base, ...final });
      }
    }
  }
  decisions.push(...planUntagged(ordered, snapshot, now));
  return decisions;
}

type Verdict = { action: 'keep' | 'delete'; rule: string; reason: string } | { action: 'undecided' };

function judge(policy: RetentionPolicy, selection: readonly TagFacts[], ctx: RuleContext): Map<TagFacts, Verdict> {
  const rules = rulesOf(policy);
  const verdicts = new Map<TagFacts, Verdict>(selection.map((t) => [t, { action: 'undecided' }]));
  const open = () => selection.filter((t) => verdicts.get(t)!.action === 'undecided');
  const apply = (group: Rule[], action: 'keep' | 'delete') => {
    for (const rule of group) {
      for (const [tag, reason] of rule.evaluate(open(), ctx)) verdicts.set(tag, { action, rule: rule.name, reason });
    }
  };
  apply(rules.protect, 'keep');
  apply(rules.gone, 'delete');
  // Keep rules that rank (newest N, recent branches) rank the whole selection, not what is left.
  for (const rule of rules.keep) {
    for (const [tag, reason] of rule.evaluate(selection, ctx)) {
      if (verdicts.get(tag)!.action === 'undecided') verdicts.set(tag, { action: 'keep', rule: rule.name, reason });
    }
  }
  apply(rules.remove, 'delete');
  return verdicts;
}

function planUntagged(policies: readonly RetentionPolicy[], snapshot: Snapshot, now: Date): Decision[] {
  const out: Decision[] = [];
  for (const m of snapshot.untagged) {
    const policy = policies.find((p) => p.repositories.some((pattern) => matchesPattern(pattern, m.repository)));
    const days = policy?.delete.untaggedOlderThanDays;
    if (!policy || days === undefined) continue;
    if (now.getTime() - m.pushedAt.getTime() < days * DAY_MS) continue;
    out.push({
      policy: policy.name,
      repository: m.repository,
      tag: null,
      digest: m.digest,
      manifestId: m.manifestId,
      action: 'delete',
      rule: 'untagged',
      reason: `untagged since push ${m.pushedAt.toISOString()}, over ${days} d ago`,
    });
  }
  return out;
}

export function selects(policy: RetentionPolicy, tag: TagFacts): boolean {
  return policy.repositories.some((pattern) => matchesPattern(pattern, tag.repository)) && selectsTag(policy.tags, tag);
}

function selectsTag(selector: TagSelector, tag: TagFacts): boolean {
  switch (selector.kind) {
    case 'all':
      return true;
    case 'cache':
      return tag.cache !== null;
    case 'glob':
      return selector.patterns.some((g) => globMatches(g, tag.tag));
    case 'regex':
      return compiled(selector.pattern).test(tag.tag);
  }
}

const regexes = new Map<string, RegExp>();

/** Policies' tag regexes, compiled once (they were checked by validatePolicy). */
function compiled(pattern: string): RegExp {
  let re = regexes.get(pattern);
  if (!re) {
    if (regexes.size > 1000) regexes.clear();
    re = new RegExp(pattern);
    regexes.set(pattern, re);
  }
  return re;
}

function indexBranches(states: readonly BranchState[]): Map<string, Map<string, BranchState>> {
  const out = new Map<string, Map<string, BranchState>>();
  for (const s of states) {
    const repo = out.get(s.repository) ?? new Map<string, BranchState>();
    repo.set(s.branch, s);
    out.set(s.repository, repo);
  }
  return out;
}

function groupBy<T, K>(items: readonly T[], key: (item: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
