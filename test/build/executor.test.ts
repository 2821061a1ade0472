/**
 * The runc executor runs real steps: a busybox root filesystem, runc, overlayfs. What a step
 * prints, its exit code, environment, working directory and user, and what it leaves in the
 * upper directory (overlayfs format) are checked from the outside.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MountTargetInvalidError, UserNotFoundError } from '../../src/build/executor/errors.js';
import { isOpaque } from '../../src/build/executor/layered-view.js';
import { executorFixture, listTree, type ExecutorFixture } from './executor-support.js';

describe('runc executor: running a step', () => {
  let fx: ExecutorFixture;
  before(async () => {
    fx = await executorFixture();
  });
  after(async () => {
    await fx?.close();
  });

  test('streams stdout and stderr apart and returns the exit code as the process gave it', async () => {
    const r = await fx.run('echo to-out; echo to-err >&2; exit 7');
    assert.equal(r.stdout, 'to-out\n');
    assert.equal(r.stderr, 'to-err\n');
    assert.equal(r.exitCode, 7);
    assert.equal(r.killedBy, undefined);
    assert.ok(r.durationMs > 0);
    const ok = await fx.run('true');
    assert.equal(ok.exitCode, 0);
  });

  test('a process killed by a signal exits with 128 + the signal', async () => {
    const r = await fx.run('sh -c "kill -TERM \\$\\$"; echo "status $?"');
    assert.equal(r.stdout, 'status 143\n');
  });

  test('output is streamed while the step runs, not buffered to the end', async () => {
    const chunks: Array<{ at: number; text: string }> = [];
    const upper = join(fx.root, 'streaming-upper');
    await mkdir(upper);
    const started = Date.now();
    await fx.executor.run({
      lowerDirs: [fx.lower],
      upperDir: upper,
      argv: ['/bin/sh', '-c', 'echo first; sleep 1; echo second'],
      env: ['PATH=/bin'],
      cwd: '/',
      user: '',
      mounts: [],
      network: 'none',
      hostname: 'h',
      limits: { memoryBytes: 64 << 20, pids: 64, timeoutMs: 30_000, diskBytes: 64 << 20 },
      signal: new AbortController().signal,
      onOutput: (chunk) => chunks.push({ at: Date.now() - started, text: chunk.toString() }),
    });
    assert.deepEqual(chunks.map((c) => c.text).join(''), 'first\nsecond\n');
    const first = chunks.find((c) => c.text.includes('first'))!;
    const second = chunks.find((c) => c.text.includes('second'))!;
    assert.ok(second.at - first.at >= 900, `"first" arrived ${second.at - first.at} ms before "second"`);
  });

  test('a missing executable exits 127, like Docker', async () => {
    const r = await fx.run('', { argv: ['/bin/no-such-binary'] });
    assert.equal(r.exitCode, 127);
    assert.match(r.stderr, /no-such-binary/);
  });

  test('env, PATH and HOME: given values kept, defaults added', async () => {
    const r = await fx.run('echo "$GREETING|$PATH|$HOME"', { env: ['GREETING=hello world', 'PATH=/bin'] });
    assert.equal(r.stdout, 'hello world|/bin|/root\n');
    const defaults = await fx.run('echo "$PATH"', { env: [], argv: ['/bin/sh', '-c', 'echo "$PATH"'] });
    assert.equal(defaults.stdout, '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n');
  });

  test('cwd is used, and created when missing (as BuildKit does)', async () => {
    const r = await fx.run('pwd', { cwd: '/app/src' });
    assert.equal(r.stdout, '/app/src\n');
    assert.ok((await lstat(join(r.upperDir, 'app', 'src'))).isDirectory());
  });

  test('user by name, by id, uid:gid and name:group, resolved from /etc/passwd and /etc/group', async () => {
    const byName = await fx.run('id; echo $HOME', { user: 'builder' });
    assert.equal(byName.stdout, 'uid=1000(builder) gid=1000(builder) groups=50(staff)\n/home/builder\n');
    const byId = await fx.run('id -u; id -g', { user: '1000' });
    assert.equal(byId.stdout, '1000\n1000\n');
    const unknownId = await fx.run('id -u; id -g', { user: '4242' });
    assert.equal(unknownId.stdout, '4242\n0\n');
    const pair = await fx.run('id -u; id -g', { user: '1000:50' });
    assert.equal(pair.stdout, '1000\n50\n');
    const named = await fx.run('id -u; id -g', { user: 'nobody:staff' });
    assert.equal(named.stdout, '65534\n50\n');
    await assert.rejects(fx.run('true', { user: 'ghost' }), UserNotFoundError);
    await assert.rejects(fx.run('true', { user: 'builder:ghosts' }), UserNotFoundError);
  });

  test('a written file lands in the upper directory; a deleted lower file becomes a whiteout', async () => {
    const r = await fx.run('echo data > /tmp/new.txt && rm /bin/true && rm -rf /root && mkdir /root');
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(await readFile(join(r.upperDir, 'tmp', 'new.txt'), 'utf8'), 'data\n');
    const whiteout = await lstat(join(r.upperDir, 'bin', 'true'));
    assert.ok(whiteout.isCharacterDevice() && whiteout.rdev === 0, 'a 0/0 character device stands for the deleted file');
    // A directory removed and made again is opaque: it hides what the lower one held.
    assert.ok((await lstat(join(r.upperDir, 'root'))).isDirectory());
    assert.equal(await isOpaque(join(r.upperDir, 'root')), true);
    assert.equal(await isOpaque(join(r.upperDir, 'tmp')), false);
  });

  test('mount points the image lacks leave nothing behind in the upper directory', async () => {
    const r = await fx.run('ls /proc/self >/dev/null && test -c /dev/null && cat /etc/hosts >/dev/null', {
      mounts: [{ kind: 'tmpfs', target: '/cache/deep/dir' }],
    });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(await listTree(r.upperDir), []);
  });

  test('bind, tmpfs and file mounts; read-only binds cannot be written', async () => {
    const source = join(fx.root, 'bind-source');
    await mkdir(source);
    await writeFile(join(source, 'in.txt'), 'from host\n');
    const r = await fx.run(
      'cat /src/in.txt; cat /run/secrets/token; stat -c "%a %u %g" /run/secrets/token; echo x > /scratch/f && echo tmpfs ok; echo y > /src/out 2>/dev/null || echo read-only',
      {
        mounts: [
          { kind: 'bind', source, target: '/src', readonly: true },
          { kind: 'tmpfs', target: '/scratch', sizeBytes: 1 << 20 },
          { kind: 'file', content: Buffer.from('s3cret\n'), target: '/run/secrets/token', mode: 0o400, uid: 1000, gid: 1000 },
        ],
      },
    );
    assert.equal(r.stdout, 'from host\ns3cret\n400 1000 1000\ntmpfs ok\nread-only\n', r.stderr);
    // Neither the tmpfs's contents nor the secret nor their mount points are changes of the step.
    assert.deepEqual(await listTree(r.upperDir), []);
  });

  test('mount targets that climb out with .. or are relative are refused', async () => {
    for (const target of ['/a/../../etc', 'relative', '/']) {
      await assert.rejects(fx.run('true', { mounts: [{ kind: 'tmpfs', target }] }), MountTargetInvalidError);
    }
  });

  test('/etc/resolv.conf names no resolver without a network, and /etc/hosts names the host', async () => {
    const r = await fx.run('cat /etc/resolv.conf; echo ---; cat /etc/hosts; hostname; echo x > /etc/hosts || echo ro');
    assert.equal(r.stdout, '---\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tcairn-test\ncairn-test\nro\n');
  });

  test('scratch: no lower directories at all', async () => {
    const upper = join(fx.root, 'scratch-upper');
    await mkdir(upper);
    const r = await fx.executor.run({
      lowerDirs: [],
      upperDir: upper,
      argv: ['/nothing'],
      env: [],
      cwd: '/',
      user: '',
      mounts: [],
      network: 'none',
      hostname: 'h',
      limits: { memoryBytes: 64 << 20, pids: 64, timeoutMs: 30_000, diskBytes: 64 << 20 },
      signal: new AbortController().signal,
      onOutput: () => undefined,
    });
    assert.equal(r.exitCode, 127);
    assert.deepEqual(await listTree(upper), []);
  });

  test('many lower directories are stacked in order (topmost wins)', async () => {
    const lowers = [fx.lower];
    for (let i = 0; i < 120; i++) {
      const dir = join(fx.root, `layer-${i}`);
      await mkdir(join(dir, 'layers'), { recursive: true });
      await writeFile(join(dir, 'layers', 'top'), `${i}\n`);
      await writeFile(join(dir, 'layers', `l${i}`), '');
      lowers.push(dir);
    }
    const r = await fx.run('cat /layers/top; ls /layers | wc -l', { lowerDirs: lowers });
    assert.equal(r.stdout.replace(/ +/g, ''), '119\n121\n', r.stderr);
  });
});
