/**
 * The build queue on each database: concurrent takers never get the same job (FOR UPDATE SKIP
 * LOCKED), a worker that stops renewing loses its job (failed, with a result event), a draining
 * worker's job goes back to the queue; and a worker over the services directly (as `cairn worker`
 * runs it) builds a job end to end with the build engine.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { DirectBuildQueue } from '../../src/build/queue.js';
import { BuildService } from '../../src/build/service.js';
import { buildPullPermission } from '../../src/auth/index.js';
import { RegistryBuildHost } from '../../src/build/registry-host.js';
import { CacheService } from '../../src/cache/service.js';
import { loadEngine } from '../../src/build/worker/run-job.js';
import { BuildWorker } from '../../src/build/worker/worker.js';
import { createRegistry } from '../../src/registry/index.js';
import { FilesystemBlobStore } from '../../src/storage/filesystem/filesystem-store.js';
import { openTestDatabase, type TestMetadataDatabase } from '../support/databases.js';
import { testDatabases } from '../support/registry.js';
import { tarOf } from './support/builds.js';

const REQUEST = { tags: ['team/app:1'], dockerfile: 'Dockerfile', buildArgs: {}, noCache: false, format: 'oci', compression: 'gzip' } as const;
const ACTOR = { name: 'admin', kind: 'account' } as const;
const quiet = { info() {}, warn() {}, error() {} };

for (const kind of testDatabases()) {
  describe(`build queue [${kind}]`, () => {
    let db: TestMetadataDatabase;
    let dir: string;
    before(async () => {
      db = await openTestDatabase(kind);
      dir = await mkdtemp(join(tmpdir(), 'cairn-queue-'));
    });
    after(async () => {
      await db?.close();
      await rm(dir, { recursive: true, force: true });
    });
    const enqueue = (n: number) =>
      Promise.all(Array.from({ length: n }, (_v, i) => db.metadata.stores.builds.create({ id: crypto.randomUUID(), request: REQUEST, contextDigest: `sha256:${String(i).padStart(64, '0')}`, contextSize: 1, actor: ACTOR })));

    test('concurrent takers never get the same job, and take them all', async () => {
      const jobs = await enqueue(20);
      const taken: string[] = [];
      await Promise.all(
        ['w1', 'w2', 'w3', 'w4'].map(async (worker) => {
          for (;;) {
            const row = await db.metadata.stores.builds.take(worker, 30_000);
            if (!row) return;
            taken.push(row.id);
          }
        }),
      );
      assert.equal(new Set(taken).size, taken.length, 'no job taken twice');
      assert.deepEqual([...taken].sort(), jobs.map((j) => j.id).sort());
    });

    test('a worker that stops renewing loses its job: failed, with its result event', async () => {
      const [job] = await enqueue(1);
      const taken = await db.metadata.stores.builds.take('gone', 1);
      assert.equal(taken?.id, job!.id);
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(await db.metadata.stores.builds.failExpired(), [job!.id]);
      const row = await db.metadata.stores.builds.get(job!.id);
      assert.equal(row?.state, 'failed');
      assert.match(String(row?.result?.error), /lease expired/);
      const events = await db.metadata.stores.builds.events(job!.id, 0, 10);
      assert.deepEqual(events.map((e) => e.event.type), ['result']);
      assert.deepEqual(await db.metadata.stores.builds.renew(job!.id, 'gone', 1000), { cancelRequested: false, lost: true });
      assert.equal(await db.metadata.stores.builds.append(job!.id, 'gone', [{ type: 'cached', id: 1 }]), false, 'a lost worker writes nothing');
    });

    test('a draining worker gives its job back, first in line', async () => {
      const [job] = await enqueue(1);
      assert.equal((await db.metadata.stores.builds.take('drainer', 30_000))?.id, job!.id);
      await db.metadata.stores.builds.release(job!.id, 'drainer');
      const again = await db.metadata.stores.builds.take('other', 30_000);
      assert.equal(again?.id, job!.id);
      assert.equal(again?.attempts, 2);
    });

    test('a worker over the services directly builds a job end to end (cairn worker)', async () => {
      const store = new FilesystemBlobStore(join(dir, 'blobs'));
      await store.check();
      const registry = createRegistry(db.metadata, store);
      const builds = new BuildService(db.metadata, store, { contextMaxBytes: 1 << 20 });
      const context = await builds.storeContext(Readable.from([await tarOf({ Dockerfile: 'FROM scratch\nCOPY . /\n', 'a.txt': 'a' })]));
      // Drain what earlier tests left queued, so the worker takes this job.
      while (await db.metadata.stores.builds.take('sweeper', 30_000));
      const row = await builds.create({ ...REQUEST, tags: ['team/direct:1'] }, context, ACTOR);
      const worker = new BuildWorker(
        { id: 'direct-1', host: 'test', pid: process.pid },
        new DirectBuildQueue(db.metadata),
        await loadEngine(),
        { host: new RegistryBuildHost({ metadata: db.metadata, registry, storage: store, caches: new CacheService(db.metadata), pulls: buildPullPermission(db.metadata) }), store, workDir: join(dir, 'worker') },
        quiet,
      );
      worker.start();
      let state = row.state;
      for (let i = 0; i < 100 && (state === 'queued' || state === 'running'); i++) {
        await new Promise((r) => setTimeout(r, 100));
        state = (await builds.get(row.id)).state;
      }
      await worker.drain(1000);
      const done = await builds.get(row.id);
      assert.equal(done.state, 'succeeded', JSON.stringify(done.result));
      const manifest = await registry.manifests.resolve('team/direct', '1');
      assert.equal(manifest.digest, (done.result as { images: Array<{ digest: string }> }).images[0]!.digest);
      const events = await db.metadata.stores.builds.events(row.id, 0, 100);
      assert.equal(events[events.length - 1]!.event.type, 'result');
      assert.equal(await db.metadata.stores.builds.liveWorkers(15_000), 0, 'a drained worker has left');
    });
  });
}
