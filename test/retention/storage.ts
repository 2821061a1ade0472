/**
 * What a test server's blob storage holds, read from the storage itself (files under <dataDir>, or objects
 * under the server's S3 prefix), never from Cairn: the measure the retention end-to-end tests hold the
 * plan's bytesFreed to.
 */
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import type { StartedCairn } from '../support/registry.js';
import { SERVER_BUCKET, operations, s3Target, testStorage } from '../support/s3.js';

/** Every stored object (blobs, and uploads if any) with its size, by its key or path relative to the data directory. */
export async function storedObjects(server: StartedCairn): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (testStorage() === 's3') {
    assert.ok(server.logs.some((line) => line.includes('"storage":"s3"')), 'the server reports S3 storage');
    const target = s3Target();
    assert.ok(target, 'CAIRN_TEST_STORAGE=s3 needs CAIRN_TEST_S3_ENDPOINT');
    const ops = operations(target, SERVER_BUCKET);
    try {
      const prefix = `${basename(server.dataDir)}/`;
      for await (const object of ops.list(prefix)) out.set(object.key.slice(prefix.length), object.size);
    } finally {
      await ops.client.close();
    }
    return out;
  }
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) out.set(relative(server.dataDir, path), (await stat(path)).size);
    }
  };
  await walk(join(server.dataDir, 'blobs'));
  return out;
}

export async function storedBytes(server: StartedCairn): Promise<number> {
  return [...(await storedObjects(server)).values()].reduce((sum, size) => sum + size, 0);
}

/** The blob digest a stored object holds (blobs/sha256/<hex>, with or without a fan-out directory), or undefined. */
export function blobOfKey(key: string): string | undefined {
  const match = /(?:^|\/)blobs\/sha256\/(?:[0-9a-f]{2}\/)?([0-9a-f]{64})$/.exec(key);
  return match ? `sha256:${match[1]}` : undefined;
}
