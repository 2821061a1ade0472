/**
 * Mount points runc had to create. A mount target that the root filesystem lacks (/proc in a
 * scratch image, /etc/resolv.conf, a cache mount's directory) is created by runc in the overlay,
 * so it lands in the upper directory as if the step had made it; a target inside an existing
 * directory copies that directory up. Neither is the step's change: like BuildKit's mount stub
 * cleaner, we note before the run which targets are missing and afterwards remove what is still
 * an empty stub, and the copy of a directory that holds nothing else and is unchanged.
 */
import { readdir, rm, rmdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isOpaque, lstatOrUndefined, type LayeredView } from './layered-view.js';

export interface MountStubs {
  /** Targets (and their missing ancestors) that did not exist before the run, deepest first. */
  readonly created: readonly string[];
  /** Existing ancestors of targets, deepest first, with the lower directory's metadata. */
  readonly parents: ReadonlyArray<{ readonly path: string; readonly mode: number; readonly uid: number; readonly gid: number }>;
}

/** Before the run: which of `targets` the root filesystem lacks. `lowers` sees only the lower layers. */
export async function findMountStubs(lowers: LayeredView, targets: readonly string[]): Promise<MountStubs> {
  const created = new Set<string>();
  const parents = new Map<string, { path: string; mode: number; uid: number; gid: number }>();
  for (const target of targets) {
    for (let path = target; path !== '/'; path = dirname(path)) {
      if (created.has(path) || parents.has(path)) continue;
      const hit = await lowers.find(path);
      if (!hit) created.add(path);
      else if (path !== target && hit.stats.isDirectory()) {
        parents.set(path, { path, mode: hit.stats.mode, uid: hit.stats.uid, gid: hit.stats.gid });
      }
    }
  }
  return { created: deepestFirst([...created]), parents: deepestFirst([...parents.values()], (p) => p.path) };
}

/** After the run (the overlay is gone): removes the stubs from the upper directory. */
export async function removeMountStubs(upperDir: string, stubs: MountStubs): Promise<void> {
  for (const path of stubs.created) {
    const upper = join(upperDir, path);
    const stats = await lstatOrUndefined(upper);
    if (!stats) continue;
    if (stats.isFile() && stats.size === 0) await rm(upper);
    else if (stats.isDirectory() && (await isEmpty(upper))) await rmdir(upper);
  }
  for (const parent of stubs.parents) {
    const upper = join(upperDir, parent.path);
    const stats = await lstatOrUndefined(upper);
    if (!stats?.isDirectory() || stats.mode !== parent.mode || stats.uid !== parent.uid || stats.gid !== parent.gid) continue;
    // An opaque empty directory is the step's change: it hides everything below.
    if ((await isEmpty(upper)) && !(await isOpaque(upper))) await rmdir(upper);
  }
}

async function isEmpty(dir: string): Promise<boolean> {
  return (await readdir(dir)).length === 0;
}

function deepestFirst<T>(items: T[], key: (item: T) => string = String): T[] {
  const depth = (item: T): number => key(item).split('/').length;
  return items.sort((a, b) => depth(b) - depth(a));
}
