/**
 * Reads the step's root filesystem as overlayfs will show it, without mounting it: the layer
 * directories are searched top-down, a whiteout (0/0 character device) hides what is below, and
 * an opaque directory (xattr trusted.overlay.opaque=y) hides the lower directories' contents.
 * Used before the container starts (the user's /etc/passwd, which mount points exist) and after
 * it ends (which mount points runc had to create).
 */
import { lstat, open, readFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';

export const OPAQUE_XATTR = 'trusted.overlay.opaque';

export function isWhiteout(stats: Stats): boolean {
  return stats.isCharacterDevice() && stats.rdev === 0;
}

export class LayeredView {
  /** @param layers top first (the upper directory, then the lower directories from the top). */
  constructor(private readonly layers: readonly string[]) {}

  /** The entry at `path` (absolute inside the container) and the layer holding it, or undefined. */
  async find(path: string): Promise<{ layer: string; stats: Stats } | undefined> {
    const parts = path.split('/').filter(Boolean);
    for (const layer of this.layers) {
      const hit = await lstatOrUndefined(join(layer, ...parts));
      if (hit) return isWhiteout(hit) ? undefined : { layer, stats: hit };
      // Nothing here; does something on the way down hide the lower layers' entry?
      if (await this.hidesBelow(layer, parts)) return undefined;
    }
    return undefined;
  }

  /** The contents of a regular file, or undefined when it is missing (or not a regular file). */
  async readFile(path: string): Promise<string | undefined> {
    const hit = await this.find(path);
    if (!hit?.stats.isFile()) return undefined;
    return readFile(join(hit.layer, ...path.split('/').filter(Boolean)), 'utf8');
  }

  private async hidesBelow(layer: string, parts: readonly string[]): Promise<boolean> {
    for (let i = 1; i < parts.length; i++) {
      const ancestor = join(layer, ...parts.slice(0, i));
      const stats = await lstatOrUndefined(ancestor);
      if (!stats) return false;
      if (!stats.isDirectory()) return true;
      if (await isOpaque(ancestor)) return true;
    }
    return false;
  }
}

export async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

let xattrs: Promise<typeof import('fs-native-extensions')> | undefined;

/** Whether overlayfs treats the directory as opaque (its lower counterparts are hidden). */
export async function isOpaque(dir: string): Promise<boolean> {
  xattrs ??= import('fs-native-extensions');
  const { getAttr } = await xattrs;
  const handle = await open(dir, 'r');
  try {
    const value = await getAttr(handle.fd, OPAQUE_XATTR);
    return value?.toString() === 'y';
  } catch (err) {
    if (['ENODATA', 'ENOTSUP', 'EOPNOTSUPP'].includes((err as NodeJS.ErrnoException).code ?? '')) return false;
    throw err;
  }
  finally {
    await handle.close();
  }
}
