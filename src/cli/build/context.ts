/**
 * Packs a build context as a tar stream, as Docker sends one: the files under CONTEXT minus what
 * .dockerignore leaves out (the Dockerfile is always sent: the builder reads it), with their
 * modes, times, and symlinks as links (never followed). Streamed: nothing is held whole.
 */
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import tar from 'tar-stream';
import { parseDockerignore } from '../../build/context/dockerignore.js';

/** Paths in the context, sorted, that are sent (for tests and the packer). */
export async function contextEntries(root: string, dockerfile: string): Promise<string[]> {
  const matcher = parseDockerignore(await readFile(join(root, '.dockerignore'), 'utf8').catch(() => ''), { dockerfile });
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const names = (await readdir(join(root, dir))).sort();
    for (const name of names) {
      const path = dir ? `${dir}/${name}` : name;
      const stat = await lstat(join(root, path));
      const packed = matcher.packs(path);
      if (packed) out.push(path);
      if (stat.isDirectory() && (packed || matcher.mayReinclude(path))) await walk(path);
    }
  };
  await walk('');
  return out;
}

/** The context as a tar stream. */
export function packContext(root: string, entries: readonly string[]): Readable {
  const pack = tar.pack();
  void (async () => {
    for (const path of entries) {
      const full = join(root, path);
      const stat = await lstat(full);
      const header = { name: path, mode: stat.mode & 0o7777, mtime: stat.mtime, uid: stat.uid, gid: stat.gid };
      if (stat.isDirectory()) pack.entry({ ...header, type: 'directory' });
      else if (stat.isSymbolicLink()) pack.entry({ ...header, type: 'symlink', linkname: await readlink(full) });
      else if (stat.isFile()) {
        const entry = pack.entry({ ...header, type: 'file', size: stat.size });
        await pipeline(createReadStream(full), entry);
      }
    }
    pack.finalize();
  })().catch((error: unknown) => pack.destroy(error as Error));
  return pack as unknown as Readable;
}
