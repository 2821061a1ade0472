/**
 * COPY/ADD semantics into an upper directory, over a real image view (a snapshot-like lower dir
 * with /etc/passwd and /etc/group), and the content digests of their sources.
 */
import { execFileSync } from 'node:child_process';
import { chmod, link, lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerignore } from '../../src/build/context/dockerignore.js';
import { contentDigest } from '../../src/build/layers/content-digest.js';
import { copyToUpper, type CopyOperation } from '../../src/build/layers/copy.js';
import { CopyInvalidError, CopySourceNotFoundError } from '../../src/build/layers/errors.js';
import { layeredRootfs } from '../../src/build/layers/rootfs.js';
import { tarOf } from '../support/layers.js';

let work: string;
let context: string;
let lower: string;
let counter = 0;
const SOURCE_TIME = 1_650_000_000;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'cairn-copy-'));
  context = join(work, 'context');
  lower = join(work, 'lower');
  await mkdir(join(context, 'dir/sub'), { recursive: true });
  await writeFile(join(context, 'a.txt'), 'a');
  await writeFile(join(context, 'b.txt'), 'b');
  await writeFile(join(context, 'c.md'), 'c');
  await writeFile(join(context, 'Dockerfile'), 'FROM scratch');
  await writeFile(join(context, 'dir/g.txt'), 'g');
  await writeFile(join(context, 'dir/sub/f'), 'f');
  await chmod(join(context, 'dir/sub/f'), 0o750);
  await symlink('g.txt', join(context, 'dir/link'));
  await symlink('a.txt', join(context, 'to-a'));
  await writeFile(join(context, 'hard1'), 'h');
  await link(join(context, 'hard1'), join(context, 'hard2'));
  const archive = tarOf([{ name: 'x/', type: 'dir' }, { name: 'x/y', content: 'from the archive', uid: 42, gid: 43 }]);
  await writeFile(join(context, 'arch.tar'), archive);
  await writeFile(join(context, 'arch.tar.gz'), gzipSync(archive));
  await writeFile(join(context, 'arch.tar.bz2'), execFileSync('bzip2', ['-c'], { input: archive }));
  await writeFile(join(context, 'arch.tar.xz'), execFileSync('xz', ['-c'], { input: archive }));
  await writeFile(join(context, 'note.gz'), gzipSync('not a tar'));
  for (const name of ['a.txt', 'b.txt', 'c.md', 'dir/g.txt', 'dir/sub/f', 'dir/sub', 'dir', 'hard1']) {
    await utimes(join(context, name), SOURCE_TIME, SOURCE_TIME);
  }
  await mkdir(join(lower, 'etc'), { recursive: true });
  await mkdir(join(lower, 'existing'));
  await mkdir(join(lower, 'run'));
  await mkdir(join(lower, 'var'));
  await symlink('/run', join(lower, 'var/run'));
  await chmod(join(lower, 'existing'), 0o750);
  execFileSync('chown', ['7:8', join(lower, 'existing')]);
  await writeFile(join(lower, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n');
  await writeFile(join(lower, 'etc/group'), 'root:x:0:\napp:x:1001:\nstaff:x:50:\n');
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

async function copy(op: Partial<CopyOperation> & { sources: string[]; dest: string }): Promise<string> {
  const upperDir = join(work, `upper-${++counter}`);
  await mkdir(upperDir);
  await copyToUpper({ root: context, exclude: [], workdir: '/', add: false, ...op }, { upperDir, rootfs: layeredRootfs([lower]) });
  return upperDir;
}

async function tree(dir: string): Promise<string[]> {
  const out = execFileSync('find', ['.', '-mindepth', '1', '-printf', '%P %y %m %U:%G\n'], { cwd: dir, encoding: 'utf8' });
  return out.trim().split('\n').filter(Boolean).sort();
}

describe('COPY', () => {
  const table: Array<[string, Partial<CopyOperation> & { sources: string[]; dest: string }, string[]]> = [
    ['a file to a new path', { sources: ['a.txt'], dest: '/dst' }, ['dst f 644 0:0']],
    ['a file to a directory (trailing slash)', { sources: ['a.txt'], dest: '/dst/' }, ['dst d 755 0:0', 'dst/a.txt f 644 0:0']],
    ['a file to a directory the image has', { sources: ['a.txt'], dest: '/existing' }, ['existing d 750 7:8', 'existing/a.txt f 644 0:0']],
    ['a glob matching several files', { sources: ['*.txt'], dest: '/m' }, ['m d 755 0:0', 'm/a.txt f 644 0:0', 'm/b.txt f 644 0:0']],
    ['a directory: its contents', { sources: ['dir'], dest: '/d' }, ['d d 755 0:0', 'd/g.txt f 644 0:0', 'd/link l 777 0:0', 'd/sub d 755 0:0', 'd/sub/f f 750 0:0']],
    ['a relative destination under WORKDIR', { sources: ['a.txt'], dest: 'rel/', workdir: '/work' }, ['work d 755 0:0', 'work/rel d 755 0:0', 'work/rel/a.txt f 644 0:0']],
    ['--chown=user (primary group)', { sources: ['a.txt'], dest: '/o/', chown: 'app' }, ['o d 755 1000:1001', 'o/a.txt f 644 1000:1001']],
    ['--chown=uid (gid = uid)', { sources: ['a.txt'], dest: '/o/', chown: '1234' }, ['o d 755 1234:1234', 'o/a.txt f 644 1234:1234']],
    ['--chown=user:group', { sources: ['a.txt'], dest: '/o/', chown: 'app:staff' }, ['o d 755 1000:50', 'o/a.txt f 644 1000:50']],
    ['--chmod for files and directories', { sources: ['dir/sub', 'a.txt'], dest: '/p/', chmod: '0600' }, ['p d 755 0:0', 'p/a.txt f 600 0:0', 'p/f f 600 0:0']],
    ['--exclude', { sources: ['.'], dest: '/e/', exclude: ['*.md', 'arch*', 'note.gz', 'dir/sub'] }, ['e d 755 0:0', 'e/Dockerfile f 644 0:0', 'e/a.txt f 644 0:0', 'e/b.txt f 644 0:0', 'e/dir d 755 0:0', 'e/dir/g.txt f 644 0:0', 'e/dir/link l 777 0:0', 'e/hard1 f 644 0:0', 'e/hard2 f 644 0:0', 'e/to-a l 777 0:0']],
    ['a symlink source is followed', { sources: ['to-a'], dest: '/s' }, ['s f 644 0:0']],
    ['a destination through an image symlink (/var/run -> /run)', { sources: ['a.txt'], dest: '/var/run/' }, ['run d 755 0:0', 'run/a.txt f 644 0:0']],
    ['a ".." source stays in the context', { sources: ['../../a.txt'], dest: '/u/' }, ['u d 755 0:0', 'u/a.txt f 644 0:0']],
  ];
  for (const [label, op, expected] of table) {
    test(label, async () => {
      assert.deepEqual(await tree(await copy(op)), expected);
    });
  }

  test('contents, source mtimes and hard links are kept', async () => {
    const upper = await copy({ sources: ['dir', 'hard1', 'hard2'], dest: '/k/' });
    assert.equal(await readFile(join(upper, 'k/sub/f'), 'utf8'), 'f');
    assert.equal((await lstat(join(upper, 'k/sub/f'))).mtimeMs, SOURCE_TIME * 1000);
    assert.equal((await lstat(join(upper, 'k/sub'))).mtimeMs, SOURCE_TIME * 1000);
    assert.equal(await readlink(join(upper, 'k/link')), 'g.txt');
    assert.equal((await lstat(join(upper, 'k/hard1'))).ino, (await lstat(join(upper, 'k/hard2'))).ino);
  });

  test('.dockerignore: an excluded Dockerfile is not copied', async () => {
    const matcher = parseDockerignore('Dockerfile\n*.tar*\n*.gz');
    const names = (await tree(await copy({ sources: ['.'], dest: '/i/', ignore: matcher }))).map((l) => l.split(' ')[0]);
    assert.ok(!names.includes('i/Dockerfile') && !names.includes('i/arch.tar') && names.includes('i/a.txt'), names.join());
  });

  for (const name of ['arch.tar', 'arch.tar.gz', 'arch.tar.bz2', 'arch.tar.xz']) {
    test(`ADD extracts ${name}, keeping the archive's owners`, async () => {
      const upper = await copy({ sources: [name], dest: '/x', add: true });
      assert.deepEqual(await tree(upper), ['x d 755 0:0', 'x/x d 755 0:0', 'x/x/y f 644 42:43']);
      assert.equal(await readFile(join(upper, 'x/x/y'), 'utf8'), 'from the archive');
    });
  }

  test('ADD copies a compressed file that is not a tar, and COPY never extracts', async () => {
    assert.deepEqual(await tree(await copy({ sources: ['note.gz'], dest: '/n/', add: true })), ['n d 755 0:0', 'n/note.gz f 644 0:0']);
    assert.deepEqual(await tree(await copy({ sources: ['arch.tar'], dest: '/n/' })), ['n d 755 0:0', 'n/arch.tar f 644 0:0']);
  });

  test('ADD --chown applies to extracted entries', async () => {
    assert.deepEqual(await tree(await copy({ sources: ['arch.tar'], dest: '/x/', add: true, chown: '5:6' })), ['x d 755 5:6', 'x/x d 755 5:6', 'x/x/y f 644 5:6']);
  });

  test('heredoc sources become files', async () => {
    const upper = await copy({ sources: ['EOF'], dest: '/h/', heredocs: [{ name: 'EOF', content: 'inline\n' }] });
    assert.equal(await readFile(join(upper, 'h/EOF'), 'utf8'), 'inline\n');
  });

  test('mistakes are refused with named errors', async () => {
    await assert.rejects(copy({ sources: ['missing.txt'], dest: '/x' }), CopySourceNotFoundError);
    await assert.rejects(copy({ sources: ['*.none'], dest: '/x/' }), /COPY source "\*\.none" not found/);
    await assert.rejects(copy({ sources: ['a.txt'], dest: '/x', chmod: 'u+x' }), CopyInvalidError);
    await assert.rejects(copy({ sources: ['a.txt'], dest: '/x', chown: 'nobody' }), /no user "nobody" in the image's \/etc\/passwd/);
    await assert.rejects(copy({ sources: ['a.txt'], dest: '/x', chown: 'app:nogroup' }), /no group "nogroup"/);
  });
});

describe('content digests', () => {
  test('stable over mtimes, changed by content and mode, naming the file that differs', async () => {
    const spec = { root: context, sources: ['dir', 'a.txt'], exclude: [] };
    const first = await contentDigest(spec);
    assert.deepEqual(first.files.map((f) => f.path), ['dir/g.txt', 'dir/link', 'dir/sub', 'dir/sub/f', 'a.txt']);
    await utimes(join(context, 'dir/sub/f'), 1, 1);
    assert.deepEqual(await contentDigest(spec), first, 'mtimes do not count');
    await writeFile(join(context, 'dir/sub/f'), 'changed');
    const changed = await contentDigest(spec);
    assert.notEqual(changed.digest, first.digest);
    const differing = changed.files.filter((f, i) => f.digest !== first.files[i]!.digest).map((f) => f.path);
    assert.deepEqual(differing, ['dir/sub/f']);
    await chmod(join(context, 'a.txt'), 0o600);
    const moded = await contentDigest(spec);
    assert.notEqual(moded.digest, changed.digest);
    await chmod(join(context, 'a.txt'), 0o644);
    await writeFile(join(context, 'dir/sub/f'), 'f');
    await utimes(join(context, 'dir/sub/f'), SOURCE_TIME, SOURCE_TIME);
    assert.equal((await contentDigest(spec)).digest, first.digest);
  });

  test('.dockerignore: a file re-included with "!" inside an excluded directory is copied', async () => {
    const upper = await copy({ sources: ['.'], dest: '/r/', ignore: parseDockerignore('*\n!dir/sub/f') });
    assert.deepEqual(await tree(upper), ['r d 755 0:0', 'r/dir d 755 0:0', 'r/dir/sub d 755 0:0', 'r/dir/sub/f f 750 0:0']);
  });

  test('excluded and ignored files do not count', async () => {
    const all = await contentDigest({ root: context, sources: ['.'], exclude: [] });
    const excluded = await contentDigest({ root: context, sources: ['.'], exclude: ['*.md'] });
    assert.notEqual(all.digest, excluded.digest);
    assert.ok(!excluded.files.some((f) => f.path === 'c.md'));
    const ignored = await contentDigest({ root: context, sources: ['.'], exclude: [], ignore: parseDockerignore('*.md') });
    assert.equal(ignored.digest, excluded.digest);
  });
});
