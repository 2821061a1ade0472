/**
 * A read-only look at the image a step builds on, through its snapshot directories without
 * mounting them: what COPY needs to know about its destination (is it a directory? whose is it?)
 * and the /etc/passwd and /etc/group that `--chown` names are resolved against. Overlay rules:
 * the topmost layer that has a path wins; a whiteout device hides it, an opaque directory hides
 * everything below it in lower layers.
 */
import { lstat, readFile } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import { getAttribute } from '@napi-rs/xattr';
import { isWhiteout } from './upper.js';

export interface RootfsView {
  /** lstat of an absolute image path, or undefined when the image has nothing there. */
  stat(path: string): Promise<Stats | undefined>;
  readFile(path: string): Promise<Buffer | undefined>;
}

/** The view of a stack of snapshot directories, lowest first (as ExecSpec.lowerDirs). */
export function layeredRootfs(lowerDirs: readonly string[]): RootfsView {
  const top = [...lowerDirs].reverse();
  const find = async (path: string): Promise<{ dir: string; stats: Stats } | undefined> => {
    const parts = path.split('/').filter((p) => p !== '' && p !== '.');
    for (const dir of top) {
      const stats = await lstat(join(dir, ...parts)).catch(() => undefined);
      if (stats !== undefined) return isWhiteout(stats) ? undefined : { dir, stats };
      if (await hiddenBelow(dir, parts)) return undefined;
    }
    return undefined;
  };
  return {
    stat: async (path) => (await find(path))?.stats,
    readFile: async (path) => {
      const found = await find(path);
      return found?.stats.isFile() ? readFile(join(found.dir, path)) : undefined;
    },
  };
}

/**
 * True when this layer hides lower layers' `parts`: a parent here is a whiteout, not a directory,
 * or an opaque directory.
 */
async function hiddenBelow(dir: string, parts: readonly string[]): Promise<boolean> {
  for (let i = parts.length - 1; i >= 0; i--) {
    const path = join(dir, ...parts.slice(0, i));
    const stats = await lstat(path).catch(() => undefined);
    if (stats === undefined) continue;
    if (!stats.isDirectory()) return true;
    for (const name of ['trusted.overlay.opaque', 'user.overlay.opaque']) {
      const value = await getAttribute(path, name).catch(() => null);
      if (value?.toString() === 'y') return true;
    }
  }
  return false;
}

/** An empty image (`FROM scratch`). */
export const EMPTY_ROOTFS: RootfsView = {
  stat: async () => undefined,
  readFile: async () => undefined,
};
