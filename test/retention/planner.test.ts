/** The pure retention planner: every rule, their precedence, and combinations. No I/O. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { plan, type Decision } from '../../src/retention/planner.js';
import { policyFrom, validatePolicy, type PolicyInput } from '../../src/retention/policy.js';
import type { BranchState, Snapshot, TagFacts, UntaggedManifest } from '../../src/retention/snapshot.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const DAY = 86_400_000;
const daysAgo = (n: number) => new Date(NOW.getTime() - n * DAY);
const hoursAgo = (n: number) => new Date(NOW.getTime() - n * 3_600_000);

let nextId = 1;
function tag(t: string, facts: Partial<Omit<TagFacts, 'tag'>> & { imported?: Date | null } = {}): TagFacts {
  const { imported, ...rest } = facts;
  const id = nextId++;
  const branch = t === 'cache' ? 'default' : t.startsWith('cache-') ? t.slice(6) : null;
  return {
    repository: 'team/app',
    tag: t,
    manifestId: id,
    digest: `sha256:${String(id).padStart(64, '0')}`,
    pushedAt: daysAgo(100),
    lastPulledAt: null,
    cache: { lastImportedAt: imported ?? null },
    branch,
    blobs: [],
    ...rest,
  };
}

function snapshot(tags: TagFacts[], extra: { branches?: BranchState[]; untagged?: UntaggedManifest[]; sizes?: Record<string, number> } = {}): Snapshot {
  return { tags, untagged: extra.untagged ?? [], branches: extra.branches ?? [], blobSizes: new Map(Object.entries(extra.sizes ?? {})) };
}

function policy(input: Partial<PolicyInput> = {}, name = 'p') {
  return policyFrom(name, { repositories: ['team/**'], ...input });
}

function verdicts(decisions: Decision[]): Record<string, string> {
  return Object.fromEntries(decisions.map((d) => [d.tag ?? d.digest, `${d.action}:${d.rule}`]));
}

const gone = (branch: string, at: Date, repository = 'team/app'): BranchState => ({ repository, branch, state: 'gone', changedAt: at });

describe('selection', () => {
  test('cache kind selects only cache-index tags; glob and regex select by name; other repositories are left alone', () => {
    const tags = [tag('cache-a'), tag('v1', { cache: null }), tag('pr-12', { cache: null }), tag('cache-b', { repository: 'other/app' })];
    const del = { unusedForDays: 1 };
    assert.deepEqual(Object.keys(verdicts(plan([policy({ delete: del })], snapshot(tags), NOW))), ['cache-a']);
    assert.deepEqual(Object.keys(verdicts(plan([policy({ tags: { kind: 'glob', patterns: ['pr-*'] }, delete: del })], snapshot(tags), NOW))), ['pr-12']);
    assert.deepEqual(Object.keys(verdicts(plan([policy({ tags: { kind: 'regex', pattern: '^v\\d+$' }, delete: del })], snapshot(tags), NOW))), ['v1']);
    assert.equal(plan([policy({ tags: { kind: 'all' }, delete: del })], snapshot(tags), NOW).length, 3);
  });

  test('the first policy in name order governs a tag', () => {
    const tags = [tag('cache-a')];
    const decisions = plan([policy({ delete: { unusedForDays: 1 } }, 'b-delete'), policy({ keep: { pushedWithinDays: 1000 } }, 'a-keep')], snapshot(tags), NOW);
    assert.equal(decisions.length, 1);
    assert.equal(decisions[0]!.policy, 'a-keep');
    assert.equal(decisions[0]!.action, 'keep');
  });

  test('a catastrophic tag regex and a bad repository pattern are refused', () => {
    assert.match(validatePolicy(policy({ tags: { kind: 'regex', pattern: '^(a+)+$' } }))!, /backtrack/);
    assert.match(validatePolicy(policy({ tags: { kind: 'regex', pattern: '(' } }))!, /compile/);
    assert.match(validatePolicy(policy({ repositories: ['Team/App'] }))!, /repository pattern/);
    assert.equal(validatePolicy(policy({ tags: { kind: 'regex', pattern: '^pr-[0-9]+$' } })), undefined);
  });
});

describe('delete rules', () => {
  test('unused for D days: by last import or pull, a never-used tag from its push', () => {
    const tags = [
      tag('cache-old', { imported: daysAgo(40) }),
      tag('cache-imported', { imported: daysAgo(5) }),
      tag('cache-pulled', { lastPulledAt: daysAgo(2), imported: daysAgo(60) }),
      tag('cache-new', { pushedAt: daysAgo(3) }),
      tag('cache-never', { pushedAt: daysAgo(31) }),
    ];
    const decisions = plan([policy({ delete: { unusedForDays: 30 } })], snapshot(tags), NOW);
    assert.deepEqual(verdicts(decisions), {
      'cache-old': 'delete:unused-for',
      'cache-imported': 'keep:no-rule',
      'cache-pulled': 'keep:no-rule',
      'cache-new': 'keep:no-rule',
      'cache-never': 'delete:unused-for',
    });
    assert.match(decisions.find((d) => d.tag === 'cache-never')!.reason, /never imported or pulled/);
  });

  test('branch gone: only after the grace period, and not when pushed since (the branch came back)', () => {
    const tags = [
      tag('cache-gone', { pushedAt: daysAgo(10) }),
      tag('cache-fresh-gone', { pushedAt: daysAgo(10) }),
      tag('cache-back', { pushedAt: hoursAgo(1) }),
      tag('cache-live', { pushedAt: daysAgo(10) }),
    ];
    const branches: BranchState[] = [
      gone('gone', hoursAgo(30)),
      gone('fresh-gone', hoursAgo(2)),
      gone('back', hoursAgo(30)),
      { repository: 'team/app', branch: 'live', state: 'live', changedAt: hoursAgo(30) },
    ];
    const decisions = plan([policy({ delete: { branchGone: { graceHours: 24 } } })], snapshot(tags, { branches }), NOW);
    assert.deepEqual(verdicts(decisions), {
      'cache-gone': 'delete:branch-gone',
      'cache-fresh-gone': 'keep:no-rule',
      'cache-back': 'keep:no-rule',
      'cache-live': 'keep:no-rule',
    });
  });

  test('a branch marked live again after being gone is not deleted', () => {
    const tags = [tag('cache-feature')];
    const goneState = [gone('feature', daysAgo(5))];
    const p = policy({ delete: { branchGone: { graceHours: 1 } } });
    assert.equal(verdicts(plan([p], snapshot(tags, { branches: goneState }), NOW))['cache-feature'], 'delete:branch-gone');
    const liveAgain: BranchState[] = [{ repository: 'team/app', branch: 'feature', state: 'live', changedAt: daysAgo(1) }];
    assert.equal(verdicts(plan([p], snapshot(tags, { branches: liveAgain }), NOW))['cache-feature'], 'keep:no-rule');
  });

  test('branch states are per repository', () => {
    const tags = [tag('cache-x'), tag('cache-x', { repository: 'team/other' })];
    const decisions = plan([policy({ delete: { branchGone: { graceHours: 0 } } })], snapshot(tags, { branches: [gone('x', daysAgo(1), 'team/other')] }), NOW);
    assert.deepEqual(
      decisions.map((d) => `${d.repository}:${d.action}`),
      ['team/app:keep', 'team/other:delete'],
    );
  });

  test('untagged manifests older than D are deleted; younger ones and unselected repositories are not', () => {
    const untagged: UntaggedManifest[] = [
      { repository: 'team/app', manifestId: 900, digest: 'sha256:old', pushedAt: daysAgo(8) },
      { repository: 'team/app', manifestId: 901, digest: 'sha256:young', pushedAt: daysAgo(2) },
      { repository: 'elsewhere/app', manifestId: 902, digest: 'sha256:other', pushedAt: daysAgo(80) },
    ];
    const decisions = plan([policy({ delete: { untaggedOlderThanDays: 7 } })], snapshot([], { untagged }), NOW);
    assert.deepEqual(decisions.map((d) => [d.digest, d.tag, d.action, d.rule]), [['sha256:old', null, 'delete', 'untagged']]);
  });
});

describe('keep rules', () => {
  test('the N branches most recently imported or pulled are kept; their tags too', () => {
    const tags = [
      tag('cache-a', { imported: daysAgo(50) }),
      tag('cache-b', { lastPulledAt: daysAgo(40) }),
      tag('cache-c', { imported: daysAgo(60) }),
      tag('cache-never'),
    ];
    const decisions = plan([policy({ keep: { recentBranches: 2 }, delete: { unusedForDays: 30 } })], snapshot(tags), NOW);
    assert.deepEqual(verdicts(decisions), {
      'cache-a': 'keep:keep-recent-branches',
      'cache-b': 'keep:keep-recent-branches',
      'cache-c': 'delete:unused-for',
      'cache-never': 'delete:unused-for',
    });
    assert.match(decisions[1]!.reason, /#1 of the 2/);
  });

  test('imported within D days, pushed within D days', () => {
    const tags = [tag('cache-i', { imported: daysAgo(3) }), tag('cache-p', { pushedAt: daysAgo(1) }), tag('cache-x', { imported: daysAgo(9), pushedAt: daysAgo(9) })];
    const decisions = plan([policy({ keep: { importedWithinDays: 7, pushedWithinDays: 2 }, delete: { unusedForDays: 1 } })], snapshot(tags), NOW);
    assert.deepEqual(verdicts(decisions), { 'cache-i': 'keep:keep-imported-within', 'cache-p': 'keep:keep-pushed-within', 'cache-x': 'delete:unused-for' });
  });

  test('the newest N tags of the selection are kept', () => {
    const tags = [1, 2, 3, 4].map((n) => tag(`cache-t${n}`, { pushedAt: daysAgo(100 - n) }));
    const decisions = plan([policy({ keep: { newestTags: 2 }, delete: { unusedForDays: 30 } })], snapshot(tags), NOW);
    assert.deepEqual(verdicts(decisions), {
      'cache-t1': 'delete:unused-for',
      'cache-t2': 'delete:unused-for',
      'cache-t3': 'keep:keep-newest-tags',
      'cache-t4': 'keep:keep-newest-tags',
    });
  });

  test('a gone branch is deleted even when a keep rule would keep it', () => {
    const tags = [tag('cache-feature', { imported: hoursAgo(30), pushedAt: daysAgo(2) })];
    const decisions = plan(
      [policy({ keep: { recentBranches: 5, importedWithinDays: 7 }, delete: { branchGone: { graceHours: 24 } } })],
      snapshot(tags, { branches: [gone('feature', hoursAgo(25))] }),
      NOW,
    );
    assert.equal(verdicts(decisions)['cache-feature'], 'delete:branch-gone');
  });
});

describe('protection', () => {
  test('protected branches (default, Git-form globs) and tags win over every delete rule', () => {
    const tags = [
      tag('cache', { imported: daysAgo(400) }),
      tag('cache-main', { imported: daysAgo(400) }),
      tag('cache-release-1.2', { imported: daysAgo(400) }),
      tag('cache-pinned', { imported: daysAgo(400) }),
      tag('cache-feature', { imported: daysAgo(400) }),
    ];
    const branches = ['default', 'main', 'release-1.2', 'pinned', 'feature'].map((b) => gone(b, daysAgo(30)));
    const p = policy({
      protect: { branches: ['default', 'main', 'release/*'], tags: ['cache-pin*'] },
      delete: { branchGone: { graceHours: 1 }, unusedForDays: 1, maxBytesPerRepository: 0 },
    });
    const decisions = plan([p], snapshot(tags, { branches }), NOW);
    assert.deepEqual(verdicts(decisions), {
      cache: 'keep:protected-branch',
      'cache-main': 'keep:protected-branch',
      'cache-release-1.2': 'keep:protected-branch',
      'cache-pinned': 'keep:protected-tag',
      'cache-feature': 'delete:branch-gone',
    });
    assert.match(decisions.find((d) => d.tag === 'cache-release-1.2')!.reason, /release\/\*/);
  });

  test('without a protect list, default, main and master are protected', () => {
    const tags = [tag('cache'), tag('cache-master'), tag('cache-dev')];
    assert.deepEqual(verdicts(plan([policy({ delete: { unusedForDays: 1 } })], snapshot(tags), NOW)), {
      cache: 'keep:protected-branch',
      'cache-master': 'keep:protected-branch',
      'cache-dev': 'delete:unused-for',
    });
  });
});

