/**
 * What a COPY/ADD takes from its source (the build context, or a stage's or image's rootfs):
 * its sources expanded as Docker expands them, paths scoped to the source root (a `..` never
 * leaves it, and symlinks on the way are resolved inside it), `.dockerignore` and `--exclude`
 * applied. Both the copy (copy.ts) and the cache key's content digest (content-digest.ts) work
 * from this one plan, so the key covers exactly what is copied.
 *
 * - A source naming a directory copies the directory's contents, not the directory.
 * - A source naming a symlink follows it (BuildKit's FollowSymlinks); symlinks inside a copied
 *   directory are copied as links.
 * - Wildcards (`*`, `?`, `[…]`, `\` escapes) match one path component, as Go's filepath.Match.
 */
import { lstat, readdir, readlink, type Stats } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { dockerignoreMatcher } from '../context/dockerignore.js';
import { CopySourceNotFoundError, PathOutsideRootError } from './errors.js';

const lstatAsync = promisify(lstat);
const readdirAsync = promisify(readdir);
const readlinkAsync = promisify(readlink);

export interface SourceSpec {
  /** The context directory or the rootfs the sources are read from. */
  readonly root: string;
  readonly sources: readonly string[];
  readonly exclude: readonly string[];
  /** `.dockerignore` (context sources only): true for an excluded path. */
  readonly ignore?: (path: string) => boolean;
  /** Heredoc names (COPY <<EOF): sources that are inline content, not paths. */
  readonly heredocs?: ReadonlyArray<{ readonly name: string; readonly content: string }>;
}

/** One thing to copy: a path in the source, where it lands relative to the destination. */
export interface SourceItem {
  /** Path inside the source root (`/`-separated, no leading slash). */
  readonly path: string;
  /** Absolute path on disk. */
  readonly abs: string;
  /** Where it goes, relative to the destination directory (or '' for the destination itself). */
  readonly target: string;
  readonly stats: Stats;
  /** Symlink target (links inside copied directories). */
  readonly link?: string;
}

export interface SourceGroup {
  /** The source as written in the Dockerfile. */
  readonly source: string;
  /** The matched path: a file copied to the destination, or a directory whose contents are. */
  readonly kind: 'file' | 'dir' | 'heredoc';
  readonly name: string;
  readonly items: readonly SourceItem[];
  /** Inline content of a heredoc source. */
  readonly content?: string;
}

export interface SourcePlan {
  readonly groups: readonly SourceGroup[];
  /** More than one file or directory matched: the destination must be a directory. */
  readonly multiple: boolean;
}

export async function planSources(spec: SourceSpec): Promise<SourcePlan> {
  const ignore = spec.ignore ?? (() => false);
  const exclude = spec.exclude.length > 0 ? dockerignoreMatcher(spec.exclude) : undefined;
  const excluded = (path: string, inside?: string): boolean =>
    ignore(path) || (exclude !== undefined && (exclude.ignores(path) || (inside !== undefined && exclude.ignores(inside))));
  const groups: SourceGroup[] = [];
  let matchedCount = 0;
  for (const source of spec.sources) {
    const heredoc = spec.heredocs?.find((h) => h.name === source);
    if (heredoc) {
      groups.push({ source, kind: 'heredoc', name: heredoc.name, items: [], content: heredoc.content });
      matchedCount += 1;
      continue;
    }
    const matches = (await expand(spec.root, scopedParts(source))).filter((path) => path === '' || !excluded(path));
    if (matches.length === 0) throw new CopySourceNotFoundError(source);
    matchedCount += matches.length;
    for (const match of matches) {
      const resolved = await resolveInRoot(spec.root, match);
      const stats = await lstatAsync(join(spec.root, resolved)).catch(() => undefined);
      if (stats === undefined) throw new CopySourceNotFoundError(source);
      const name = match.split('/').pop() ?? '';
      if (stats.isDirectory()) {
        const items: SourceItem[] = [];
        await walk(spec.root, resolved, '', items, (path, inside) => excluded(path, inside));
        groups.push({ source, kind: 'dir', name, items });
      } else {
        const abs = join(spec.root, resolved);
        groups.push({ source, kind: 'file', name, items: [{ path: resolved, abs, target: '', stats }] });
      }
    }
  }
  return { groups, multiple: matchedCount > 1 };
}

