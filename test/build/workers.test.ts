/**
 * The worker processes of `cairn serve`: a worker killed mid-build fails that build at once and is
 * restarted (the next build runs); on SIGTERM a worker drains, and a build that cannot finish in
 * time goes back to the queue, to be run again after the restart.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import { dropPostgresDatabase } from '../support/databases.js';
import { ADMIN_PASSWORD, basic } from '../support/auth.js';
import { http } from '../support/http.js';
import { startCairn, testDatabases, type StartedCairn } from '../support/registry.js';
import { buildBody, followEvents, TEST_ENGINE } from './support/builds.js';

const asAdmin = basic('admin', ADMIN_PASSWORD);
const ENV = { CAIRN_ADMIN_PASSWORD: ADMIN_PASSWORD, CAIRN_TEST_BUILD_ENGINE: TEST_ENGINE };

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
      const id = await create('FROM scratch\nRUN sleep 60\n', 'killed');
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
      const id = await create('FROM scratch\nRUN sleep 60\n', 'drained');
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
  });
}
