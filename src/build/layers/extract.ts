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
 *
 * Metadata syscalls are synchronous: extraction runs in a build worker process, never on the
 * registry's event loop, and a thread-pool round trip per chown/chmod/utimes costs more than the
 * syscall. File data still streams from the archive.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync, closeSync, constants, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync,
  mkdirSync, openSync, rmSync, symlinkSync, utimesSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { setAttributeSync } from '@napi-rs/xattr';
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
      if (base === OPAQUE) setAttributeSync(join(this.root, ...parent), 'trusted.overlay.opaque', 'y');
      else if (!base.startsWith(WHITEOUT + WHITEOUT)) {
        const hidden = base.slice(WHITEOUT.length);
        if (hidden === '' || hidden === '.' || hidden === '..') throw new PathOutsideRootError(header.name, 'is not a valid whiteout');
        const target = join(this.root, ...parent, hidden);
        this.clear(target, false);
        this.specials.push({ path: target, header: { ...header, type: 'char', devmajor: 0, devminor: 0, mode: 0 } });
      }
      return;
    }

    const existed = this.clear(path, header.type === 'dir');
    switch (header.type) {
      case 'dir':
        if (!existed) mkdirSync(path);
        this.dirs.add(rel);
        this.metadata(path, header);
        this.dirTimes.push({ path, mtime: header.mtime });
        return;
      case 'file':
        await this.writeFile(path, header, data);
        return;
      case 'symlink':
        if (this.options.confineSymlinks) confineSymlink(header.name, parent, header.linkname);
        symlinkSync(header.linkname, path);
        this.owner(path, header);
        lutimesSync(path, header.mtime, header.mtime);
        return;
      case 'link': {
        const targetParts = linkParts(header.name, header.linkname);
        if (targetParts.length === 0) throw new PathOutsideRootError(header.name, 'is a hard link to the root');
        await this.ensureParent(header.name, targetParts.slice(0, -1), false);
        try {
          linkSync(join(this.root, ...targetParts), path);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code ?? String(error);
          throw new InvalidArchiveError(`hard link "${header.name}" to "${header.linkname}": ${code}`);
        }
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
      this.metadata(path, header);
      utimesSync(path, header.mtime, header.mtime);
    }
    // Any order: setting a directory's times does not change its parent's.
    for (const { path, mtime } of this.dirTimes) utimesSync(path, mtime, mtime);
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
      const stats = lstatSync(path, { throwIfNoEntry: false });
      if (stats?.isSymbolicLink()) throw new PathOutsideRootError(entry, `would be written through the symlink "${rel}"`);
      if (stats === undefined) {
        if (!create) throw new InvalidArchiveError(`"${entry}" needs "${rel}", which the archive does not hold`);
        mkdirSync(path, { mode: 0o755 });
      } else if (!stats.isDirectory()) {
        throw new InvalidArchiveError(`"${entry}" is inside "${rel}", which is not a directory`);
      }
      this.dirs.add(rel);
    }
  }

  /**
   * Removes what is at `path`, unless both it and the new entry are directories (they merge).
   * Returns true when a directory stays.
   */
  private clear(path: string, keepDirectory: boolean): boolean {
    const stats = lstatSync(path, { throwIfNoEntry: false });
    if (stats === undefined) return false;
    if (keepDirectory && stats.isDirectory()) return true;
    rmSync(path, { recursive: true, force: true });
    if (stats.isDirectory()) this.dirs.clear(), this.dirs.add('');
    return false;
  }

  private ownerOf(header: TarHeader): { uid: number; gid: number } | undefined {
    const owners = this.options.owners;
    return owners === 'none' ? undefined : owners === 'archive' ? header : owners;
  }

  private owner(path: string, header: TarHeader): void {
    const owner = this.ownerOf(header);
    if (owner) lchownSync(path, owner.uid, owner.gid);
  }

  /** Owner, then mode (chown clears setuid bits), then xattrs. */
  private metadata(path: string, header: TarHeader): void {
    this.owner(path, header);
    chmodSync(path, header.mode);
    setXattrs(path, header);
  }

  /** A regular file, written from the archive's data through one descriptor (no path lookups). */
  private async writeFile(path: string, header: TarHeader, data: AsyncIterable<Buffer>): Promise<void> {
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      for await (const chunk of data) {
        for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at);
      }
      const owner = this.ownerOf(header);
      if (owner) fchownSync(fd, owner.uid, owner.gid);
      fchmodSync(fd, header.mode);
      futimesSync(fd, header.mtime, header.mtime);
    } finally {
      closeSync(fd);
    }
    setXattrs(path, header);
  }
}

function setXattrs(path: string, header: TarHeader): void {
  for (const [name, value] of header.xattrs) {
    try {
      setAttributeSync(path, name, value);
    } catch (error) {
      if (!/not supported/i.test(String(error))) throw error;
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

/** A hard link's target as path components, refused (naming the link) when it leaves the root. */
function linkParts(entry: string, target: string): string[] {
  try {
    return entryParts(target);
  } catch (error) {
    if (!(error instanceof PathOutsideRootError)) throw error;
    throw new PathOutsideRootError(entry, `is a hard link to "${target}", which climbs out of the root`);
  }
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
