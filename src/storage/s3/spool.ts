/**
 * Local disk for the S3 backend: where incoming bytes wait until they make a whole part, and a
 * small cache of each upload's tail (the bytes after its last full part).
 *
 * Why disk and not memory: a part is several MiB and many uploads run at once; and a part read
 * back from a file can be sent again when S3 asks for a retry, which a request stream cannot.
 *
 * Bounds: an append holds at most two part-sized files (one uploading, one filling). Cached
 * tails are kept up to `cacheBytes` in total, least recently used dropped first. The cache only
 * saves a download: every tail also lives in S3, so another replica can continue the upload.
 *
 * Each process spools into its own directory `<root>/<pid>-<random>`; directories left by
 * processes that no longer run are removed at start.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';

export class SpoolFile {
  length = 0;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  static async create(path: string): Promise<SpoolFile> {
    return new SpoolFile(path, await open(path, 'w+'));
  }

  /** Writes `data` at `position` (which may leave a hole before it, filled later). */
  async write(data: Uint8Array, position: number): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, position + done);
      done += bytesWritten;
    }
    this.length = Math.max(this.length, position + data.length);
  }

  /** A body for the S3 client: bytes [start, end) of the file, reopenable for retries. */
  range(start = 0, end = this.length): { length: number; open(): Readable } {
    const path = this.path;
    return {
      length: end - start,
      open: () => createReadStream(path, { start, end: end - 1, highWaterMark: 1024 * 1024 }),
    };
  }

  async discard(): Promise<void> {
    await this.handle.close().catch(() => undefined);
    await rm(this.path, { force: true });
  }
}

interface CachedTail {
  readonly file: SpoolFile;
  /** The upload bytes the file holds: [start, start + file.length). */
  readonly start: number;
}

export class Spool {
  private readonly dir: string;
  private readonly tails = new Map<string, CachedTail>();
  private ready: Promise<void> | undefined;

  constructor(
    private readonly root: string,
    private readonly cacheBytes: number,
  ) {
    this.dir = join(root, `${process.pid}-${randomBytes(4).toString('hex')}`);
  }

  async file(): Promise<SpoolFile> {
    this.ready ??= this.prepare();
    await this.ready;
    return SpoolFile.create(join(this.dir, randomBytes(8).toString('hex')));
  }

  /**
   * Takes the cached tail of `id` if it holds exactly the upload bytes [start, end); the caller
   * then owns the file (and gives it back with `keepTail` or discards it).
   */
  takeTail(id: string, start: number, end: number): SpoolFile | undefined {
    const cached = this.tails.get(id);
    if (!cached) return undefined;
    this.tails.delete(id);
    if (cached.start === start && cached.start + cached.file.length === end) return cached.file;
    void cached.file.discard();
    return undefined;
  }

  /** Keeps `file` as the tail of `id` (bytes from `start`), within the cache budget. */
  keepTail(id: string, file: SpoolFile, start: number): void {
    this.dropTail(id);
    this.tails.set(id, { file, start });
    let total = 0;
    for (const entry of this.tails.values()) total += entry.file.length;
    for (const [key, entry] of this.tails) {
      if (total <= this.cacheBytes) break;
      total -= entry.file.length;
      this.tails.delete(key);
      void entry.file.discard();
    }
  }

  dropTail(id: string): void {
    const cached = this.tails.get(id);
    this.tails.delete(id);
    if (cached) void cached.file.discard();
  }

  async close(): Promise<void> {
    for (const id of [...this.tails.keys()]) this.dropTail(id);
    await rm(this.dir, { recursive: true, force: true });
  }

  private async prepare(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const entry of await readdir(this.root)) {
      const pid = Number(entry.split('-')[0]);
      if (Number.isInteger(pid) && pid !== process.pid && !isRunning(pid)) {
        await rm(join(this.root, entry), { recursive: true, force: true });
      }
    }
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
