/**
 * Build contexts: hostile tars refused with the entry named and nothing written outside, limits,
 * and the .dockerignore matcher against Docker's documented rules.
 */
import { existsSync } from 'node:fs';
import { lstat, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDockerignore } from '../../src/build/context/dockerignore.js';
import { extractContext } from '../../src/build/context/extract.js';
import { ContextTooLargeError, PathOutsideRootError } from '../../src/build/layers/errors.js';
import { streamOf, tarOf } from '../support/layers.js';

let work: string;
let counter = 0;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'cairn-context-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

function freshDir(): string {
  return join(work, `ctx-${++counter}`);
}

async function extractInto(bytes: Buffer, limits?: { maxBytes: number; maxEntries: number }): Promise<string> {
  const dir = freshDir();
  const { mkdir } = await import('node:fs/promises');
  await mkdir(dir);
  await extractContext(streamOf(bytes), dir, limits);
  return dir;
}

describe('context extraction', () => {
  test('a plain or gzip context is extracted with modes, times and links inside it', async () => {
    const tar = tarOf([
      { name: 'Dockerfile', content: 'FROM scratch\n', mtime: 1_600_000_000 },
      { name: 'src/', type: 'dir' },
      { name: 'src/run.sh', content: '#!/bin/sh\n', mode: 0o755 },
      { name: 'src/link', type: 'symlink', linkname: 'run.sh' },
      { name: 'src/up', type: 'symlink', linkname: '../Dockerfile' },
      { name: 'src/hard', type: 'link', linkname: 'src/run.sh' },
    ]);
    for (const bytes of [tar, gzipSync(tar)]) {
      const dir = await extractInto(bytes);
      assert.equal(await readFile(join(dir, 'Dockerfile'), 'utf8'), 'FROM scratch\n');
      assert.equal((await lstat(join(dir, 'Dockerfile'))).mtimeMs, 1_600_000_000_000);
      assert.equal((await lstat(join(dir, 'src/run.sh'))).mode & 0o777, 0o755);
      assert.ok((await lstat(join(dir, 'src/link'))).isSymbolicLink());
      assert.equal((await lstat(join(dir, 'src/hard'))).ino, (await lstat(join(dir, 'src/run.sh'))).ino);
    }
  });

  const hostile: Array<[string, Parameters<typeof tarOf>[0], RegExp]> = [
    ['".." in a path', [{ name: 'a/../../escape', content: 'x' }], /archive entry "a\/\.\.\/\.\.\/escape" climbs out with "\.\."/],
    ['an absolute path', [{ name: '/tmp/cairn-escape', content: 'x' }], /archive entry "\/tmp\/cairn-escape" is an absolute path/],
    ['a symlink pointing out with ".."', [{ name: 'sub/', type: 'dir' }, { name: 'sub/out', type: 'symlink', linkname: '../../etc' }], /archive entry "sub\/out" is a symlink to "\.\.\/\.\.\/etc", outside the build context/],
    ['an absolute symlink', [{ name: 'passwd', type: 'symlink', linkname: '/etc/passwd' }], /archive entry "passwd" is a symlink to "\/etc\/passwd", outside the build context/],
    ['a write through a symlink', [{ name: 'dir', type: 'symlink', linkname: '.' }, { name: 'dir/x', content: 'x' }], /archive entry "dir\/x" would be written through the symlink "dir"/],
    ['a hard link out', [{ name: 'h', type: 'link', linkname: '../etc/passwd' }], /archive entry "h" is a hard link to "\.\.\/etc\/passwd", which climbs out/],
  ];
  for (const [label, entries, message] of hostile) {
    test(`a context with ${label} is refused, naming the entry`, async () => {
      await assert.rejects(extractInto(tarOf(entries)), (error: Error) => {
        assert.ok(error instanceof PathOutsideRootError, String(error));
        assert.match(error.message, message);
        return true;
      });
      assert.ok(!existsSync('/tmp/cairn-escape') && !existsSync(join(work, 'escape')));
    });
  }

  test('an oversized context is refused before the excess is written', async () => {
    const big = tarOf([{ name: 'a', content: 'x'.repeat(600) }, { name: 'b', content: 'y'.repeat(600) }]);
    await assert.rejects(extractInto(big, { maxBytes: 1000, maxEntries: 100 }), (error: Error) => {
      assert.ok(error instanceof ContextTooLargeError);
      assert.match(error.message, /more than 1000 bytes/);
      return true;
    });
    const many = tarOf(Array.from({ length: 11 }, (_, i) => ({ name: `f${i}`, content: '' })));
    await assert.rejects(extractInto(many, { maxBytes: 1000, maxEntries: 10 }), /more than 10 entries/);
  });

  test('a truncated or corrupt tar is refused as an invalid archive', async () => {
    const tar = tarOf([{ name: 'a', content: 'x'.repeat(2000) }]);
    await assert.rejects(extractInto(tar.subarray(0, 1024)), /cut short/);
    const corrupt = Buffer.from(tar);
    corrupt[10] = 0x41;
    await assert.rejects(extractInto(corrupt), /checksum/);
  });
});

