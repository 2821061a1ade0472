/**
 * A read-only merged view of a stack of snapshots, for what reads an image's files without running
 * it: `COPY --from=<stage or image>` takes its sources from here. One directory is used as it is
 * (the bottom layer has nothing to hide); more are mounted as a read-only overlay (the kernel
 * applies the whiteouts) for the duration of `use`, then unmounted, also when `use` fails.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function withMergedRootfs<T>(lowerDirs: readonly string[], use: (root: string) => Promise<T>): Promise<T> {
  if (lowerDirs.length === 1) return use(lowerDirs[0]!);
  const root = await mkdtemp(join(tmpdir(), 'cairn-rootfs-'));
  try {
    if (lowerDirs.length === 0) return await use(root); // FROM scratch: nothing
    // overlayfs lists lowerdirs topmost first.
    await command('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${[...lowerDirs].reverse().join(':')}`, root]);
    try {
      return await use(root);
    } finally {
      await command('umount', [root]);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

function command(program: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${program} failed (${code}): ${stderr.trim()}`))));
  });
}
