/**
 * Cache tags → branches. CI systems tag caches per branch (`cache-main`, `feature-x-cache`,
 * `buildcache-release-1.2`); a repository may set its own pattern: a regular expression with a
 * named group `branch`. Branch names in tags are already sanitised by CI (`feature/x` becomes
 * `feature-x`), so both the tag and the derived branch are kept, never reversed. Pure.
 */
import safeRegex from 'safe-regex2';

/** The branch a bare `cache` tag stands for. */
export const DEFAULT_BRANCH = 'default';

const DEFAULT_PATTERNS: readonly RegExp[] = [
  /^cache$/,
  /^cache[-_.](?<branch>.+)$/,
  /^buildcache[-_.](?<branch>.+)$/,
  /^(?<branch>.+)[-_.](?:build)?cache$/,
];

export function branchOf(tag: string, customPattern?: string | null): string | undefined {
  const patterns = customPattern ? [new RegExp(customPattern)] : DEFAULT_PATTERNS;
  for (const pattern of patterns) {
    const match = pattern.exec(tag);
    if (match) return match.groups?.branch || DEFAULT_BRANCH;
  }
  return undefined;
}

/**
 * Checks a repository's custom pattern: it must compile, stay short, name a `branch` group, and
 * not backtrack catastrophically — it runs on every push to the repository, on the event loop,
 * so one `(a+)+$` would let a crafted 128-character tag stall the whole registry.
 */
export function validateBranchPattern(pattern: string): string | undefined {
  if (pattern.length > 200) return 'pattern longer than 200 characters';
  try {
    new RegExp(pattern);
  } catch (error) {
    return `not a regular expression: ${(error as Error).message}`;
  }
  if (!pattern.includes('(?<branch>')) return 'the pattern needs a named group (?<branch>…)';
  if (!safeRegex(pattern)) return 'the pattern may backtrack catastrophically (nested or overlapping repetition); simplify it';
  return undefined;
}

/** Glob match of a tag (or `repository:tag`) against a pattern with `*` wildcards. */
export function globMatches(glob: string, value: string): boolean {
  const source = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${source}$`).test(value);
}
