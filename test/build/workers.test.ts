/**
 * The worker processes of `cairn serve`: a worker killed mid-build fails that build at once and is
 * restarted (the next build runs); on SIGTERM a worker drains, and a build that cannot finish in
 * time goes back to the queue, to be run again after the restart. With --build-workers 2 each
 * worker slot has its own snapshot directory, kept when its process is restarted.
 */
import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { dropPostgresDatabase } from '../support/databases.js';
import { ADMIN_PASSWORD, basic } from '../support/auth.js';
import { http } from '../support/http.js';
import { startCairn, testDatabases, type StartedCairn } from '../support/registry.js';
import { BUSYBOX_BASE, buildBody, followEvents, pushBusyboxBase } from './support/builds.js';

const asAdmin = basic('admin', ADMIN_PASSWORD);
const ENV = { CAIRN_ADMIN_PASSWORD: ADMIN_PASSWORD };
const LONG = `FROM ${BUSYBOX_BASE}\nRUN sleep 60\n`;

/** The 'build worker ready' lines of the worker processes: pid and snapshot directory. */
const readyWorkers = (server: StartedCairn) =>
  server.logs.flatMap((l) => {
    try {
      const entry = JSON.parse(l) as { msg?: string; pid?: number; snapshotDir?: string };
      return entry.msg === 'build worker ready' && entry.pid && entry.snapshotDir ? [{ pid: entry.pid, snapshotDir: entry.snapshotDir }] : [];
    } catch {
      return [];
    }
  });

const workerPids = (server: StartedCairn) =>
  server.logs.flatMap((l) => {
    try {
      const entry = JSON.parse(l) as { msg?: string; workerPid?: number; worker?: string };
      return entry.msg === 'build worker started' && entry.workerPid ? [entry.workerPid] : [];
    } catch {
      return [];
    }
  });

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

for (const database of testDatabases()) {
  describe(`build worker processes [${database}]`, () => {
    let server: StartedCairn | undefined;
    // The restarted server reuses the first one's data: removed here, not by its stop().
    let kept: { dataDir: string; databaseUrl: string | undefined } | undefined;
    after(async () => {
      await server?.stop();
      if (kept) await rm(kept.dataDir, { recursive: true, force: true });
      if (kept?.databaseUrl) await dropPostgresDatabase(kept.databaseUrl);
    });

    const create = async (dockerfile: string, tag: string) => {
      const { body, contentType } = await buildBody({ tags: [`team/app:${tag}`] }, { Dockerfile: dockerfile });
      return until('a live worker to accept the build', async () => {
        const response = await http('POST', `${server!.url}/api/v1/builds`, { headers: { ...asAdmin, 'content-type': contentType }, body });
        if (response.status === 503) return undefined;
        assert.equal(response.status, 201, response.text());
        return response.json().id as string;
      });
    };
    const state = async (id: string) => (await http('GET', `${server!.url}/api/v1/builds/${id}`, { headers: asAdmin })).json();

    test('a worker killed mid-build fails that build at once, and is restarted', async () => {
      server = await startCairn({ database, env: ENV });
      await pushBusyboxBase(server.url, asAdmin);
      const id = await create(LONG, 'killed');
      await until('the build to run', async () => ((await state(id)).state === 'running' ? true : undefined));
      const [pid] = workerPids(server);
      assert.ok(pid, 'the worker logged its pid');
      process.kill(pid!, 'SIGKILL');
      const failed = await until('the build to fail', async () => {
        const s = await state(id);
        return s.state === 'failed' ? s : undefined;
      }, 10_000);
      assert.match(failed.result.error, /the build worker process exited \(SIGKILL\)/);
      await until('a new worker', async () => (workerPids(server!).length >= 2 ? true : undefined));
      const next = await create('FROM scratch\nCOPY . /\n', 'after');
      const events = (await followEvents(server.url, next, asAdmin)).map((e) => e.line);
      assert.equal(events[events.length - 1]!.result.status, 'succeeded');
    });

    test('SIGTERM drains: a build that cannot finish goes back to the queue and runs again after a restart', async () => {
      const id = await create(LONG, 'drained');
      await until('the build to run', async () => ((await state(id)).state === 'running' ? true : undefined));
      const { dataDir, databaseUrl } = server!;
      kept = { dataDir, databaseUrl };
      await server!.stop({ keepData: true });
      server = await startCairn({ database, env: ENV, dataDir, ...(databaseUrl ? { databaseUrl } : {}) });
      await until('the build to run again', async () => ((await state(id)).state === 'running' ? true : undefined));
      const cancelled = await http('POST', `${server.url}/api/v1/builds/${id}/cancel`, { headers: asAdmin });
      assert.equal(cancelled.status, 200);
      const events = (await followEvents(server.url, id, asAdmin)).map((e) => e.line);
      const starts = events.filter((e) => e.type === 'vertex' && e.name.startsWith('[internal] load build definition'));
      assert.equal(starts.length, 2, 'the build ran twice: before the drain and after the restart');
      assert.equal(events[events.length - 1]!.result.status, 'cancelled');
    });

    test('--build-workers 2: each slot has its own snapshot directory, kept across a restart', async () => {
      await server?.stop();
      server = await startCairn({ database, env: ENV, extraArgs: ['--build-workers', '2'] });
      await pushBusyboxBase(server.url, asAdmin);
      const slots = [0, 1].map((i) => join(server!.dataDir, 'worker', String(i), 'snapshots'));
      const ready = await until('two ready workers', async () => (readyWorkers(server!).length === 2 ? readyWorkers(server!) : undefined));
      assert.deepEqual(ready.map((w) => w.snapshotDir).sort(), slots);
      // Two builds at once, one per worker: each extracts the base into its own directory.
      const ids = await Promise.all([create(`FROM ${BUSYBOX_BASE}\nRUN sleep 2\n`, 'one'), create(`FROM ${BUSYBOX_BASE}\nRUN sleep 2; echo two\n`, 'two')]);
      for (const id of ids) {
        const events: Array<Record<string, any>> = (await followEvents(server.url, id, asAdmin)).map((e) => e.line);
        assert.equal(events[events.length - 1]!.result.status, 'succeeded', JSON.stringify(events[events.length - 1]));
      }
      for (const dir of slots) assert.ok((await readdir(dir)).length > 0, `${dir} holds snapshots`);
      // A restarted worker comes back to its slot's directory.
      const killed = ready[0]!;
      process.kill(killed.pid, 'SIGKILL');
      const restarted = await until('the worker to restart', async () => readyWorkers(server!).find((w) => w.pid !== ready[0]!.pid && w.pid !== ready[1]!.pid));
      assert.equal(restarted.snapshotDir, killed.snapshotDir);
    });
  });
}
