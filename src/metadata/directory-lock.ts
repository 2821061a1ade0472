/**
 * One process per embedded database directory.
 *
 * PGlite is PostgreSQL in single-user mode inside this process, with no shared memory or
 * postmaster to notice a second opener: two processes on one directory each believe they own it
 * and overwrite each other's pages (rows lost after a restart, duplicate-key failures at the next
 * start, WebAssembly crashes). So whoever opens the directory first holds a lock until it exits.
 *
 * The lock is the kernel's, not a convention: an open-file-description lock (Linux
 * `F_OFD_SETLK`; `flock` on macOS) on `<dir>.lock`, taken with `fs-native-extensions`. The kernel
 * drops it when the holder's descriptor closes — on exit, crash or `kill -9` — so a lock is never
 * stale, a reused PID cannot fake a holder, two processes racing for it are settled by the
 * kernel, and it holds between containers that share a volume. The file sits beside the
 * directory (PGlite's initdb wants an empty directory) and is never deleted: unlinking a lock file
 * lets a late opener lock the old inode while a newcomer locks a new one. The holder writes its
 * PID, host and start time into it, only so that a refusal can say who holds it.
 *
 * PostgreSQL (`DATABASE_URL`) needs none of this: it arbitrates its own clients.
 */
import { hostname } from 'node:os';
import { constants } from 'node:fs';
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  /** ISO time the holder took the lock. */
  readonly since: string;
}

/** Another live process holds the directory. `holder` is undefined if it has not said who it is yet. */
export class DatabaseDirectoryInUseError extends Error {
  override readonly name = 'DatabaseDirectoryInUseError';
  constructor(
    readonly directory: string,
    readonly holder: LockHolder | undefined,
  ) {
    super(`${directory} is in use by ${holder ? `PID ${holder.pid} on ${holder.host}` : 'another process'}`);
  }
}

/** The platform gives Node no file lock (no prebuilt `fs-native-extensions` for it). */
export class FileLockingUnavailableError extends Error {
  override readonly name = 'FileLockingUnavailableError';
}

export interface DirectoryLock {
  readonly path: string;
  /** Gives the lock up (closing the descriptor is what releases it). Idempotent. */
  release(): Promise<void>;
}

interface FileLocks {
  tryLock(fd: number): boolean;
}

/** Takes the lock on `directory` or throws DatabaseDirectoryInUseError naming the holder. */
export async function lockDatabaseDirectory(directory: string): Promise<DirectoryLock> {
  const locks = await loadFileLocks();
  const path = `${directory}.lock`;
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(path, constants.O_RDWR | constants.O_CREAT, 0o644);
  let locked: boolean;
  try {
    locked = locks.tryLock(handle.fd);
  } catch (error) {
    await handle.close();
    throw error;
  }
  if (!locked) {
    const holder = await readHolder(handle);
    await handle.close();
    throw new DatabaseDirectoryInUseError(directory, holder);
  }
  const me: LockHolder = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  await handle.truncate(0);
  await handle.write(`${JSON.stringify(me)}\n`, 0);
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      await handle.truncate(0).catch(() => undefined);
      await handle.close();
    },
  };
}

/**
 * The holder writes its record just after taking the lock, so an empty file means "just taken":
 * look again a few times before giving up on naming it.
 */
async function readHolder(handle: FileHandle): Promise<LockHolder | undefined> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const { buffer, bytesRead } = await handle.read({ buffer: Buffer.alloc(1024), position: 0 });
    const holder = parseHolder(buffer.subarray(0, bytesRead).toString('utf8'));
    if (holder) return holder;
    await sleep(20);
  }
  return undefined;
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const parsed = JSON.parse(text) as Partial<LockHolder>;
    if (Number.isInteger(parsed.pid) && typeof parsed.host === 'string' && typeof parsed.since === 'string') return parsed as LockHolder;
  } catch {
    // empty or half-written: not yet recorded
  }
  return undefined;
}

let fileLocks: Promise<FileLocks> | undefined;

/** Loaded on first use: a native addon, needed only for the embedded database. */
function loadFileLocks(): Promise<FileLocks> {
  fileLocks ??= import('fs-native-extensions').then(
    (module) => (module.default ?? module) as FileLocks,
    (error: unknown) => {
      fileLocks = undefined;
      throw new FileLockingUnavailableError(
        `cannot lock files on this platform (${process.platform}-${process.arch}): ${(error as Error).message.split('\n')[0]}`,
      );
    },
  );
  return fileLocks;
}