describe('byte budget', () => {
  test('shared layers count once: deleting a tag frees only what no surviving tag holds', () => {
    // base (600) shared by all three; each has its own 100-byte layer. Held: 600 + 300 = 900.
    const sizes = { 'sha256:base': 600, 'sha256:a': 100, 'sha256:b': 100, 'sha256:c': 100 };
    const tags = [
      tag('cache-a', { blobs: ['sha256:base', 'sha256:a'], imported: daysAgo(3) }),
      tag('cache-b', { blobs: ['sha256:base', 'sha256:b'], imported: daysAgo(1) }),
      tag('cache-c', { blobs: ['sha256:base', 'sha256:c'], imported: daysAgo(2) }),
    ];
    // 850: deleting the least recently imported (a) frees 100 → 800, under budget.
    assert.deepEqual(verdicts(plan([policy({ delete: { maxBytesPerRepository: 850 } })], snapshot(tags, { sizes }), NOW)), {
      'cache-a': 'delete:byte-budget',
      'cache-b': 'keep:no-rule',
      'cache-c': 'keep:no-rule',
    });
    // 700: a (→800), then c (→700).
    assert.deepEqual(verdicts(plan([policy({ delete: { maxBytesPerRepository: 700 } })], snapshot(tags, { sizes }), NOW)), {
      'cache-a': 'delete:byte-budget',
      'cache-b': 'keep:no-rule',
      'cache-c': 'delete:byte-budget',
    });
    // 900: nothing.
    assert.ok(plan([policy({ delete: { maxBytesPerRepository: 900 } })], snapshot(tags, { sizes }), NOW).every((d) => d.action === 'keep'));
  });

  test('never-imported caches go first; protected and kept tags never, though they count', () => {
    const sizes = { 'sha256:m': 500, 'sha256:n': 300, 'sha256:o': 200, 'sha256:p': 100 };
    const tags = [
      tag('cache-main', { blobs: ['sha256:m'], imported: daysAgo(90) }),
      tag('cache-never', { blobs: ['sha256:n'] }),
      tag('cache-old', { blobs: ['sha256:o'], imported: daysAgo(50) }),
      tag('cache-recent', { blobs: ['sha256:p'], imported: daysAgo(1) }),
    ];
    const decisions = plan([policy({ keep: { importedWithinDays: 7 }, delete: { maxBytesPerRepository: 550 } })], snapshot(tags, { sizes }), NOW);
    // held 1100: never (→800), old (→600); main is protected and recent kept, so 600 stays over 550.
    assert.deepEqual(verdicts(decisions), {
      'cache-main': 'keep:protected-branch',
      'cache-never': 'delete:byte-budget',
      'cache-old': 'delete:byte-budget',
      'cache-recent': 'keep:keep-imported-within',
    });
  });

  test('tags other rules delete no longer count against the budget', () => {
    const sizes = { 'sha256:x': 1000, 'sha256:y': 100 };
    const tags = [tag('cache-x', { blobs: ['sha256:x'], pushedAt: daysAgo(10) }), tag('cache-y', { blobs: ['sha256:y'], imported: daysAgo(1) })];
    const decisions = plan([policy({ delete: { branchGone: { graceHours: 0 }, maxBytesPerRepository: 500 } })], snapshot(tags, { sizes, branches: [gone('x', daysAgo(1))] }), NOW);
    assert.deepEqual(verdicts(decisions), { 'cache-x': 'delete:branch-gone', 'cache-y': 'keep:no-rule' });
  });
});

