/**
 * COPY and ADD without a container: the sources (planned by sources.ts) are written into an empty
 * upper directory, which the layer writer then turns into the step's layer.
 *
 * BuildKit's rules:
 * - the destination is relative to WORKDIR unless absolute; it is a directory when it ends with
 *   `/` (or is `.`), when several sources match, or when the image already has a directory there;
 * - a directory source copies its contents; a file keeps its name inside a directory destination;
 * - owners are 0:0, or `--chown` (`user`, `uid`, `user:group`; names from the image's /etc/passwd
 *   and /etc/group; a user without a group takes the user's primary group, a numeric uid the same
 *   number); `--chmod` (octal) sets the mode of every copied file and directory;
 * - times: copied entries keep their source's mtime; missing parent directories are created
 *   (0755, the `--chown` owner, the current time); existing ones keep the image's metadata;
 * - ADD extracts a local tar archive (plain, gzip, bzip2, xz, zstd, told by content) into the
 *   destination, keeping the archive's owners unless `--chown` is given.
 *
 * Nothing is followed or written outside the upper directory: whatever an earlier source put at a
 * path is removed before a later one writes there, so a copied symlink is never written through.
 */
import { constants, createReadStream } from 'node:fs';
import { chmod, copyFile, lchown, link, lstat, lutimes, mkdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { openDecompressed } from './compression.js';
import { CopyInvalidError } from './errors.js';
import { extractTar } from './extract.js';
import type { RootfsView } from './rootfs.js';
import { planSources, type SourceItem, type SourceSpec } from './sources.js';
import { decodeHeader } from './tar/format.js';

export interface CopyOperation extends SourceSpec {
  readonly dest: string;
  /** The stage's WORKDIR (absolute), for a relative destination. */
  readonly workdir: string;
  readonly add: boolean;
  readonly chown?: string;
  readonly chmod?: string;
}

export interface CopyTarget {
  /** An empty directory that receives the step's changes. */
  readonly upperDir: string;
  /** The image being built on (destination checks, --chown names). */
  readonly rootfs: RootfsView;
  /** Time for created directories and heredoc files (default now). */
  readonly now?: Date;
}

interface Owner {
  readonly uid: number;
  readonly gid: number;
}

export async function copyToUpper(op: CopyOperation, target: CopyTarget): Promise<void> {
  const owner = await resolveChown(op.chown, target.rootfs);
  const mode = parseChmod(op.chmod);
  const plan = await planSources(op);
  const now = target.now ?? new Date();
  const dest = posix.resolve('/', op.workdir || '/', op.dest);
  const destStats = await target.rootfs.stat(dest);
  const destIsDir =
    /(^|\/)\.{0,2}$/.test(op.dest) || plan.multiple || destStats?.isDirectory() === true || plan.groups.some((g) => g.kind === 'dir');
  const writer = new UpperWriter(target, owner, now);
  const dirTimes: Array<{ path: string; mtime: Date }> = [];

  for (const group of plan.groups) {
    if (group.kind === 'heredoc') {
      const path = await writer.prepareFile(destIsDir ? posix.join(dest, group.name) : dest);
      await writeFile(path, group.content ?? '', { flag: 'wx' });
      await writer.finish(path, mode ?? 0o644, owner, now);
      continue;
    }
    if (group.kind === 'file' && op.add && (await isTarArchive(group.items[0]!.abs))) {
      const dir = await writer.ensureDir(dest);
      const { stream } = await openDecompressed(createReadStream(group.items[0]!.abs));
      await extractTar(stream, dir, { whiteouts: 'plain', owners: op.chown ? owner : 'archive' });
      continue;
    }
    if (group.kind === 'file') {
      await writer.copyItem(group.items[0]!, destIsDir ? posix.join(dest, group.name) : dest, mode);
      continue;
    }
    await writer.ensureDir(dest);
    for (const item of group.items) {
      const path = await writer.copyItem(item, posix.join(dest, item.target), mode);
      if (item.stats.isDirectory()) dirTimes.push({ path, mtime: item.stats.mtime });
    }
  }
  // Directory times last: creating entries inside a directory changes its mtime.
  for (const { path, mtime } of writer.createdDirs) await utimes(path, mtime, mtime);
  for (const { path, mtime } of dirTimes) await utimes(path, mtime, mtime);
}

class UpperWriter {
  /** Hard-linked sources already copied: inode → path in the upper directory. */
  private readonly links = new Map<string, string>();
  /** Directories this copy created or checked in the upper directory, with the time to give them. */
  readonly createdDirs: Array<{ path: string; mtime: Date }> = [];
  private readonly readyDirs = new Set<string>();

  constructor(
    private readonly target: CopyTarget,
    private readonly owner: Owner,
    private readonly now: Date,
  ) {}

  private upper(imagePath: string): string {
    return join(this.target.upperDir, ...imagePath.split('/').filter((p) => p !== ''));
  }

  /** Makes `imagePath` and its parents real directories in the upper dir; returns its path there. */
  async ensureDir(imagePath: string): Promise<string> {
    const parts = imagePath.split('/').filter((p) => p !== '');
    let current = '';
    for (const part of parts) {
      current = `${current}/${part}`;
      const path = this.upper(current);
      if (this.readyDirs.has(current)) continue;
      const here = await lstat(path).catch(() => undefined);
      if (here?.isDirectory()) {
        this.readyDirs.add(current);
        continue;
      }
      if (here !== undefined) await rm(path, { recursive: true, force: true });
      const image = await this.target.rootfs.stat(current);
      if (image !== undefined && !image.isDirectory() && !image.isSymbolicLink()) {
        throw new CopyInvalidError(`cannot copy into "${current}": the image has a file there`);
      }
      await mkdir(path);
      if (image?.isDirectory()) {
        await lchown(path, image.uid, image.gid);
        await chmod(path, image.mode & 0o7777);
        this.createdDirs.push({ path, mtime: image.mtime });
      } else {
        await lchown(path, this.owner.uid, this.owner.gid);
        await chmod(path, 0o755);
        this.createdDirs.push({ path, mtime: this.now });
      }
      this.readyDirs.add(current);
    }
    return this.upper(imagePath);
  }

  /** Clears `imagePath` in the upper dir for a new non-directory entry; returns its path there. */
  async prepareFile(imagePath: string): Promise<string> {
    await this.ensureDir(posix.dirname(imagePath));
    const path = this.upper(imagePath);
    const here = await lstat(path).catch(() => undefined);
    if (here !== undefined) await rm(path, { recursive: true, force: true });
    return path;
  }

  async copyItem(item: SourceItem, imagePath: string, mode: number | undefined): Promise<string> {
    const stats = item.stats;
    if (stats.isDirectory()) {
      const path = await this.ensureDir(imagePath);
      await lchown(path, this.owner.uid, this.owner.gid);
      await chmod(path, mode ?? stats.mode & 0o7777);
      return path;
    }
    const path = await this.prepareFile(imagePath);
    if (stats.isSymbolicLink()) {
      await symlink(item.link ?? '', path);
      await lchown(path, this.owner.uid, this.owner.gid);
      await lutimes(path, stats.mtime, stats.mtime);
      return path;
    }
    if (!stats.isFile()) return path; // devices, FIFOs and sockets in a context are not copied
    const key = `${stats.dev}:${stats.ino}`;
    const first = stats.nlink > 1 ? this.links.get(key) : undefined;
    if (first !== undefined) {
      await link(first, path);
      return path;
    }
    await copyFile(item.abs, path, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
    if (stats.nlink > 1) this.links.set(key, path);
    await this.finish(path, mode ?? stats.mode & 0o7777, this.owner, stats.mtime);
    return path;
  }

  async finish(path: string, mode: number, owner: Owner, mtime: Date): Promise<void> {
    await lchown(path, owner.uid, owner.gid);
    await chmod(path, mode);
    await utimes(path, mtime, mtime);
  }
}

/** `--chmod=0755`: octal only. */
export function parseChmod(chmod: string | undefined): number | undefined {
  if (chmod === undefined || chmod === '') return undefined;
  if (!/^[0-7]{3,4}$/.test(chmod)) throw new CopyInvalidError(`--chmod=${chmod} is not an octal mode (such as 0755)`);
  return parseInt(chmod, 8);
}

/** `--chown` resolved against the image's /etc/passwd and /etc/group; 0:0 without it. */
export async function resolveChown(chown: string | undefined, rootfs: RootfsView): Promise<Owner> {
  if (chown === undefined || chown === '') return { uid: 0, gid: 0 };
  const [user = '', group] = chown.split(':', 2);
  let uid: number;
  let gid: number;
  if (/^\d+$/.test(user)) {
    uid = Number(user);
    gid = uid;
  } else {
    const entry = (await databaseEntries(rootfs, '/etc/passwd')).find((fields) => fields[0] === user);
    if (entry === undefined) throw new CopyInvalidError(`--chown: no user "${user}" in the image's /etc/passwd`);
    uid = Number(entry[2]);
    gid = Number(entry[3]);
  }
  if (group !== undefined && group !== '') {
    if (/^\d+$/.test(group)) gid = Number(group);
    else {
      const entry = (await databaseEntries(rootfs, '/etc/group')).find((fields) => fields[0] === group);
      if (entry === undefined) throw new CopyInvalidError(`--chown: no group "${group}" in the image's /etc/group`);
      gid = Number(entry[2]);
    }
  }
  if (!Number.isSafeInteger(uid) || !Number.isSafeInteger(gid)) throw new CopyInvalidError(`--chown=${chown} is not a valid owner`);
  return { uid, gid };
}

async function databaseEntries(rootfs: RootfsView, path: string): Promise<string[][]> {
  const text = (await rootfs.readFile(path))?.toString('utf8') ?? '';
  return text
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => line.split(':'));
}

/** True when the file is a tar archive, plain or compressed (by content, not by name). */
async function isTarArchive(path: string): Promise<boolean> {
  const { stream } = await openDecompressed(createReadStream(path, { highWaterMark: 64 * 1024 }));
  let head = Buffer.alloc(0);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      head = Buffer.concat([head, chunk]);
      if (head.length >= 512) break;
    }
  } catch {
    return false; // not decompressible: copied as a file
  } finally {
    stream.destroy();
  }
  if (head.length < 512) return false;
  try {
    return decodeHeader(head.subarray(0, 512)) !== undefined;
  } catch {
    return false;
  }
}
