/**
 * The layer writer and the snapshot cache on real parts: a filesystem blob store, overlayfs
 * mounts made by the kernel (the machine is root), GNU tar reading the layers back.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, link, lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { getAttribute, setAttribute } from '@napi-rs/xattr';
import { LayerDigestMismatchError, PathOutsideRootError, UnsupportedUpperError } from '../../src/build/layers/errors.js';
import type { LayerDescriptor } from '../../src/build/layers/layers.js';
import { SnapshotCache } from '../../src/build/layers/snapshots.js';
import { readTar } from '../../src/build/layers/tar/reader.js';
import { TarLayerWriter } from '../../src/build/layers/writer.js';
import { copyToUpper } from '../../src/build/layers/copy.js';
import { withMergedRootfs } from '../../src/build/layers/merged.js';
import { EMPTY_ROOTFS } from '../../src/build/layers/rootfs.js';
import { run, testStore, tarOf, type TestStore } from '../support/layers.js';
import * as zlib from 'node:zlib';
import { gzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';

const writer = new TarLayerWriter();
// security.capability v2: cap_net_bind_service (bit 10) and cap_setuid (bit 7, a byte ≥ 0x80) permitted.
const CAPABILITY = Buffer.from('0100000280040000000000000000000000000000', 'hex');
CAPABILITY.writeUInt32LE(0x480, 4);

let work: string;
let store: TestStore;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'cairn-layers-'));
  store = await testStore();
});
after(async () => {
  await rm(work, { recursive: true, force: true });
  await store.cleanup();
});

async function dir(name: string): Promise<string> {
  const path = join(work, name);
  await mkdir(path, { recursive: true });
  return path;
}

async function layerEntries(layer: LayerDescriptor): Promise<Array<{ name: string; type: string; linkname: string; mtime: number; mode: number; xattrs: Map<string, Buffer>; content: string }>> {
  const { openDecompressed } = await import('../../src/build/layers/compression.js');
  const { stream } = await openDecompressed(await store.source.read(layer.digest));
  const entries = [];
  for await (const entry of readTar(stream)) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry.data) chunks.push(chunk);
    const h = entry.header;
    entries.push({ name: h.name, type: h.type, linkname: h.linkname, mtime: h.mtime, mode: h.mode, xattrs: new Map(h.xattrs), content: Buffer.concat(chunks).toString() });
  }
  return entries;
}

async function blobBytes(digest: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.source.read(digest)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('layer writer', () => {
  test('an empty upper directory makes no layer', async () => {
    assert.equal(await writer.fromUpperDir(await dir('empty'), store.sink, { compression: 'gzip' }), undefined);
  });

  test('the same tree gives the same bytes; digest and diffID are those of the stored blob', async () => {
    const upper = await dir('determinism');
    await mkdir(join(upper, 'b/c'), { recursive: true });
    await writeFile(join(upper, 'b/c/z'), 'z');
    await writeFile(join(upper, 'a'), 'a'.repeat(300_000));
    await writeFile(join(upper, 'b.txt'), 'b');
    const first = await writer.fromUpperDir(upper, store.sink, { compression: 'gzip' });
    const second = await writer.fromUpperDir(upper, store.sink, { compression: 'gzip' });
    assert.ok(first);
    assert.deepEqual(second, first);
    const blob = await blobBytes(first.digest);
    assert.equal(first.size, blob.length);
    assert.equal(first.digest, `sha256:${createHash('sha256').update(blob).digest('hex')}`);
    const tar = execFileSync('gzip', ['-dc'], { input: blob });
    assert.equal(first.diffId, `sha256:${createHash('sha256').update(tar).digest('hex')}`);
    assert.equal(blob[3], 0, 'no file name or other flags in the gzip header');
    assert.equal(blob.readUInt32LE(4), 0, 'no mtime in the gzip header');
    // BuildKit's order: a directory before its contents, names bytewise ("b/" before "b.txt").
    const names = run('tar', ['-tzf', '-'], blob).trim().split('\n');
    assert.deepEqual(names, ['a', 'b/', 'b/c/', 'b/c/z', 'b.txt']);
  });

  test('zstd is refused with a clear error on a Node.js without it', { skip: 'createZstdCompress' in zlib }, async () => {
    await assert.rejects(writer.fromUpperDir(await dir('determinism'), store.sink, { compression: 'zstd' }), /zstd needs Node\.js 22\.15/);
  });

  test('hard links, symlinks, devices, capability xattrs and modes are written as on disk', async () => {
    const upper = await dir('kinds');
    await mkdir(join(upper, 'bin'));
    await writeFile(join(upper, 'bin/tool'), 'tool');
    await chmod(join(upper, 'bin/tool'), 0o4755);
    await setAttribute(join(upper, 'bin/tool'), 'security.capability', CAPABILITY);
    await link(join(upper, 'bin/tool'), join(upper, 'bin/tool2'));
    await symlink('tool', join(upper, 'bin/alias'));
    run('mknod', [join(upper, 'bin/null'), 'c', '1', '3']);
    run('chown', ['-h', '1000:2000', join(upper, 'bin/alias')]);
    const layer = await writer.fromUpperDir(upper, store.sink, { compression: 'gzip' });
    assert.ok(layer);
    const entries = await layerEntries(layer);
    const byName = new Map(entries.map((e) => [e.name, e]));
    assert.equal(byName.get('bin/tool')?.type, 'file');
    assert.equal(byName.get('bin/tool')?.mode, 0o4755);
    assert.deepEqual(byName.get('bin/tool')?.xattrs.get('security.capability'), CAPABILITY);
    assert.deepEqual({ type: byName.get('bin/tool2')?.type, to: byName.get('bin/tool2')?.linkname }, { type: 'link', to: 'bin/tool' });
    assert.deepEqual({ type: byName.get('bin/alias')?.type, to: byName.get('bin/alias')?.linkname }, { type: 'symlink', to: 'tool' });
    assert.equal(byName.get('bin/null')?.type, 'char');
    // GNU tar reads the same.
    const listing = run('tar', ['-tvzf', '-'], await blobBytes(layer.digest));
    assert.match(listing, /^-rwsr-xr-x 0\/0 +4 .* bin\/tool$/m);
    assert.match(listing, /bin\/tool2 link to bin\/tool/);
    assert.match(listing, /^lrwxrwxrwx 1000\/2000 .* bin\/alias -> tool$/m);
    assert.match(listing, /^crw-r--r-- 0\/0 +1,3 .* bin\/null$/m);
  });

  test('an upper directory with overlayfs metacopy or redirect references is refused', async () => {
    const upper = await dir('metacopy');
    await writeFile(join(upper, 'f'), '');
    await setAttribute(join(upper, 'f'), 'trusted.overlay.metacopy', Buffer.alloc(0));
    await assert.rejects(writer.fromUpperDir(upper, store.sink, { compression: 'gzip' }), /"f" in the upper directory is an overlayfs metacopy reference; mount with metacopy=off/);
    const redirected = await dir('redirect');
    await mkdir(join(redirected, 'moved'));
    await setAttribute(join(redirected, 'moved'), 'trusted.overlay.redirect', '/orig');
    await assert.rejects(writer.fromUpperDir(redirected, store.sink, { compression: 'gzip' }), UnsupportedUpperError);
  });

  test('SOURCE_DATE_EPOCH clamps newer times and keeps older ones; whiteouts get it too', async () => {
    const upper = await dir('epoch');
    await writeFile(join(upper, 'old'), 'old');
    await writeFile(join(upper, 'new'), 'new');
    await utimes(join(upper, 'old'), 1_000_000, 1_000_000.75);
    run('mknod', [join(upper, 'deleted'), 'c', '0', '0']);
    const epoch = 1_500_000_000;
    const layer = await writer.fromUpperDir(upper, store.sink, { compression: 'gzip', sourceDateEpoch: epoch });
    assert.ok(layer);
    const mtimes = Object.fromEntries((await layerEntries(layer)).map((e) => [e.name, e.mtime]));
    assert.deepEqual(mtimes, { '.wh.deleted': epoch, new: epoch, old: 1_000_000 });
  });
});

describe('snapshots', () => {
  test('whiteouts and opaque directories round-trip: an overlay of the snapshots hides what the step removed', async () => {
    // The base layer, then a step run on a real overlay mount that deletes, and recreates a directory.
    const base = await dir('rt-base');
    await mkdir(join(base, 'etc/conf.d'), { recursive: true });
    await writeFile(join(base, 'keep'), 'keep');
    await writeFile(join(base, 'gone'), 'gone');
    await writeFile(join(base, 'etc/conf.d/old'), 'old');
    const upper = await dir('rt-upper');
    const workdir = await dir('rt-work');
    const merged = await dir('rt-merged');
    run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${base},upperdir=${upper},workdir=${workdir}`, merged]);
    try {
      await rm(join(merged, 'gone'));
      await rm(join(merged, 'etc/conf.d'), { recursive: true });
      await mkdir(join(merged, 'etc/conf.d'));
      await writeFile(join(merged, 'etc/conf.d/new'), 'new');
    } finally {
      run('umount', [merged]);
    }
    const baseLayer = await writer.fromUpperDir(base, store.sink, { compression: 'gzip' });
    const stepLayer = await writer.fromUpperDir(upper, store.sink, { compression: 'gzip' });
    assert.ok(baseLayer && stepLayer);
    const names = (await layerEntries(stepLayer)).map((e) => e.name);
    assert.ok(names.includes('.wh.gone'), names.join());
    assert.ok(names.includes('etc/conf.d/.wh..wh..opq'), names.join());

    const cache = new SnapshotCache({ root: await dir('rt-snapshots'), budgetBytes: 1 << 30 });
    const lower = await cache.acquire(baseLayer, store.source);
    const top = await cache.acquire(stepLayer, store.source);
    try {
      await withMergedRootfs([lower.dir, top.dir], async (view) => {
        assert.deepEqual((await readdir(view)).sort(), ['etc', 'keep']);
        assert.deepEqual(await readdir(join(view, 'etc/conf.d')), ['new']);
        assert.equal(await readFile(join(view, 'keep'), 'utf8'), 'keep');
        // COPY --from reads through the same view: the deleted file is not there to copy.
        const upperDir = await dir('rt-copy');
        await copyToUpper({ root: view, sources: ['etc'], dest: '/out/', workdir: '/', add: false, exclude: [] }, { upperDir, rootfs: EMPTY_ROOTFS });
        assert.deepEqual(await readdir(join(upperDir, 'out/conf.d')), ['new']);
        await assert.rejects(copyToUpper({ root: view, sources: ['gone'], dest: '/', workdir: '/', add: false, exclude: [] }, { upperDir, rootfs: EMPTY_ROOTFS }), /"gone" not found/);
      });
    } finally {
      lower.release();
      top.release();
    }
  });

  test('extraction keeps hard links, symlinks (not followed), modes, owners, capabilities and mtimes', async () => {
    const upper = await dir('x-upper');
    await writeFile(join(upper, 'tool'), 'tool');
    run('chown', ['123:456', join(upper, 'tool')]); // before chmod: chown clears setgid
    await chmod(join(upper, 'tool'), 0o2750);
    await setAttribute(join(upper, 'tool'), 'security.capability', CAPABILITY);
    await link(join(upper, 'tool'), join(upper, 'hard'));
    await symlink('/etc/passwd', join(upper, 'abs-link'));
    await utimes(join(upper, 'tool'), 1_234_567_890, 1_234_567_890);
    const layer = await writer.fromUpperDir(upper, store.sink, { compression: 'gzip' });
    assert.ok(layer);
    const cache = new SnapshotCache({ root: await dir('x-snapshots'), budgetBytes: 1 << 30 });
    const snapshot = await cache.acquire(layer, store.source);
    const tool = await lstat(join(snapshot.dir, 'tool'));
    assert.equal(tool.mode & 0o7777, 0o2750);
    assert.deepEqual([tool.uid, tool.gid, tool.nlink, tool.mtimeMs / 1000], [123, 456, 2, 1_234_567_890]);
    assert.equal((await lstat(join(snapshot.dir, 'hard'))).ino, tool.ino);
    assert.deepEqual(await getAttribute(join(snapshot.dir, 'tool'), 'security.capability'), CAPABILITY);
    assert.ok((await lstat(join(snapshot.dir, 'abs-link'))).isSymbolicLink());
    snapshot.release();
  });

  test('lazy, extracted once for concurrent acquires, evicted least recently used, never while in use', async () => {
    const layers: LayerDescriptor[] = [];
    for (const name of ['one', 'two', 'three']) {
      const upper = await dir(`lru-${name}`);
      await writeFile(join(upper, name), Buffer.alloc(64 * 1024, name));
      layers.push((await writer.fromUpperDir(upper, store.sink, { compression: 'gzip' }))!);
    }
    const root = await dir('lru-snapshots');
    // Budget for two of the three snapshots.
    const cache = new SnapshotCache({ root, budgetBytes: 2 * (64 * 1024 + 8 * 1024) + 1024 });
    assert.deepEqual(cache.stats(), { snapshots: 0, bytes: 0, extractions: 0 });

    const [a, b] = await Promise.all([cache.acquire(layers[0]!, store.source), cache.acquire(layers[0]!, store.source)]);
    assert.equal(a.dir, b.dir);
    assert.equal(cache.stats().extractions, 1);
    const two = await cache.acquire(layers[1]!, store.source);
    two.release();
    // "one" is held: taking "three" must evict "two" even though "one" is older.
    const three = await cache.acquire(layers[2]!, store.source);
    assert.ok(existsSync(a.dir), 'a snapshot in use stays');
    assert.ok(!existsSync(two.dir), 'the least recently used idle snapshot is evicted');
    a.release();
    b.release();
    three.release();
    assert.equal(cache.stats().extractions, 3);
    assert.ok(cache.stats().bytes <= 2 * (64 * 1024 + 8 * 1024) + 1024);
  });

  test('leftovers of a crashed extraction are removed, whole snapshots kept across restarts', async () => {
    const upper = await dir('restart-upper');
    await writeFile(join(upper, 'f'), 'f');
    const layer = (await writer.fromUpperDir(upper, store.sink, { compression: 'gzip' }))!;
    const root = await dir('restart-snapshots');
    const first = new SnapshotCache({ root, budgetBytes: 1 << 30 });
    (await first.acquire(layer, store.source)).release();
    await mkdir(join(root, 'tmp-999999999-abcdef/fs'), { recursive: true });
    const second = new SnapshotCache({ root, budgetBytes: 1 << 30 });
    const again = await second.acquire(layer, store.source);
    assert.equal(second.stats().extractions, 0, 'the snapshot on disk is reused');
    assert.equal(await readFile(join(again.dir, 'f'), 'utf8'), 'f');
    assert.ok(!existsSync(join(root, 'tmp-999999999-abcdef')));
    again.release();
  });

  test('a blob whose content does not match its diffID leaves no snapshot', async () => {
    const bytes = gzipSync(tarOf([{ name: 'f', content: 'f' }]));
    const { digest, size } = await store.sink.write(Readable.from([bytes]), 'x');
    const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size, diffId: `sha256:${'0'.repeat(64)}` };
    const root = await dir('mismatch-snapshots');
    const cache = new SnapshotCache({ root, budgetBytes: 1 << 30 });
    await assert.rejects(cache.acquire(layer, store.source), LayerDigestMismatchError);
    assert.deepEqual(await readdir(root), []);
  });

  for (const [label, entries, pattern] of [
    ['a ".." path', [{ name: '../escape', content: 'x' }], /"\.\.\/escape" climbs out/],
    ['an absolute path', [{ name: '/etc/escape', content: 'x' }], /"\/etc\/escape" is an absolute path/],
    ['a write through a symlink', [{ name: 'evil', type: 'symlink', linkname: '/tmp' }, { name: 'evil/escape', content: 'x' }], /"evil\/escape" would be written through the symlink "evil"/],
    ['a hard link out', [{ name: 'h', type: 'link', linkname: '../../etc/passwd' }], /climbs out/],
  ] as const) {
    test(`a layer with ${label} is refused and leaves nothing`, async () => {
      const tar = tarOf(entries as never);
      const { digest, size } = await store.sink.write(Readable.from([gzipSync(tar)]), 'x');
      const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
      const root = await dir(`hostile-${label.replace(/\W+/g, '-')}`);
      const cache = new SnapshotCache({ root, budgetBytes: 1 << 30 });
      await assert.rejects(cache.acquire({ mediaType: 'x', digest, size, diffId }, store.source), (error: Error) => {
        assert.ok(error instanceof PathOutsideRootError, String(error));
        assert.match(error.message, pattern);
        return true;
      });
      assert.deepEqual(await readdir(root), []);
      assert.ok(!existsSync('/tmp/escape'));
    });
  }
});
