/**
 * A worker process that dies mid-step leaves a running container, its bundle and its cgroups; the
 * next executor on the machine sweeps them at check(), and only those of dead processes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CgroupHost } from '../../src/build/executor/cgroups.js';
import { RuncExecutor } from '../../src/build/executor/runc-executor.js';
import { executorFixture, type ExecutorFixture } from './executor-support.js';

describe('runc executor: leftovers of a dead worker', () => {
  let fx: ExecutorFixture;
  before(async () => {
    fx = await executorFixture();
  });
  after(async () => {
    await fx?.close();
  });

  test('are swept by the next check(), while a live step is left alone', async () => {
    const runcExecutor = fileURLToPath(new URL('../../src/build/executor/runc-executor.js', import.meta.url));
    const upperDir = join(fx.root, 'dead-worker-upper');
    await mkdir(upperDir);
    const script = join(fx.root, 'dead-worker.mjs');
    await writeFile(
      script,
      `import { RuncExecutor } from ${JSON.stringify(runcExecutor)};
       const executor = new RuncExecutor(${JSON.stringify(fx.options)});
       await executor.run({ lowerDirs: [${JSON.stringify(fx.lower)}], upperDir: ${JSON.stringify(upperDir)}, argv: ['/bin/sh', '-c', 'echo started; sleep 600'],
         env: [], cwd: '/', user: '', mounts: [], network: 'outbound', hostname: 'h', signal: new AbortController().signal,
         limits: { memoryBytes: 64 << 20, pids: 64, timeoutMs: 600000, diskBytes: 64 << 20 },
         onOutput: (chunk) => process.stdout.write(chunk) });`,
    );
    const worker = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(worker.stdout, 'data');
    // A live neighbour's step, running until the test lets it finish (a file in a bind mount).
    const signals = join(fx.root, 'signals');
    await mkdir(signals);
    const live = fx.run('while [ ! -e /signals/go ]; do sleep 0.1; done; echo live-done', {
      mounts: [{ kind: 'bind', source: signals, target: '/signals', readonly: true }],
    });
    for (let waited = 0; (await readdir(fx.options.stateDir)).length < 2; waited += 50) {
      assert.ok(waited < 60_000, 'the live step started');
      await new Promise((r) => setTimeout(r, 50));
    }
    worker.kill('SIGKILL');
    await once(worker, 'exit');

    await new RuncExecutor(fx.options).check();
    await writeFile(join(signals, 'go'), '');

    const liveResult = await live;
    assert.equal(liveResult.stdout, 'live-done\n');
    assert.equal(liveResult.exitCode, 0);
    assert.deepEqual(await readdir(fx.options.stateDir), [], 'containers');
    assert.deepEqual(await readdir(fx.options.bundleRoot), [], 'bundles');
    const host = await CgroupHost.detect(fx.options.cgroupParent);
    assert.ok(typeof host !== 'string');
    assert.deepEqual(host.stepIds(), [], 'step cgroups');
  });
});
