/**
 * Safe tar extraction, for layer snapshots, build contexts and ADD's archives. Every entry's path
 * is checked to stay inside the root: absolute names and `..` are refused, no parent directory may
 * be a symlink (nothing is ever written through one), hard links must point inside, and (for
 * build contexts) symlinks must not point outside. Symlinks are created, never followed.
 *
 * Layers (`whiteouts: 'overlay'`) are turned into overlayfs's form: `.wh.<name>` becomes a 0/0
 * character device, `.wh..wh..opq` the `trusted.overlay.opaque=y` xattr on its directory.
 * Device nodes and FIFOs are made in one `sh` process at the end (node has no mknod), then
 * directory times are set last, since creating entries changes them.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { chmod, lchown, link, lstat, lutimes, mkdir, open, rm, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { setAttribute } from '@napi-rs/xattr';
import { ContextTooLargeError, InvalidArchiveError, PathOutsideRootError } from './errors.js';
import type { TarHeader } from './tar/format.js';
import { readTar } from './tar/reader.js';

export interface ExtractOptions {
  /** `overlay`: OCI whiteouts become overlayfs's; `plain`: `.wh.` names are ordinary files. */
  readonly whiteouts: 'overlay' | 'plain';
  /** Refuse symlinks whose target leaves the root (build contexts). */
  readonly confineSymlinks?: boolean;
  /** Owners: as in the archive, one fixed owner (ADD --chown), or left to the extracting user. */
  readonly owners: 'archive' | 'none' | { readonly uid: number; readonly gid: number };
  readonly limits?: { readonly maxBytes: number; readonly maxEntries: number };
}

export interface ExtractResult {
  readonly entries: number;
  readonly bytes: number;
}

interface Special {
  readonly path: string;
  readonly header: TarHeader;
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
const SPECIALS_PER_PROCESS = 500;

export async function extractTar(
  source: AsyncIterable<Buffer | Uint8Array>,
  root: string,
  options: ExtractOptions,
): Promise<ExtractResult> {
  const state = new Extraction(root, options);
  for await (const entry of readTar(source)) await state.apply(entry.header, entry.data);
  await state.finish();
  return { entries: state.entries, bytes: state.bytes };
}

class Extraction {
  entries = 0;
  bytes = 0;
  /** Directories known to be real directories inside the root (relative paths). */
  private readonly dirs = new Set<string>(['']);
  private readonly dirTimes: Array<{ path: string; mtime: number }> = [];
  private readonly specials: Special[] = [];

  constructor(
    private readonly root: string,
    private readonly options: ExtractOptions,
  ) {}

