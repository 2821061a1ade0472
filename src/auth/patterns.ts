/**
 * Repository patterns in permissions: `team/app` (exact), `team/*` (one path component),
 * `team/**` (any depth below team/), `*` / `**` (everything at one / any depth). Pure.
 */

const PATTERN_GRAMMAR = /^[a-z0-9*][a-z0-9._\-/*]*$/;

export function isValidPattern(pattern: string): boolean {
  return pattern.length <= 255 && PATTERN_GRAMMAR.test(pattern) && !pattern.includes('***');
}

/** Compiles a pattern to an anchored regular expression. */
export function compilePattern(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      // `team/**` also matches `team` itself? No: it matches what is below team/.
      source += '.+';
      i++;
    } else if (c === '*') {
      source += '[^/]+';
    } else {
      source += c.replace(/[.\-/]/g, (m) => `\\${m}`);
    }
  }
  return new RegExp(`^${source}$`);
}

export function matchesPattern(pattern: string, name: string): boolean {
  return compilePattern(pattern).test(name);
}
