/**
 * Hostile steps against the executor's limits: a fork bomb (while a host HTTP server keeps
 * answering), a memory hog, disk fillers, a step that outlives its time, cancellation, and no
 * container, mount, cgroup or directory left behind after many runs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { layerBytes } from '../../src/build/executor/disk-usage.js';
import { executorFixture, type ExecutorFixture } from './executor-support.js';

const MiB = 1024 * 1024;
/** From the executor session's port range. */
const HTTP_PORT = 5650;

describe('runc executor: limits', () => {
  let fx: ExecutorFixture;
  before(async () => {
    fx = await executorFixture();
  });
  after(async () => {
    await fx?.close();
  });

  test('a fork bomb is stopped by the pids limit while the host keeps answering HTTP', async () => {
    const server = createServer((_req, res) => res.end('alive'));
    server.listen(HTTP_PORT, '127.0.0.1');
    await once(server, 'listening');
    try {
      const step = fx.run('bomb(){ while :; do bomb & done; }; bomb 2>/dev/null & while :; do sleep 1; done', { limits: { pids: 64, timeoutMs: 60_000 } });
      const latencies: number[] = [];
      let done = false;
      const probing = (async () => {
        while (!done) {
          const started = Date.now();
          const body = await (await fetch(`http://127.0.0.1:${HTTP_PORT}/`)).text();
          assert.equal(body, 'alive');
          latencies.push(Date.now() - started);
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const r = await step.finally(() => (done = true));
      await probing;
      assert.equal(r.killedBy, 'pids');
      assert.notEqual(r.exitCode, 0);
      assert.ok(r.durationMs < 30_000, `ended after ${r.durationMs} ms, long before its timeout`);
      assert.ok(latencies.length > 0 && Math.max(...latencies) < 5_000, `host answered within ${Math.max(...latencies)} ms`);
    } finally {
      server.close();
    }
  });

  test('a memory hog is killed at the memory limit', async () => {
    const r = await fx.run('dd if=/dev/zero of=/dev/null bs=96M count=1; echo survived', { limits: { memoryBytes: 32 * MiB } });
    assert.equal(r.killedBy, 'memory');
    assert.notEqual(r.exitCode, 0);
    assert.doesNotMatch(r.stdout, /survived\n$/);
  });

  test('a single-file disk filler stops at the limit', async () => {
    const r = await fx.run('dd if=/dev/zero of=/tmp/fill bs=1M count=200', { limits: { diskBytes: 16 * MiB } });
    assert.equal(r.killedBy, 'disk');
    assert.notEqual(r.exitCode, 0);
    assert.ok((await stat(join(r.upperDir, 'tmp', 'fill'))).size <= 16 * MiB);
  });

  test('a many-file disk filler is killed near the limit', async () => {
    const r = await fx.run('i=0; while :; do dd if=/dev/zero of=/tmp/f$i bs=1M count=1 2>/dev/null; i=$((i+1)); done', {
      limits: { diskBytes: 24 * MiB, timeoutMs: 120_000 },
    });
    assert.equal(r.killedBy, 'disk');
    assert.equal(r.exitCode, 137);
    const written = await layerBytes(r.upperDir);
    assert.ok(written > 24 * MiB, 'it was past the limit when killed');
    assert.ok(written < 24 * MiB + 200 * MiB, `written ${written} bytes: polling caught it soon after the limit`);
  });

  test('a step past its timeout is killed', async () => {
    const r = await fx.run('echo started; sleep 60', { limits: { timeoutMs: 1_500 } });
    assert.equal(r.killedBy, 'timeout');
    assert.equal(r.exitCode, 137);
    assert.equal(r.stdout, 'started\n');
    assert.ok(r.durationMs < 20_000, `ended after ${r.durationMs} ms`);
  });

  test('cancel kills the step; a step cancelled before it starts does not run', async () => {
    const controller = new AbortController();
    const step = fx.run('echo running; sleep 60', { signal: controller.signal });
    setTimeout(() => controller.abort(), 1_000);
    const r = await step;
    assert.equal(r.killedBy, 'cancel');
    assert.equal(r.exitCode, 137);

    const early = new AbortController();
    early.abort();
    const never = await fx.run('echo ran > /tmp/ran', { signal: early.signal });
    assert.equal(never.killedBy, 'cancel');
    assert.deepEqual(await readdir(never.upperDir), []);
  });

  test('no container, mount, cgroup, bundle or work directory is left after 100 runs', async () => {
    const commands = ['true', 'exit 3', 'echo out; echo err >&2', 'sleep 5', 'cat /nonexistent'];
    for (let round = 0; round < 25; round++) {
      await Promise.all(
        [0, 1, 2, 3].map((i) => {
          const n = round * 4 + i;
          const command = commands[n % commands.length]!;
          return fx.run(command, { limits: { timeoutMs: command.startsWith('sleep') ? 200 : 60_000 }, network: n % 10 === 0 ? 'outbound' : 'none' });
        }),
      );
    }
    const { bundleRoot, stateDir, cgroupParent } = fx.options;
    assert.deepEqual(await readdir(bundleRoot), [], 'bundles');
    assert.deepEqual(await readdir(stateDir).catch(() => []), [], 'runc containers');
    const mounts = await readFile('/proc/self/mountinfo', 'utf8');
    assert.ok(!mounts.includes(fx.root) && !mounts.includes(bundleRoot), 'mounts');
    assert.deepEqual((await readdir(fx.root)).filter((name) => name.includes('.work-')), [], 'overlay work directories');
    for (const parent of await cgroupParents(cgroupParent)) {
      const steps = (await readdir(parent, { withFileTypes: true })).filter((e) => e.isDirectory());
      assert.deepEqual(steps, [], `cgroups in ${parent}`);
    }
    assert.deepEqual(await childProcesses(), [], 'runc, slirp4netns and namespace holders have all exited');
  });
});

/** Our step cgroups' parent directories, one per cgroup hierarchy. */
async function cgroupParents(name: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      if (e.name === name) found.push(join(dir, e.name));
      else if (depth < 4) await walk(join(dir, e.name), depth + 1);
    }
  };
  await walk('/sys/fs/cgroup', 0);
  assert.ok(found.length > 0, 'the step cgroups had a parent');
  return found;
}

/** Processes whose parent is this one. */
async function childProcesses(): Promise<string[]> {
  const pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  const stats = await Promise.all(pids.map((pid) => readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')));
  // Fields after the command (which may hold spaces) start with: state ppid.
  return stats.filter((s) => Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]) === process.pid).map((s) => s.slice(0, s.lastIndexOf(')') + 1));
}
