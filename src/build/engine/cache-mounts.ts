/**
 * `RUN --mount=type=cache` directories, kept between builds under
 * DATA_DIR/worker/cache-mounts/<repository>/<id>: per repository (one project's package cache
 * is never another's) and per mount id. Directory names are digests of the names, so no path is
 * built from user input; a `meta.json` beside each keeps the names for listing.
 *
 * sharing=shared: every step uses the same directory at once. locked: one step at a time (in this
 * process; other processes may still share it, as `shared`). private: a step that finds the
 * directory in use gets a fresh one, discarded afterwards.
 */
import { createHash } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyedMutex } from '../../util/keyed-mutex.js';
import type { RunMount } from '../dockerfile/model.js';

type CacheMount = Extract<RunMount, { type: 'cache' }>;

export interface CacheMountInfo {
  readonly repository: string;
  readonly id: string;
}

export class CacheMounts {
  private readonly locks = new KeyedMutex();
  private readonly inUse = new Map<string, number>();

  constructor(private readonly root: string) {}

  /** Runs `work` with the mount's directory, honouring its sharing mode. */
  async use<T>(repository: string, mount: CacheMount, work: (dir: string) => Promise<T>): Promise<T> {
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

  async list(repository: string): Promise<CacheMountInfo[]> {
    const base = join(this.root, nameDigest(repository));
    const out: CacheMountInfo[] = [];
    for (const entry of await readdir(base).catch(() => [] as string[])) {
      const meta = await readFile(join(base, entry, 'meta.json'), 'utf8').catch(() => undefined);
      if (meta) out.push(JSON.parse(meta) as CacheMountInfo);
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : 1));
  }

  /** Removes one mount (or all of the repository's); false when there was none. */
  async purge(repository: string, id?: string): Promise<boolean> {
    const base = join(this.root, nameDigest(repository));
    const target = id === undefined ? base : join(base, nameDigest(id));
    const existed = await readdir(target).then(() => true, () => false);
    await rm(target, { recursive: true, force: true });
    return existed;
  }

  private async hold<T>(dir: string, work: (dir: string) => Promise<T>): Promise<T> {
    this.inUse.set(dir, (this.inUse.get(dir) ?? 0) + 1);
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

function nameDigest(name: string): string {
  return createHash('sha256').update(name).digest('hex').slice(0, 32);
}