describe('.dockerignore', () => {
  // Docker's documented examples (Dockerfile reference, ".dockerignore file"), and the rules' edges.
  const table: Array<[string, Array<[string, boolean]>]> = [
    [
      '# comment\n*/temp*\n*/*/temp*\ntemp?',
      [
        ['somedir/temporary.txt', true],
        ['somedir/temp', true],
        ['somedir/subdir/temporary.txt', true],
        ['tempa', true],
        ['tempb', true],
        ['tempab', false],
        ['temporary.txt', false],
        ['a/b/c/temp', false],
      ],
    ],
    ['**/*.go', [['main.go', true], ['cmd/tool/main.go', true], ['main.go.txt', false]]],
    ['*.md\n!README.md', [['CHANGES.md', true], ['README.md', false], ['docs/x.md', false]]],
    ['*.md\n!README*.md\nREADME-secret.md', [['README-secret.md', true], ['README-public.md', false], ['NOTES.md', true]]],
    ['*.md\nREADME-secret.md\n!README*.md', [['README-secret.md', false], ['README-public.md', false], ['NOTES.md', true]]],
    ['docs\n!docs/keep.txt', [['docs', true], ['docs/a.txt', true], ['docs/keep.txt', false]]],
    ['/build\n  spaced  \n./dist/', [['build', true], ['build/out', true], ['spaced', true], ['dist/x', true], ['sub/build', false]]],
    ['[ab].txt\nfile\\?', [['a.txt', true], ['c.txt', false], ['file?', true], ['filex', false]]],
    ['a/**/z', [['a/z', true], ['a/b/c/z', true], ['b/z', false]]],
  ];
  for (const [patterns, cases] of table) {
    test(`patterns ${JSON.stringify(patterns)}`, () => {
      const matcher = parseDockerignore(patterns);
      for (const [path, ignored] of cases) assert.equal(matcher.ignores(path), ignored, `${path} should ${ignored ? '' : 'not '}be ignored`);
    });
  }

  test('the Dockerfile and .dockerignore are always sent but not copied when excluded', () => {
    const matcher = parseDockerignore('Dockerfile\n.dockerignore\nbuild.Dockerfile\n*.log', { dockerfile: 'build.Dockerfile' });
    assert.equal(matcher.packs('build.Dockerfile'), true);
    assert.equal(matcher.packs('.dockerignore'), true);
    assert.equal(matcher.packs('Dockerfile'), false, 'not the Dockerfile of this build');
    assert.equal(matcher.packs('x.log'), false);
    assert.equal(matcher.ignores('build.Dockerfile'), true);
    assert.equal(matcher.ignores('.dockerignore'), true);
    assert.equal(matcher.mayReinclude('logs'), false);
    assert.equal(parseDockerignore('logs\n!logs/keep').mayReinclude('logs'), true);
  });
});
