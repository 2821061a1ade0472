/**
 * One process per embedded data directory: a second `serve`, an `admin create` or a `migrate`
 * on a directory a live server holds is refused with the holder's PID; a holder killed with
 * SIGKILL leaves nothing that blocks the next start; with PostgreSQL several servers share a
 * data directory as before.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { basic } from '../support/auth.js';
import { assertUserError, cairn } from '../support/cli.js';
import { http } from '../support/http.js';
import { startCairn, testDatabases, type StartedCairn } from '../support/registry.js';

const onPostgres = testDatabases().includes('postgres');

/** The server's PID, from its own log lines (pino writes it in each). */
function pidOf(server: StartedCairn): number {
  const line = server.logs.find((l) => l.startsWith('{'));
  return (JSON.parse(line!) as { pid: number }).pid;
}

test('a second serve, admin create and migrate on a live server’s data dir are refused, naming its PID', async () => {
  const server = await startCairn({ database: 'pglite', env: { CAIRN_ADMIN_PASSWORD: 'first-admin-pw' } });
  try {
    const pid = pidOf(server);
    const held = `the embedded database in ${join(server.dataDir, 'pglite')} is in use by another cairn process \\(PID ${pid}, since [0-9T:.Z-]+\\): `;

    const second = await cairn(['serve', '--data-dir', server.dataDir, '--listen', '127.0.0.1:0']);
    assertUserError(second, new RegExp(`^cairn: ${held}stop it before starting another on the same --data-dir`));

    const admin = await cairn(['admin', 'create', '--data-dir', server.dataDir, '--name', 'intruder'], { input: 'intruder-password\n' });
    assertUserError(admin, new RegExp(`^cairn: ${held}stop that server first, or use its admin API \\(POST /api/v1/users`));
    assert.equal(admin.stdout, '', 'nothing claims success');

    assertUserError(await cairn(['migrate', '--data-dir', server.dataDir]), new RegExp(`^cairn: ${held}a running server has applied the migrations`));
    assertUserError(await cairn(['retention', 'apply', '--data-dir', server.dataDir]), new RegExp(`^cairn: ${held}use the running server's admin API instead`));

    // The holder is untouched and the refused admin does not exist.
    assert.equal((await http('GET', `${server.url}/v2/`, { headers: basic('admin', 'first-admin-pw') })).status, 200);
    assert.equal((await http('GET', `${server.url}/v2/`, { headers: basic('intruder', 'intruder-password') })).status, 401);
  } finally {
    await server.stop();
  }
});

test('a lock left by a server killed with SIGKILL does not block the next start; data survives', async () => {
  const first = await startCairn({ database: 'pglite', env: { CAIRN_ADMIN_PASSWORD: 'kept-admin-pw' } });
  const lockFile = `${join(first.dataDir, 'pglite')}.lock`;
  try {
    const pid = pidOf(first);
    assert.equal((JSON.parse(await readFile(lockFile, 'utf8')) as { pid: number }).pid, pid);
    process.kill(pid, 'SIGKILL');
    await first.stop({ keepData: true });
    // The file stays, still naming the dead holder: the kernel's lock, not the file, decides.
    assert.equal((JSON.parse(await readFile(lockFile, 'utf8')) as { pid: number }).pid, pid);

    const next = await startCairn({ dataDir: first.dataDir });
    try {
      assert.notEqual(pidOf(next), pid);
      assert.equal((JSON.parse(await readFile(lockFile, 'utf8')) as { pid: number }).pid, pidOf(next));
      assert.equal((await http('GET', `${next.url}/v2/`, { headers: basic('admin', 'kept-admin-pw') })).status, 200);
    } finally {
      await next.stop({ keepData: true });
    }
    // Stopped cleanly, the directory is free for the CLI.
    const created = await cairn(['admin', 'create', '--data-dir', first.dataDir, '--name', 'second'], { input: 'second-admin-pw\n' });
    assert.equal(created.status, 0, created.stderr);
    assert.equal(created.stdout, 'admin "second" created\n');
  } finally {
    await rm(first.dataDir, { recursive: true, force: true });
  }
});

test('two servers racing for one fresh data dir: exactly one starts, the other is refused', async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'cairn-test-'));
  const started = await Promise.allSettled([startCairn({ dataDir }), startCairn({ dataDir })]);
  try {
    const winners = started.filter((s): s is PromiseFulfilledResult<StartedCairn> => s.status === 'fulfilled');
    const losers = started.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    assert.equal(winners.length, 1, `one server starts: ${losers.map((l) => String(l.reason)).join('\n')}`);
    assert.equal(losers.length, 1);
    assert.match(String(losers[0]!.reason), new RegExp(`is in use by another cairn process \\(PID ${pidOf(winners[0]!.value)},`));
    assert.equal((await http('GET', `${winners[0]!.value.url}/v2/`)).status, 200);
  } finally {
    await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.stop({ keepData: true }) : undefined)));
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('with DATABASE_URL two servers share one data dir (PostgreSQL arbitrates; no lock is taken)', { skip: !onPostgres && 'CAIRN_TEST_DATABASES has no postgres' }, async () => {
  const first = await startCairn({ database: 'postgres' });
  try {
    const second = await startCairn({ dataDir: first.dataDir, databaseUrl: first.databaseUrl! });
    try {
      for (const server of [first, second]) assert.equal((await http('GET', `${server.url}/v2/`)).status, 200);
      await assert.rejects(readFile(`${join(first.dataDir, 'pglite')}.lock`), { code: 'ENOENT' });
    } finally {
      await second.stop({ keepData: true });
    }
  } finally {
    await first.stop();
  }
});
