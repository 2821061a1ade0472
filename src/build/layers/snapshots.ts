/**
 * The local snapshot cache: layers extracted into directories for overlayfs, under a byte budget.
 *
 *   <root>/<hex of diffID>/fs      the extracted layer (the lowerdir handed to the executor)
 *   <root>/<hex of diffID>/size    its size on disk in bytes (written last: the mark of a whole one)
 *   <root>/tmp-<pid>-<random>/     an extraction in progress, renamed into place when done
 *   <root>/trash-<pid>-<random>/   an evicted snapshot being removed
 *
 * A layer is extracted on first acquire only (lazy), once however many acquire it at the same
 * time, into a temporary directory renamed into place when whole, so a crash never leaves a half
 * snapshot under a real name; leftovers of dead processes are removed at start. Eviction takes the
 * least recently used snapshots nobody holds until the total is within the budget; a snapshot
 * in use may push the total above it for as long as it is held.
 *
 * One process owns a root: give each worker process its own (they would evict each other's).
 */
import { lstat, mkdir, readdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { Transform } from 'node:stream';
import { openDecompressed } from './compression.js';
import { LayerDigestMismatchError } from './errors.js';
import { extractTar } from './extract.js';
import type { BlobSource, LayerDescriptor, Snapshots } from './layers.js';

export interface SnapshotCacheOptions {
  /** DATA_DIR/worker/snapshots (created if missing). */
  readonly root: string;
  readonly budgetBytes: number;
}

interface Entry {
  readonly key: string;
  readonly dir: string;
  size: number;
  lastUsed: number;
  holders: number;
}

export interface SnapshotStats {
  readonly snapshots: number;
  readonly bytes: number;
  /** Layers extracted by this process since it started. */
  readonly extractions: number;
}

export class SnapshotCache implements Snapshots {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Entry>>();
  private loaded: Promise<void> | undefined;
  private extractions = 0;

  constructor(private readonly options: SnapshotCacheOptions) {}

  async acquire(layer: LayerDescriptor, source: BlobSource): Promise<{ dir: string; release(): void }> {
    await this.load();
    const key = keyOf(layer.diffId);
    let entry = this.entries.get(key);
    if (entry === undefined) {
      let extraction = this.pending.get(key);
      if (extraction === undefined) {
        extraction = this.extract(key, layer, source).finally(() => this.pending.delete(key));
        this.pending.set(key, extraction);
      }
      entry = await extraction;
    }
    entry.holders += 1;
    entry.lastUsed = Date.now();
    await this.evict();
    const held = entry;
    let released = false;
    return {
      dir: join(held.dir, 'fs'),
      release: () => {
        if (released) return;
        released = true;
        held.holders -= 1;
        held.lastUsed = Date.now();
        // The stamp orders snapshots after a restart; losing it only ages the snapshot.
        utimes(held.dir, new Date(), new Date()).catch(() => {});
        void this.evict().catch(() => {});
      },
    };
  }

  stats(): SnapshotStats {
    let bytes = 0;
    for (const entry of this.entries.values()) bytes += entry.size;
    return { snapshots: this.entries.size, bytes, extractions: this.extractions };
  }

  /** Reads what earlier processes left: whole snapshots are kept, everything else removed. */
  private load(): Promise<void> {
    this.loaded ??= (async () => {
      await mkdir(this.options.root, { recursive: true });
      for (const name of await readdir(this.options.root)) {
        const dir = join(this.options.root, name);
        if (/^[0-9a-f]{64}$/.test(name)) {
          const size = Number(await readFile(join(dir, 'size'), 'utf8').catch(() => 'NaN'));
          if (Number.isSafeInteger(size)) {
            const stats = await lstat(dir);
            this.entries.set(name, { key: name, dir, size, lastUsed: stats.mtimeMs, holders: 0 });
            continue;
          }
        } else if (!ownedByLiveProcess(name)) {
          // fall through to removal
        } else {
          continue;
        }
        await rm(dir, { recursive: true, force: true });
      }
    })();
    return this.loaded;
  }

  private async extract(key: string, layer: LayerDescriptor, source: BlobSource): Promise<Entry> {
    const temp = join(this.options.root, `tmp-${process.pid}-${randomBytes(6).toString('hex')}`);
    await mkdir(join(temp, 'fs'), { recursive: true });
    try {
      const hash = createHash('sha256');
      const hashing = new Transform({
        transform(chunk: Buffer, _encoding, callback) {
          hash.update(chunk);
          callback(null, chunk);
        },
      });
      const { stream } = await openDecompressed(await source.read(layer.digest));
      const tar = stream.pipe(hashing);
      stream.on('error', (error) => hashing.destroy(error));
      await extractTar(tar, join(temp, 'fs'), { whiteouts: 'overlay', owners: 'archive' });
      const actual = `sha256:${hash.digest('hex')}`;
      if (actual !== layer.diffId) throw new LayerDigestMismatchError(layer.diffId, actual);
      const size = await diskUsage(join(temp, 'fs'));
      await writeFile(join(temp, 'size'), String(size));
      const dir = join(this.options.root, key);
      await rename(temp, dir);
      this.extractions += 1;
      const entry: Entry = { key, dir, size, lastUsed: Date.now(), holders: 0 };
      this.entries.set(key, entry);
      return entry;
    } catch (error) {
      await rm(temp, { recursive: true, force: true });
      throw error;
    }
  }

  private async evict(): Promise<void> {
    let total = 0;
    for (const entry of this.entries.values()) total += entry.size;
    if (total <= this.options.budgetBytes) return;
    const idle = [...this.entries.values()].filter((e) => e.holders === 0).sort((a, b) => a.lastUsed - b.lastUsed);
    for (const entry of idle) {
      if (total <= this.options.budgetBytes) break;
      this.entries.delete(entry.key);
      total -= entry.size;
      const trash = join(this.options.root, `trash-${process.pid}-${randomBytes(6).toString('hex')}`);
      await rename(entry.dir, trash);
      await rm(trash, { recursive: true, force: true });
    }
  }
}

function keyOf(diffId: string): string {
  const match = /^sha256:([0-9a-f]{64})$/.exec(diffId);
  if (!match) throw new Error(`not a sha256 diffID: ${diffId}`);
  return match[1]!;
}

/** tmp-/trash- names carry their process id: a live process's work is left alone. */
function ownedByLiveProcess(name: string): boolean {
  const pid = Number(/^(?:tmp|trash)-(\d+)-/.exec(name)?.[1]);
  if (!Number.isSafeInteger(pid) || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Bytes the tree takes on disk (allocated blocks), each hard-linked inode once. */
export async function diskUsage(dir: string): Promise<number> {
  const seen = new Set<string>();
  let total = 0;
  const visit = async (path: string): Promise<void> => {
    const stats = await lstat(path);
    if (stats.nlink > 1 && !stats.isDirectory()) {
      const key = `${stats.dev}:${stats.ino}`;
      if (seen.has(key)) return;
      seen.add(key);
    }
    total += stats.blocks * 512;
    if (stats.isDirectory()) for (const name of await readdir(path)) await visit(join(path, name));
  };
  await visit(dir);
  return total;
}
