/**
 * Root filesystems for steps that must run: the layer chain's snapshots, acquired (extracted on
 * first use by src/build/layers) only now, and released when the step is done. A fully cached
 * build never comes here. For COPY and WORKDIR, which read the image without a container, a
 * read-only overlay of the snapshots gives one directory view.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BlobSource, Snapshots } from '../layers/layers.js';
import type { Layer } from './image.js';

const run = promisify(execFile);

export interface Lowers {
  /** Snapshot directories, lowest first. */
  readonly dirs: readonly string[];
  release(): void;
}

export async function acquireLowers(snapshots: Snapshots, source: BlobSource, chain: readonly Layer[]): Promise<Lowers> {
  const held = await Promise.all(chain.map((l) => snapshots.acquire({ digest: l.digest, size: l.size, mediaType: l.mediaType, diffId: l.diffId }, source)));
  return { dirs: held.map((h) => h.dir), release: () => held.forEach((h) => h.release()) };
}

/**
 * One read-only directory showing the stack (whiteouts applied). Overlayfs needs two lower
 * directories for a mount without an upper one, so an empty one is added under a single layer.
 */
export async function mergedView(dirs: readonly string[], scratch: string): Promise<{ dir: string; close(): Promise<void> }> {
  const base = await mkdtemp(join(scratch, 'view-'));
  const target = join(base, 'root');
  const empty = join(base, 'empty');
  await mkdir(target);
  await mkdir(empty);
  const close = async () => {
    await run('umount', [target]).catch(() => undefined);
    await rm(base, { recursive: true, force: true });
  };
  if (dirs.length === 0) return { dir: empty, close };
  const lowers = [...dirs].reverse();
  if (lowers.length === 1) lowers.push(empty);
  try {
    await run('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lowers.join(':')}`, target]);
  } catch (error) {
    await close();
    throw error;
  }
  return { dir: target, close };
}