test('every decision names its rule and gives a reason', () => {
  const tags = [tag('cache'), tag('cache-a', { imported: daysAgo(40) }), tag('cache-b', { pushedAt: daysAgo(1) })];
  for (const d of plan([policy({ keep: { pushedWithinDays: 2 }, delete: { unusedForDays: 30 } })], snapshot(tags), NOW)) {
    assert.ok(d.rule.length > 0 && d.reason.length > 0, JSON.stringify(d));
  }
});

describe('pruning inside a cache (prune.unusedDays)', () => {
  const L = (n: number) => `sha256:${String(n).padStart(64, 'f')}`;
  /**
   * A cache pushed `pushedDaysAgo`, with layer n last fetched `fetched[n]` days ago (null: never); every
   * layer a base layer unless `parents` says otherwise (cacheconfig indexes, -1 for none).
   */
  function cached(
    t: string,
    fetched: Array<number | null>,
    extra: Partial<Omit<TagFacts, 'tag'>> & { imported?: Date | null; pushedDaysAgo?: number; form?: 'image-manifest' | 'index' | 'inline'; parents?: number[]; blobs?: string[] } = {},
  ): TagFacts {
    const { pushedDaysAgo = 100, form = 'image-manifest', imported, parents, ...rest } = extra;
    const layers = fetched.map((days, n) => ({ digest: L(n), parent: parents?.[n] ?? -1, lastFetchedAt: days === null ? null : daysAgo(days) }));
    return tag(t, { ...rest, cache: { lastImportedAt: imported ?? null, usage: { form, pushedAt: daysAgo(pushedDaysAgo), layers } } });
  }
  const pruning = (input: Partial<PolicyInput> = {}) => policy({ protect: { branches: [] }, prune: { unusedDays: 30 }, ...input });
  const byTag = (decisions: Decision[]) => Object.fromEntries(decisions.map((d) => [d.tag, d]));

  test('layers not fetched for D days, and never-fetched ones counted from the cache\'s push, are named for the rewrite', () => {
    const decisions = byTag(plan([pruning()], snapshot([
      cached('cache-a', [1, 40, null]),                       // one used, one stale, one never fetched since an old push
      cached('cache-fresh', [null, null], { pushedDaysAgo: 3 }), // never fetched, but pushed 3 days ago: too young to judge
      cached('cache-used', [2, 29]),                           // everything fetched within 30 days
      cached('cache-edge', [30]),                              // exactly D days: unused, as unusedForDays counts
    ]), NOW));
    assert.equal(decisions['cache-a']!.action, 'rewrite');
    assert.equal(decisions['cache-a']!.rule, 'prune-unused');
    assert.deepEqual(decisions['cache-a']!.unusedLayers, [L(1), L(2)]);
    assert.match(decisions['cache-a']!.reason, /^2 of 3 layers unused for 30 d \(1 never used, the rest not since 2026-05-02T12:00:00.000Z; cache pushed /);
    assert.equal(decisions['cache-fresh']!.action, 'keep');
    assert.equal(decisions['cache-used']!.action, 'keep');
    assert.equal(decisions['cache-used']!.unusedLayers, undefined);
    assert.equal(decisions['cache-edge']!.action, 'rewrite');
  });

  test('without prune nothing is rewritten; only image-manifest caches are (index form and inline skipped), and tags that are not caches never', () => {
    const tags = [cached('cache-a', [null]), cached('cache-index', [null], { form: 'index' }), cached('cache-inline', [null], { form: 'inline' }), tag('v1', { cache: null })];
    assert.ok(plan([policy({ protect: { branches: [] }, tags: { kind: 'all' } })], snapshot(tags), NOW).every((d) => d.action === 'keep'));
    assert.deepEqual(verdicts(plan([pruning({ tags: { kind: 'all' } })], snapshot(tags), NOW)), {
      'cache-a': 'rewrite:prune-unused',
      'cache-index': 'keep:no-rule',
      'cache-inline': 'keep:no-rule',
      v1: 'keep:no-rule',
    });
  });

  test('protected tags are never rewritten (branch or tag protection), though their layers are unused', () => {
    const tags = [cached('cache', [null]), cached('cache-main', [null]), cached('cache-pinned', [null]), cached('cache-x', [null])];
    const decisions = plan([pruning({ protect: { branches: ['default', 'main'], tags: ['cache-pinned'] } })], snapshot(tags), NOW);
    assert.deepEqual(verdicts(decisions), {
      cache: 'keep:protected-branch',
      'cache-main': 'keep:protected-branch',
      'cache-pinned': 'keep:protected-tag',
      'cache-x': 'rewrite:prune-unused',
    });
  });

  test('a tag another rule deletes is not also rewritten (branch gone, unused, byte budget); a tag a keep rule keeps is', () => {
    const tags = [
      cached('cache-gone', [null]),
      cached('cache-stale', [null], { imported: daysAgo(90) }),
      cached('cache-kept', [null], { imported: daysAgo(2) }),
      cached('cache-big', [5, null], { imported: daysAgo(20), blobs: ['sha256:big'] }),
    ];
    const decisions = plan(
      [pruning({ keep: { importedWithinDays: 7 }, delete: { branchGone: { graceHours: 0 }, unusedForDays: 60, maxBytesPerRepository: 10 } })],
      snapshot(tags, { branches: [gone('gone', daysAgo(1))], sizes: { 'sha256:big': 100 } }),
      NOW,
    );
    assert.deepEqual(verdicts(decisions), {
      'cache-gone': 'delete:branch-gone',
      'cache-stale': 'delete:unused-for',
      'cache-kept': 'rewrite:prune-unused',
      'cache-big': 'delete:byte-budget',
    });
    for (const d of decisions) if (d.action === 'delete') assert.equal(d.unusedLayers, undefined);
  });

  test('only the policy that governs a tag prunes it; a branch that came back is pruned, not deleted', () => {
    const tags = [cached('cache-a', [null]), cached('cache-back', [null], { pushedAt: daysAgo(1) })];
    const first = policy({ keep: { pushedWithinDays: 1000 } }, 'a-keep-only');
    const decisions = plan([pruning({ delete: { branchGone: { graceHours: 0 } } }), first], snapshot(tags, { branches: [gone('back', daysAgo(3))] }), NOW);
    assert.deepEqual(verdicts(decisions), { 'cache-a': 'keep:keep-pushed-within', 'cache-back': 'keep:keep-pushed-within' });
    const alone = plan([pruning({ delete: { branchGone: { graceHours: 0 } } })], snapshot(tags, { branches: [gone('back', daysAgo(3))] }), NOW);
    assert.deepEqual(verdicts(alone), { 'cache-a': 'rewrite:prune-unused', 'cache-back': 'rewrite:prune-unused' });
  });

  test('a layer counts as used when a layer stacked on it was fetched (a base layer comes with the FROM image, not from the cache)', () => {
    // 0 ← 1 ← 2 and 0 ← 3: the base 0 never fetched from the cache repository, 2 fetched yesterday.
    const parents = [-1, 0, 1, 0];
    const decisions = byTag(plan([pruning()], snapshot([
      cached('cache-chain', [null, null, 1, null], { parents }),
      cached('cache-middle', [null, 1, null, null], { parents }),
      cached('cache-none', [null, null, null, null], { parents }),
    ]), NOW));
    assert.deepEqual(decisions['cache-chain']!.unusedLayers, [L(3)], 'only the branch nothing was fetched from');
    assert.deepEqual(decisions['cache-middle']!.unusedLayers, [L(2), L(3)], 'what sits on the fetched layer is not used by fetching it');
    assert.deepEqual(decisions['cache-none']!.unusedLayers, [L(0), L(1), L(2), L(3)]);
  });

  test('a blob at two places in the cacheconfig is used when either place is', () => {
    const tags = [{
      ...tag('cache-twice'),
      cache: {
        lastImportedAt: null,
        usage: {
          form: 'image-manifest' as const,
          pushedAt: daysAgo(100),
          layers: [
            { digest: L(0), parent: -1, lastFetchedAt: null },
            { digest: L(1), parent: 0, lastFetchedAt: daysAgo(1) },
            { digest: L(9), parent: -1, lastFetchedAt: null },
            { digest: L(1), parent: 2, lastFetchedAt: daysAgo(1) },
            { digest: L(5), parent: 2, lastFetchedAt: null },
          ],
        },
      },
    }];
    assert.deepEqual(plan([pruning()], snapshot(tags), NOW)[0]!.unusedLayers, [L(5)]);
  });

  test('the clock is injected: the same facts a day later name more layers', () => {
    const tags = [cached('cache-a', [29, 10])];
    assert.equal(plan([pruning()], snapshot(tags), NOW)[0]!.action, 'keep');
    const later = plan([pruning()], snapshot(tags), new Date(NOW.getTime() + DAY));
    assert.deepEqual(later[0]!.unusedLayers, [L(0)]);
  });
});
