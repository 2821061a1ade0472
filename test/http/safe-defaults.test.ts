/** Safe defaults: open on loopback for a laptop, never open on the network by accident. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { basic } from '../support/auth.js';
import { http } from '../support/http.js';
import { startCairn } from '../support/registry.js';

test('no admin on a non-loopback address: Cairn refuses to start and says why', async () => {
  await assert.rejects(startCairn({ database: 'pglite', extraArgs: ['--listen', '0.0.0.0:0'] }), /refusing to serve an open registry.*--allow-open/s);
});

test('--allow-open accepts an open registry on a non-loopback address', async () => {
  const server = await startCairn({ database: 'pglite', extraArgs: ['--listen', '0.0.0.0:0', '--allow-open'] });
  try {
    const port = new URL(server.url).port;
    assert.equal((await http('GET', `http://127.0.0.1:${port}/v2/`)).status, 200);
    assert.ok(server.logs.some((l) => l.includes('OPEN registry')));
  } finally {
    await server.stop();
  }
});

test('on loopback without an admin the registry is open; `cairn admin create` then enforces auth', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'cairn-test-'));
  try {
    const open = await startCairn({ dataDir });
    assert.equal((await http('GET', `${open.url}/v2/`)).status, 200);
    await open.stop({ keepData: true });

    const created = spawnSync(process.execPath, ['bin/cairn.js', 'admin', 'create', '--data-dir', dataDir, '--name', 'root'], {
      input: 'root-password-1\n',
      encoding: 'utf8',
    });
    assert.equal(created.status, 0, created.stderr);
    assert.match(created.stdout, /admin "root" created/);

    const enforced = await startCairn({ dataDir });
    try {
      assert.equal((await http('GET', `${enforced.url}/v2/`)).status, 401);
      assert.equal((await http('GET', `${enforced.url}/v2/`, { headers: basic('root', 'root-password-1') })).status, 200);
    } finally {
      await enforced.stop({ keepData: true });
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('CAIRN_ADMIN_PASSWORD resets the admin password at start', async () => {
  const first = await startCairn({ database: 'pglite', env: { CAIRN_ADMIN_PASSWORD: 'first-password' } });
  await first.stop({ keepData: true });
  const second = await startCairn({ dataDir: first.dataDir, env: { CAIRN_ADMIN_PASSWORD: 'second-password' } });
  try {
    assert.equal((await http('GET', `${second.url}/v2/`, { headers: basic('admin', 'first-password') })).status, 401);
    assert.equal((await http('GET', `${second.url}/v2/`, { headers: basic('admin', 'second-password') })).status, 200);
    assert.ok(!second.logs.join('\n').includes('second-password'));
  } finally {
    await second.stop();
    await rm(first.dataDir, { recursive: true, force: true });
  }
});
