/**
 * Reads an overlayfs upper directory as the changes of a layer, in BuildKit's order: a depth-first
 * walk, each directory's names sorted bytewise, a directory before its contents (what Go's
 * filepath.Walk gives containerd's ChangeWriter). Overlay's markers become OCI's:
 *
 * - a 0/0 character device (or, since Linux 6.7, an empty file with `overlay.whiteout`) is a
 *   deleted path: `.wh.<name>`;
 * - a directory with `overlay.opaque=y` hides what lower layers had: its entry, then
 *   `.wh..wh..opq` inside it.
 *
 * Both the `trusted.overlay.*` xattrs (root mounts) and `user.overlay.*` (userxattr mounts) count.
 * Times as containerd writes them: mtime in whole seconds, clamped to SOURCE_DATE_EPOCH when set;
 * whiteouts get SOURCE_DATE_EPOCH or 0 (containerd uses the time of the diff, which would make two
 * diffs of one tree differ). Owner names are left empty: ids are what a layer means, and host user
 * names would make the bytes depend on the build machine.
 */
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { getAttribute } from '@napi-rs/xattr';
import type { TarHeader } from './tar/format.js';

export interface UpperEntry {
  readonly header: TarHeader;
  /** Absolute path of a regular file's data. */
  readonly source?: string;
}

export interface WalkOptions {
  readonly sourceDateEpoch?: number;
}

const OVERLAY_PREFIXES = ['trusted.overlay.', 'user.overlay.'];
const NO_XATTRS: ReadonlyMap<string, Buffer> = new Map();

export async function* upperEntries(upperDir: string, options: WalkOptions): AsyncGenerator<UpperEntry> {
  const links = new Map<string, string>();
  yield* walk(upperDir, '', options, links);
}

async function* walk(
  root: string,
  rel: string,
  options: WalkOptions,
  links: Map<string, string>,
): AsyncGenerator<UpperEntry> {
  const names = (await readdir(join(root, rel))).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const markerTime = options.sourceDateEpoch ?? 0;
  for (const name of names) {
    const path = rel === '' ? name : `${rel}/${name}`;
    const full = join(root, path);
    const stats = await lstat(full);
    const base = {
      mode: stats.mode & 0o7777,
      uid: stats.uid,
      gid: stats.gid,
      size: 0,
      mtime: clamp(Math.floor(stats.mtimeMs / 1000), options.sourceDateEpoch),
      linkname: '',
      devmajor: 0,
      devminor: 0,
      xattrs: NO_XATTRS,
    };
    if (isWhiteout(stats) || (stats.isFile() && stats.size === 0 && (await overlayFlag(full, 'whiteout')) !== undefined)) {
      yield { header: { ...marker(rel, `.wh.${name}`, markerTime) } };
    } else if (stats.isDirectory()) {
      yield { header: { ...base, name: `${path}/`, type: 'dir' } };
      if ((await overlayFlag(full, 'opaque')) === 'y') yield { header: marker(path, '.wh..wh..opq', markerTime) };
      yield* walk(root, path, options, links);
    } else if (stats.isFile()) {
      const key = `${stats.dev}:${stats.ino}`;
      const first = stats.nlink > 1 ? links.get(key) : undefined;
      if (first !== undefined) {
        yield { header: { ...base, name: path, type: 'link', linkname: first } };
        continue;
      }
      if (stats.nlink > 1) links.set(key, path);
      const capability = await getAttribute(full, 'security.capability').catch(() => null);
      const xattrs = capability && capability.length > 0 ? new Map([['security.capability', capability]]) : NO_XATTRS;
      yield { header: { ...base, name: path, type: 'file', size: stats.size, xattrs }, source: full };
    } else if (stats.isSymbolicLink()) {
      yield { header: { ...base, name: path, type: 'symlink', linkname: await readlink(full) } };
    } else if (stats.isCharacterDevice() || stats.isBlockDevice()) {
      const { major, minor } = deviceNumbers(stats.rdev);
      const type = stats.isCharacterDevice() ? 'char' : 'block';
      yield { header: { ...base, name: path, type, devmajor: major, devminor: minor } };
    } else if (stats.isFIFO()) {
      yield { header: { ...base, name: path, type: 'fifo' } };
    }
    // Sockets are skipped, as containerd does: they cannot be archived.
  }
}

function marker(dir: string, name: string, mtime: number): TarHeader {
  return {
    name: dir === '' ? name : `${dir}/${name}`,
    type: 'file',
    mode: 0,
    uid: 0,
    gid: 0,
    size: 0,
    mtime,
    linkname: '',
    devmajor: 0,
    devminor: 0,
    xattrs: NO_XATTRS,
  };
}

function clamp(seconds: number, sourceDateEpoch: number | undefined): number {
  return sourceDateEpoch !== undefined && seconds > sourceDateEpoch ? sourceDateEpoch : seconds;
}

export function isWhiteout(stats: { isCharacterDevice(): boolean; rdev: number }): boolean {
  return stats.isCharacterDevice() && stats.rdev === 0;
}

/** The value of `trusted.overlay.<flag>` or `user.overlay.<flag>`, if either is set. */
async function overlayFlag(path: string, flag: string): Promise<string | undefined> {
  for (const prefix of OVERLAY_PREFIXES) {
    const value = await getAttribute(path, prefix + flag).catch(() => null);
    if (value) return value.toString('latin1');
  }
  return undefined;
}

/** Linux's dev_t encoding (glibc's gnu_dev_major/minor), for 64-bit numbers given as doubles. */
export function deviceNumbers(rdev: number): { major: number; minor: number } {
  const lo = rdev >>> 0;
  const hi = Math.floor(rdev / 2 ** 32) >>> 0;
  return {
    major: (((lo >>> 8) & 0xfff) | (hi & 0xfffff000)) >>> 0,
    minor: (lo & 0xff) | ((lo >>> 12) & 0xfff00),
  };
}
