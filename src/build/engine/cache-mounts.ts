/**
 * `RUN --mount=type=cache` directories, kept between builds under
 * DATA_DIR/worker/cache-mounts/<repository>/<id>: per repository (one project's package cache
 * is never another's) and per mount id. Directory names are digests of the names, so no path is
 * built from user input; a `meta.json` beside each keeps the names for listing.
 *
 * Each repository has a budget in bytes and in inodes (a package cache of small files runs out of
 * inodes before bytes): after a step used its mounts, the repository's least recently used mounts
 * that no step holds are removed until it is within both. Measuring walks the mounts, a cost paid
 * only by steps that ran (never on a cache hit).
 *
 * sharing=shared: every step uses the same directory at once. locked: one step at a time (in this
 * process; other processes may still share it, as `shared`). private: a step that finds the
 * directory in use gets a fresh one, discarded afterwards.
 */
import { createHash } from 'node:crypto';
import { chmod, chown, lstat, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyedMutex } from '../../util/keyed-mutex.js';
import type { RunMount } from '../dockerfile/model.js';

type CacheMount = Extract<RunMount, { type: 'cache' }>;

export interface CacheMountInfo {
  readonly repository: string;
  readonly id: string;
}

/** A cache mount as listed: what it holds, in bytes and in inodes (small files cost inodes). */
export interface CacheMountUsage extends CacheMountInfo {
  readonly bytes: number;
  readonly inodes: number;
  /** When a step last used it (ms since the epoch). */
  readonly usedAt: number;
}

export class CacheMountNotFoundError extends Error {
  constructor(repository: string, id: string) {
    super(`repository "${repository}" has no cache mount "${id}"`);
  }
}

export interface CacheMountBudget {
  readonly bytes: number;
  readonly inodes: number;
}

export const DEFAULT_CACHE_MOUNT_BUDGET: CacheMountBudget = { bytes: 10 * 1024 ** 3, inodes: 1_000_000 };

export class CacheMounts {
  private readonly locks = new KeyedMutex();
  private readonly inUse = new Map<string, number>();

  constructor(
    private readonly root: string,
    private readonly budget: CacheMountBudget = DEFAULT_CACHE_MOUNT_BUDGET,
  ) {}

  /** Runs `work` with the mount's directory, honouring its sharing mode; then applies the budget. */
  async use<T>(repository: string, mount: CacheMount, work: (dir: string) => Promise<T>): Promise<T> {
    try {
      return await this.useMount(repository, mount, work);
    } finally {
      await this.locks.run(`budget\u0000${repository}`, () => this.enforce(repository)).catch(() => undefined);
    }
  }

  /** Removes the repository's least recently used idle mounts until it is within its budget. */
  async enforce(repository: string): Promise<void> {
    const base = join(this.root, nameDigest(repository));
    const mounts = await this.list(repository);
    let bytes = mounts.reduce((n, m) => n + m.bytes, 0);
    let inodes = mounts.reduce((n, m) => n + m.inodes, 0);
    const idle = mounts.filter((m) => !this.inUse.has(join(base, nameDigest(m.id)))).sort((a, b) => a.usedAt - b.usedAt);
    for (const mount of idle) {
      if (bytes <= this.budget.bytes && inodes <= this.budget.inodes) break;
      await rm(join(base, nameDigest(mount.id)), { recursive: true, force: true });
      bytes -= mount.bytes;
      inodes -= mount.inodes;
    }
  }

  private async useMount<T>(repository: string, mount: CacheMount, work: (dir: string) => Promise<T>): Promise<T> {
    const dir = await this.ensure(repository, mount);
    if (mount.sharing === 'locked') return this.locks.run(dir, () => this.hold(dir, work));
    if (mount.sharing === 'private' && (this.inUse.get(dir) ?? 0) > 0) {
      const temp = await mkdtemp(join(this.root, '.private-'));
      await prepare(temp, mount);
      try {
        return await work(temp);
      } finally {
        await rm(temp, { recursive: true, force: true });
      }
    }
    return this.hold(dir, work);
  }

  async list(repository: string): Promise<CacheMountUsage[]> {
    const base = join(this.root, nameDigest(repository));
    const out: CacheMountUsage[] = [];
    for (const entry of await readdir(base).catch(() => [] as string[])) {
      const meta = await readFile(join(base, entry, 'meta.json'), 'utf8').catch(() => undefined);
      if (!meta) continue;
      const info = JSON.parse(meta) as CacheMountInfo;
      const usedAt = (await lstat(join(base, entry, 'used')).catch(() => undefined))?.mtimeMs ?? 0;
      out.push({ repository: info.repository, id: info.id, usedAt, ...(await usage(join(base, entry, 'data'))) });
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** Removes every cache mount of the repository; answers how many there were. */
  async purgeAll(repository: string): Promise<number> {
    const base = join(this.root, nameDigest(repository));
    const count = (await readdir(base).catch(() => [] as string[])).length;
    await rm(base, { recursive: true, force: true });
    return count;
  }

  /** Removes one cache mount (CacheMountNotFoundError when there is none). */
  async purge(repository: string, id: string): Promise<void> {
    const target = join(this.root, nameDigest(repository), nameDigest(id));
    if (!(await lstat(target).then(() => true, () => false))) throw new CacheMountNotFoundError(repository, id);
    await rm(target, { recursive: true, force: true });
  }

  private async hold<T>(dir: string, work: (dir: string) => Promise<T>): Promise<T> {
    this.inUse.set(dir, (this.inUse.get(dir) ?? 0) + 1);
    // The mark's mtime is the mount's last use, for the budget's least-recently-used order.
    await writeFile(join(dir, 'used'), '');
    try {
      return await work(join(dir, 'data'));
    } finally {
      const left = (this.inUse.get(dir) ?? 1) - 1;
      if (left > 0) this.inUse.set(dir, left);
      else this.inUse.delete(dir);
    }
  }

  private async ensure(repository: string, mount: CacheMount): Promise<string> {
    const dir = join(this.root, nameDigest(repository), nameDigest(mount.id));
    const data = join(dir, 'data');
    const fresh = await mkdir(data, { recursive: true });
    if (fresh !== undefined) {
      await prepare(data, mount);
      await writeFile(join(dir, 'meta.json'), JSON.stringify({ repository, id: mount.id } satisfies CacheMountInfo));
    }
    return dir;
  }
}

/** A new cache directory gets the mount's mode and owner (BuildKit: 0755, root). */
async function prepare(dir: string, mount: CacheMount): Promise<void> {
  await chmod(dir, mount.mode ?? 0o755);
  await chown(dir, mount.uid ?? 0, mount.gid ?? 0);
}

/** Bytes and inodes under `dir` (symlinks not followed). */
async function usage(dir: string): Promise<{ bytes: number; inodes: number }> {
  let bytes = 0;
  let inodes = 0;
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop()!;
    const stats = await lstat(current).catch(() => undefined);
    if (!stats) continue;
    inodes++;
    bytes += stats.blocks * 512;
    if (stats.isDirectory()) for (const name of await readdir(current).catch(() => [] as string[])) pending.push(join(current, name));
  }
  return { bytes, inodes };
}

function nameDigest(name: string): string {
  return createHash('sha256').update(name).digest('hex').slice(0, 32);
}
