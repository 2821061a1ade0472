/**
 * `.dockerignore` with Docker's rules (moby/patternmatcher): one pattern per line, `#` comments,
 * surrounding whitespace trimmed, paths cleaned and a leading `/` dropped; `*` and `?` within a
 * path component, `[…]` classes, `**` across any number of directories; `!` re-includes; the last
 * matching pattern wins; a pattern matching a directory matches everything under it. The matching
 * itself is @balena/dockerignore's, which implements exactly these rules.
 *
 * The Dockerfile and `.dockerignore` are always sent with the context even when excluded (the
 * builder needs them), but an excluded one is not copied by COPY/ADD: `packs` is the client's
 * question, `ignores` the builder's.
 *
 * Pure and dependency-light: the CLI client imports this module alone, never server code.
 */
import ignoreModule from '@balena/dockerignore';

// The package is CommonJS (`module.exports = factory`) while its typings declare a default export.
type Factory = typeof ignoreModule.default;
const createIgnore: Factory =
  typeof ignoreModule === 'function' ? (ignoreModule as unknown as Factory) : ignoreModule.default;

export interface DockerignoreMatcher {
  /** True when `path` (relative to the context root, `/`-separated) is excluded from COPY/ADD. */
  ignores(path: string): boolean;
  /** True when the client must send `path`: not excluded, or the Dockerfile or `.dockerignore`. */
  packs(path: string): boolean;
  /**
   * False when nothing under the excluded directory `dir` can be re-included, so a client may skip
   * walking it; true whenever a `!` pattern exists (Docker's walker descends then too).
   */
  mayReinclude(dir: string): boolean;
}

export interface DockerignoreOptions {
  /** Path of the Dockerfile inside the context (default `Dockerfile`). */
  readonly dockerfile?: string;
}

/** The patterns of a `.dockerignore` file, in order (comments and blank lines dropped). */
export function dockerignorePatterns(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

export function dockerignoreMatcher(patterns: readonly string[], options: DockerignoreOptions = {}): DockerignoreMatcher {
  const matcher = createIgnore({ ignorecase: false }).add([...patterns]);
  const always = new Set(['.dockerignore', normalize(options.dockerfile ?? 'Dockerfile')]);
  const reincludes = patterns.some((pattern) => pattern.startsWith('!'));
  const ignores = (path: string): boolean => {
    const clean = normalize(path);
    return clean !== '' && matcher.ignores(clean);
  };
  return {
    ignores,
    packs: (path) => always.has(normalize(path)) || !ignores(path),
    mayReinclude: () => reincludes,
  };
}

export function parseDockerignore(text: string, options: DockerignoreOptions = {}): DockerignoreMatcher {
  return dockerignoreMatcher(dockerignorePatterns(text), options);
}

function normalize(path: string): string {
  return path
    .split('/')
    .filter((part) => part !== '' && part !== '.')
    .join('/');
}