  async apply(header: TarHeader, data: AsyncIterable<Buffer>): Promise<void> {
    this.count(header);
    const parts = entryParts(header.name);
    if (parts.length === 0) return; // the root itself
    const base = parts[parts.length - 1]!;
    const parent = parts.slice(0, -1);
    await this.ensureParent(header.name, parent);
    const rel = parts.join('/');
    const path = join(this.root, rel);

    if (this.options.whiteouts === 'overlay' && base.startsWith(WHITEOUT)) {
      if (base === OPAQUE) await setAttribute(join(this.root, ...parent), 'trusted.overlay.opaque', 'y');
      else if (!base.startsWith(WHITEOUT + WHITEOUT)) {
        const hidden = base.slice(WHITEOUT.length);
        if (hidden === '' || hidden === '.' || hidden === '..') throw new PathOutsideRootError(header.name, 'is not a valid whiteout');
        const target = join(this.root, ...parent, hidden);
        await this.clear(target, false);
        this.specials.push({ path: target, header: { ...header, type: 'char', devmajor: 0, devminor: 0, mode: 0 } });
      }
      return;
    }

    await this.clear(path, header.type === 'dir');
    switch (header.type) {
      case 'dir':
        await mkdir(path).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'EEXIST') throw error;
        });
        this.dirs.add(rel);
        await this.metadata(path, header);
        this.dirTimes.push({ path, mtime: header.mtime });
        return;
      case 'file':
        await writeFile(path, data);
        await this.metadata(path, header);
        await utimes(path, header.mtime, header.mtime);
        return;
      case 'symlink':
        if (this.options.confineSymlinks) confineSymlink(header.name, parent, header.linkname);
        await symlink(header.linkname, path);
        await this.owner(path, header);
        await lutimes(path, header.mtime, header.mtime);
        return;
      case 'link': {
        const targetParts = entryParts(header.linkname);
        if (targetParts.length === 0) throw new PathOutsideRootError(header.name, 'is a hard link to the root');
        await this.ensureParent(header.name, targetParts.slice(0, -1), false);
        await link(join(this.root, ...targetParts), path).catch((error: NodeJS.ErrnoException) => {
          throw new InvalidArchiveError(`hard link "${header.name}" to "${header.linkname}": ${error.code ?? error.message}`);
        });
        return;
      }
      default:
        this.specials.push({ path, header });
    }
  }

  async finish(): Promise<void> {
    for (let i = 0; i < this.specials.length; i += SPECIALS_PER_PROCESS) {
      await makeNodes(this.specials.slice(i, i + SPECIALS_PER_PROCESS));
    }
    for (const { path, header } of this.specials) {
      await this.metadata(path, header);
      await utimes(path, header.mtime, header.mtime);
    }
    // Deepest first is not needed: setting a directory's times does not change its parent's.
    for (const { path, mtime } of this.dirTimes) await utimes(path, mtime, mtime);
  }

  private count(header: TarHeader): void {
    this.entries += 1;
    this.bytes += header.size;
    const limits = this.options.limits;
    if (limits && this.entries > limits.maxEntries) throw new ContextTooLargeError('entries', limits.maxEntries);
    if (limits && this.bytes > limits.maxBytes) throw new ContextTooLargeError('bytes', limits.maxBytes);
  }

  /** Makes sure every parent is a real directory inside the root, creating missing ones. */
  private async ensureParent(entry: string, parent: readonly string[], create = true): Promise<void> {
    let rel = '';
    for (const part of parent) {
      rel = rel === '' ? part : `${rel}/${part}`;
      if (this.dirs.has(rel)) continue;
      const path = join(this.root, rel);
      const stats = await lstat(path).catch(() => undefined);
      if (stats?.isSymbolicLink()) throw new PathOutsideRootError(entry, `would be written through the symlink "${rel}"`);
      if (stats === undefined) {
        if (!create) throw new InvalidArchiveError(`"${entry}" needs "${rel}", which the archive does not hold`);
        await mkdir(path, { mode: 0o755 });
      } else if (!stats.isDirectory()) {
        throw new InvalidArchiveError(`"${entry}" is inside "${rel}", which is not a directory`);
      }
      this.dirs.add(rel);
    }
  }

  /** Removes what is at `path`, unless both it and the new entry are directories (they merge). */
  private async clear(path: string, keepDirectory: boolean): Promise<void> {
    const stats = await lstat(path).catch(() => undefined);
    if (stats === undefined || (keepDirectory && stats.isDirectory())) return;
    await rm(path, { recursive: true, force: true });
    if (stats.isDirectory()) this.dirs.clear(), this.dirs.add('');
  }

  private async owner(path: string, header: TarHeader): Promise<void> {
    const owners = this.options.owners;
    if (owners === 'none') return;
    const { uid, gid } = owners === 'archive' ? header : owners;
    await lchown(path, uid, gid);
  }

  /** Owner, then mode (chown clears setuid bits), then xattrs. */
  private async metadata(path: string, header: TarHeader): Promise<void> {
    await this.owner(path, header);
    await chmod(path, header.mode);
    for (const [name, value] of header.xattrs) {
      await setAttribute(path, name, value).catch((error: Error) => {
        if (!/not supported/i.test(error.message)) throw error;
      });
    }
  }
}

/** The entry's path components; refuses absolute paths and `..`. */
export function entryParts(name: string): string[] {
  if (name.startsWith('/')) throw new PathOutsideRootError(name, 'is an absolute path');
  if (name.includes('\0')) throw new PathOutsideRootError(name, 'contains a NUL byte');
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) throw new PathOutsideRootError(name, 'climbs out with ".."');
  return parts;
}

/** Refuses a symlink whose target, resolved from its directory, would leave the root. */
function confineSymlink(entry: string, parent: readonly string[], target: string): void {
  if (target.startsWith('/')) throw new PathOutsideRootError(entry, `is a symlink to "${target}", outside the build context`);
  const stack = [...parent];
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue;
    if (part !== '..') stack.push(part);
    else if (stack.pop() === undefined) {
      throw new PathOutsideRootError(entry, `is a symlink to "${target}", outside the build context`);
    }
  }
}

async function writeFile(path: string, data: AsyncIterable<Buffer>): Promise<void> {
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const handle = await open(path, flags, 0o600);
  try {
    for await (const chunk of data) await handle.write(chunk);
  } finally {
    await handle.close();
  }
}

/** mknod/mkfifo for a batch of nodes, in one shell process. */
async function makeNodes(nodes: readonly Special[]): Promise<void> {
  if (nodes.length === 0) return;
  const args: string[] = [];
  for (const { path, header } of nodes) {
    if (header.type === 'fifo') args.push('p', path);
    else args.push(header.type === 'block' ? 'b' : 'c', String(header.devmajor), String(header.devminor), path);
  }
  const script =
    'while [ $# -gt 0 ]; do case "$1" in p) mkfifo -m 600 -- "$2" || exit 1; shift 2;; ' +
    '*) mknod -m 600 -- "$4" "$1" "$2" "$3" || exit 1; shift 4;; esac; done';
  await new Promise<void>((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', script, 'sh', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`mknod failed: ${stderr.trim()}`))));
  });
}
