/**
 * Cache mounts on disk: kept per repository and id, sharing modes, and the per-repository budget
 * in bytes and inodes (least recently used idle mounts go first).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CacheMountNotFoundError, CacheMounts } from '../../src/build/engine/cache-mounts.js';

const mount = (id: string, sharing: 'shared' | 'private' | 'locked' = 'shared') => ({ type: 'cache' as const, target: '/cache', id, sharing, readonly: false });

describe('cache mounts', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'cairn-mounts-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('keep contents per repository and id', async () => {
    const mounts = new CacheMounts(join(root, 'keep'));
    await mounts.use('team/a', mount('pm'), (dir) => writeFile(join(dir, 'stamp'), 'warm'));
    assert.deepEqual(await mounts.use('team/a', mount('pm'), (dir) => readdir(dir)), ['stamp']);
    assert.deepEqual(await mounts.use('team/b', mount('pm'), (dir) => readdir(dir)), []);
    assert.deepEqual((await mounts.list('team/a')).map((m) => m.id), ['pm']);
    await assert.rejects(mounts.purge('team/a', 'ghost'), CacheMountNotFoundError);
    await mounts.purge('team/a', 'pm');
    assert.deepEqual(await mounts.list('team/a'), []);
  });

  it('run locked users one at a time and give a busy private mount a fresh directory', async () => {
    const mounts = new CacheMounts(join(root, 'sharing'));
    let inside = 0;
    let most = 0;
    const locked = () =>
      mounts.use('team/a', mount('l', 'locked'), async () => {
        most = Math.max(most, ++inside);
        await new Promise((r) => setTimeout(r, 20));
        inside--;
      });
    await Promise.all([locked(), locked(), locked()]);
    assert.equal(most, 1);
    const dirs = await Promise.all([0, 1].map(() => mounts.use('team/a', mount('p', 'private'), async (dir) => {
      await new Promise((r) => setTimeout(r, 20));
      return dir;
    })));
    assert.notEqual(dirs[0], dirs[1]);
  });

  it('stay within the repository budget in inodes, dropping the least recently used idle mount', async () => {
    const mounts = new CacheMounts(join(root, 'budget'), { bytes: 1024 ** 3, inodes: 6 });
    const fill = (dir: string) => Promise.all(['1', '2', '3'].map((f) => writeFile(join(dir, f), f)));
    await mounts.use('team/a', mount('old'), fill);
    await new Promise((r) => setTimeout(r, 20));
    await mounts.use('team/a', mount('new'), fill);
    const left = await mounts.list('team/a');
    assert.deepEqual(left.map((m) => m.id), ['new']);
    assert.equal(left[0]!.inodes, 4);
  });
});
