#!/usr/bin/env node
// Layer writer and snapshot extraction, side by side with GNU tar + gzip (what a shell would do):
//   npm run build && node bench/layers.mjs            (BENCH_FILES, BENCH_FILE_BYTES to change the tree)
// A tree of many small files and a few large ones is written as a gzip layer into a filesystem blob
// store (tar → sha256 → gzip → store), then extracted by the snapshot cache; GNU tar does the same
// two jobs with `tar -czf` and `tar -xzf`. Prints wall-clock seconds of each and their ratio.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

const dist = new URL('../dist/src/', import.meta.url);
const { TarLayerWriter } = await import(new URL('build/layers/writer.js', dist));
const { SnapshotCache } = await import(new URL('build/layers/snapshots.js', dist));
const { BlobStoreSink, BlobStoreSource } = await import(new URL('build/layers/blob-sink.js', dist));
const { FilesystemBlobStore } = await import(new URL('storage/filesystem/filesystem-store.js', dist));

const files = Number(process.env.BENCH_FILES ?? 5000);
const fileBytes = Number(process.env.BENCH_FILE_BYTES ?? 4096);
const work = mkdtempSync(join(tmpdir(), 'cairn-bench-layers-'));
try {
  const tree = join(work, 'tree');
  for (let i = 0; i < files; i++) {
    const dir = join(tree, `d${i % 50}`);
    mkdirSync(dir, { recursive: true });
    // Half random (incompressible), half text: a mix like source trees and binaries.
    writeFileSync(join(dir, `f${i}`), i % 2 ? randomBytes(fileBytes) : 'x'.repeat(fileBytes));
  }
  for (let i = 0; i < 4; i++) writeFileSync(join(tree, `big${i}`), randomBytes(16 * 1024 * 1024));
  const megabytes = (files * fileBytes + 64 * 1024 * 1024) / 1024 / 1024;

  const store = new FilesystemBlobStore(join(work, 'store'));
  await store.check();
  const time = async (fn) => {
    const start = process.hrtime.bigint();
    const result = await fn();
    return { seconds: Number(process.hrtime.bigint() - start) / 1e9, result };
  };
  const write = await time(() => new TarLayerWriter().fromUpperDir(tree, new BlobStoreSink(store), { compression: 'gzip' }));
  const cache = new SnapshotCache({ root: join(work, 'snapshots'), budgetBytes: 1e12 });
  const extract = await time(() => cache.acquire(write.result, new BlobStoreSource(store)));
  const gnuWrite = await time(() => execFileSync('sh', ['-c', `tar -C ${tree} -cf - . | gzip -6 > ${work}/gnu.tar.gz`]));
  mkdirSync(join(work, 'gnu-x'));
  const gnuExtract = await time(() => execFileSync('tar', ['-C', join(work, 'gnu-x'), '-xzf', join(work, 'gnu.tar.gz')]));

  const row = (name, ours, theirs) =>
    console.log(`${name.padEnd(22)} ${ours.toFixed(3).padStart(8)} s ${theirs.toFixed(3).padStart(8)} s ${(ours / theirs).toFixed(2).padStart(6)}×`);
  console.log(`tree: ${files} files of ${fileBytes} B + 4 × 16 MiB (${megabytes.toFixed(0)} MiB)`);
  console.log(`${'step'.padEnd(22)} ${'cairn'.padStart(10)} ${'GNU tar'.padStart(10)} ${'ratio'.padStart(7)}`);
  row('write gzip layer', write.seconds, gnuWrite.seconds);
  row('extract snapshot', extract.seconds, gnuExtract.seconds);
} finally {
  rmSync(work, { recursive: true, force: true });
}
