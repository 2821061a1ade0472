/**
 * How many bytes a step has written, measured as what its layer will take: each entry of the
 * upper directory costs a 512-byte tar header plus its contents rounded up to 512 bytes. Counting
 * apparent sizes (not allocated blocks) makes a sparse file cost what it will cost in the layer,
 * and the header makes a flood of empty files cost something too.
 */
import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

const BLOCK = 512;
/** Entries stat'ed at once: enough to hide latency, few enough to leave the event loop free. */
const PARALLEL = 64;

/** The layer size of `dir`'s contents; stops early once `stopAbove` is exceeded. */
export async function layerBytes(dir: string, stopAbove = Number.POSITIVE_INFINITY): Promise<number> {
  let total = 0;
  const pending: string[] = [dir];
  while (pending.length > 0 && total <= stopAbove) {
    const current = pending.pop()!;
    const entries = await readdir(current, { withFileTypes: true }).catch(() => []);
    for (let i = 0; i < entries.length; i += PARALLEL) {
      const batch = entries.slice(i, i + PARALLEL);
      const sizes = await Promise.all(
        batch.map(async (entry) => {
          const path = join(current, entry.name);
          if (entry.isDirectory()) {
            pending.push(path);
            return BLOCK;
          }
          if (!entry.isFile()) return BLOCK;
          const stats = await lstat(path).catch(() => undefined);
          return BLOCK + Math.ceil((stats?.size ?? 0) / BLOCK) * BLOCK;
        }),
      );
      for (const size of sizes) total += size;
    }
  }
  return total;
}
