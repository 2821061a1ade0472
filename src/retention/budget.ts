/**
 * The byte budget of a repository: while the blobs its surviving tags hold add up to more than
 * the budget, the least recently imported undecided cache goes first (never-imported ones before
 * any imported one, older pushes first among equals). Shared layers count once: a blob's bytes
 * leave the repository's total only when the last surviving tag holding it goes. Pure.
 */
import type { TagFacts } from './snapshot.js';

export const BUDGET_RULE = 'byte-budget';

/**
 * `surviving`: every tag of the repository that no earlier rule deleted (kept or undecided);
 * `candidates`: those the budget may delete. Returns the tags it deletes, in order, with why.
 */
export function applyBudget(
  budget: number,
  surviving: readonly TagFacts[],
  candidates: readonly TagFacts[],
  sizes: ReadonlyMap<string, number>,
): Map<TagFacts, string> {
  const holders = new Map<string, number>();
  let total = 0;
  for (const tag of surviving) {
    for (const blob of new Set(tag.blobs)) {
      const n = holders.get(blob) ?? 0;
      if (n === 0) total += sizes.get(blob) ?? 0;
      holders.set(blob, n + 1);
    }
  }
  const out = new Map<TagFacts, string>();
  const order = [...candidates].sort(byLeastRecentlyImported);
  for (const tag of order) {
    if (total <= budget) break;
    const before = total;
    for (const blob of new Set(tag.blobs)) {
      const n = holders.get(blob)! - 1;
      holders.set(blob, n);
      if (n === 0) total -= sizes.get(blob) ?? 0;
    }
    out.set(tag, `repository held ${before} bytes, over its budget of ${budget}; least recently imported (${imported(tag)})`);
  }
  return out;
}

function importedAt(tag: TagFacts): number {
  return tag.cache?.lastImportedAt?.getTime() ?? -1;
}

function byLeastRecentlyImported(a: TagFacts, b: TagFacts): number {
  return importedAt(a) - importedAt(b) || a.pushedAt.getTime() - b.pushedAt.getTime() || (a.tag < b.tag ? -1 : a.tag > b.tag ? 1 : 0);
}

function imported(tag: TagFacts): string {
  const at = tag.cache?.lastImportedAt;
  return at ? `last imported ${at.toISOString()}` : 'never imported';
}
