/** Helpers for layer tests: a real blob store, tar archives with chosen (hostile) entries, commands. */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { BlobStoreSink, BlobStoreSource } from '../../src/build/layers/blob-sink.js';
import { encodeHeader, END_OF_ARCHIVE, padding, type TarHeader } from '../../src/build/layers/tar/format.js';
import { FilesystemBlobStore } from '../../src/storage/filesystem/filesystem-store.js';

export interface TestStore {
  readonly root: string;
  readonly store: FilesystemBlobStore;
  readonly sink: BlobStoreSink;
  readonly source: BlobStoreSource;
  cleanup(): Promise<void>;
}

export async function testStore(): Promise<TestStore> {
  const root = await mkdtemp(join(tmpdir(), 'cairn-layers-store-'));
  const store = new FilesystemBlobStore(root);
  await store.check();
  return {
    root,
    store,
    sink: new BlobStoreSink(store),
    source: new BlobStoreSource(store),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

export type TarSpec = Partial<TarHeader> & { readonly name: string; readonly content?: string };

/** A tar archive of exactly these entries (for inputs a normal tool would refuse to write). */
export function tarOf(entries: readonly TarSpec[]): Buffer {
  const parts: Buffer[] = [];
  for (const spec of entries) {
    const content = Buffer.from(spec.content ?? '');
    const type = spec.type ?? 'file';
    const header: TarHeader = {
      type,
      mode: spec.mode ?? (type === 'dir' ? 0o755 : 0o644),
      uid: spec.uid ?? 0,
      gid: spec.gid ?? 0,
      size: type === 'file' ? content.length : 0,
      mtime: spec.mtime ?? 1_700_000_000,
      linkname: spec.linkname ?? '',
      devmajor: 0,
      devminor: 0,
      xattrs: spec.xattrs ?? new Map(),
      name: spec.name,
    };
    parts.push(encodeHeader(header));
    if (type === 'file') parts.push(content, padding(content.length));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

export function streamOf(bytes: Buffer): Readable {
  return Readable.from([bytes]);
}

export function run(cmd: string, args: readonly string[], input?: Buffer): string {
  const result = spawnSync(cmd, args, { input, encoding: 'buffer', timeout: 120_000 });
  if (result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${result.status ?? result.signal}): ${result.stderr?.toString()}`);
  }
  return result.stdout.toString();
}
