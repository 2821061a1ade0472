/** The embedded database directory lock, in-process: the kernel's lock conflicts even between two descriptors of one process. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DatabaseDirectoryInUseError, lockDatabaseDirectory } from '../../src/metadata/directory-lock.js';

test('held until released; the refusal names the holder; the file is never removed', async () => {
  const root = await mkdtemp(join(tmpdir(), 'cairn-lock-'));
  const directory = join(root, 'pglite');
  try {
    const lock = await lockDatabaseDirectory(directory);
    assert.equal(lock.path, `${directory}.lock`);
    assert.equal((JSON.parse(await readFile(lock.path, 'utf8')) as { pid: number }).pid, process.pid);
    await assert.rejects(lockDatabaseDirectory(directory), (error: unknown) => {
      assert.ok(error instanceof DatabaseDirectoryInUseError);
      assert.equal(error.directory, directory);
      assert.equal(error.holder?.pid, process.pid);
      return true;
    });
    await lock.release();
    await lock.release();
    assert.equal(await readFile(lock.path, 'utf8'), '', 'released: no holder recorded, file kept');
    const again = await lockDatabaseDirectory(directory);
    await again.release();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