/** A source path's components, cleaned and held inside the root (`/a/../../b` is `b`). */
export function scopedParts(source: string): string[] {
  const parts: string[] = [];
  for (const part of source.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return parts;
}

/** Expands wildcards component by component; a path without any is returned as it is. */
async function expand(root: string, parts: readonly string[]): Promise<string[]> {
  let paths = [''];
  for (const part of parts) {
    const next: string[] = [];
    for (const base of paths) {
      if (!hasWildcard(part)) {
        next.push(base === '' ? unescape(part) : `${base}/${unescape(part)}`);
        continue;
      }
      const dir = join(root, await resolveInRoot(root, base));
      const names = await readdirAsync(dir).catch(() => [] as string[]);
      const pattern = componentPattern(part);
      for (const name of names.sort()) if (pattern.test(name)) next.push(base === '' ? name : `${base}/${name}`);
    }
    paths = next;
  }
  if (parts.some(hasWildcard)) return paths;
  return (await lstatAsync(join(root, await resolveInRoot(root, paths[0]!))).catch(() => undefined)) ? paths : [];
}

/** Walks a directory's contents: directories before their contents, names sorted. */
async function walk(
  root: string,
  dir: string,
  inside: string,
  items: SourceItem[],
  excluded: (path: string, inside: string) => boolean,
): Promise<void> {
  const names = (await readdirAsync(join(root, dir))).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const name of names) {
    const path = dir === '' ? name : `${dir}/${name}`;
    const target = inside === '' ? name : `${inside}/${name}`;
    if (excluded(path, target)) continue;
    const abs = join(root, path);
    const stats = await lstatAsync(abs);
    const link = stats.isSymbolicLink() ? await readlinkAsync(abs) : undefined;
    items.push({ path, abs, target, stats, ...(link !== undefined ? { link } : {}) });
    if (stats.isDirectory()) await walk(root, path, target, items, excluded);
  }
}

/**
 * Resolves symlinks along `path` as if `root` were `/`: absolute targets restart at the root and
 * `..` stops there, so the result is always inside. Returns the resolved relative path.
 */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  const pending = path.split('/').filter((p) => p !== '' && p !== '.');
  const done: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '..') {
      done.pop();
      continue;
    }
    const candidate = [...done, part].join('/');
    const stats = await lstatAsync(join(root, candidate)).catch(() => undefined);
    if (stats?.isSymbolicLink()) {
      if (++hops > 40) throw new PathOutsideRootError(path, 'has too many levels of symbolic links');
      const target = await readlinkAsync(join(root, candidate));
      if (target.startsWith('/')) done.length = 0;
      pending.unshift(...target.split('/').filter((p) => p !== '' && p !== '.'));
      continue;
    }
    done.push(part);
  }
  return done.join('/');
}

function hasWildcard(part: string): boolean {
  return /[*?[]/.test(part.replace(/\\./g, ''));
}

function unescape(part: string): string {
  return part.replace(/\\(.)/g, '$1');
}

/** Go's filepath.Match for one component, as a RegExp. */
export function componentPattern(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) source += escapeRegExp(pattern[++i]!);
    else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new CopySourceNotFoundError(pattern);
      let body = pattern.slice(i + 1, end);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      source += `[${negate ? '^' : ''}${body.replace(/[\]\\^]/g, (m) => `\\${m}`)}]`;
      i = end;
    } else source += escapeRegExp(c);
  }
  return new RegExp(`^${source}$`, 's');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
