/**
 * INTERIM .dockerignore matcher, until the layers session's src/build/context/dockerignore.ts is
 * merged (then this file goes and context.ts imports that one). Docker's rules as far as they
 * go here: one pattern a line, `#` comments, paths cleaned and relative to the context (a leading
 * `/` dropped), `*` `?` `[...]` within a path segment, `**` across segments, `!` re-includes, and
 * the last matching pattern wins; a pattern that matches a directory matches all under it.
 */
interface Rule {
  readonly negate: boolean;
  readonly pattern: RegExp;
}

export class DockerIgnore {
  private readonly rules: Rule[];

  constructor(text: string) {
    this.rules = text
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'))
      .flatMap((line) => {
        const negate = line.startsWith('!');
        const cleaned = clean(negate ? line.slice(1).trim() : line);
        return cleaned === '' ? [] : [{ negate, pattern: new RegExp(`^${toRegex(cleaned)}(/.*)?$`) }];
      });
  }

  /** Whether the context-relative `path` (forward slashes) is left out. */
  ignores(path: string): boolean {
    let ignored = false;
    for (const rule of this.rules) if (rule.pattern.test(path)) ignored = !rule.negate;
    return ignored;
  }

  /** Whether some rule re-includes paths: a left-out directory must still be walked then. */
  get hasNegations(): boolean {
    return this.rules.some((r) => r.negate);
  }
}

function clean(pattern: string): string {
  const parts: string[] = [];
  for (const part of pattern.replace(/\\/g, '/').split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts.join('/');
}

function toRegex(pattern: string): string {
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches zero or more directories; a final `**` anything.
      if (pattern[i + 2] === '/') {
        out += '(?:.*/)?';
        i += 2;
      } else {
        out += '.*';
        i += 1;
      }
    } else if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end === -1) out += '\\[';
      else {
        out += `[${pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else out += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return out;
}
