/**
 * Who may run garbage collection and what is recorded: the admin API needs an admin and audits
 * each run; `cairn gc` runs a pass in-process on the server's database and storage (server
 * stopped: embedded PGlite is single-process), prints its report, and refuses bad settings with
 * one line and exit status 2.
 */
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, admin, basic } from '../support/auth.js';
import { http } from '../support/http.js';
import { makeImage, pushImage } from '../support/oci.js';
import { testDatabases } from '../support/registry.js';
import { testStorage } from '../support/s3.js';
import { sleep, startGcServer, type GcServer, type RunReport } from './support.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

for (const database of testDatabases()) {
  describe(`garbage collection: admin API access and audit [${database}]`, () => {
    let gc: GcServer;
    before(async () => {
      gc = await startGcServer(database, testStorage(), { CAIRN_GC_REVIEW_DELAY: '1s', CAIRN_GC_INTERVAL: '0', CAIRN_ADMIN_PASSWORD: ADMIN_PASSWORD });
    });
    after(async () => {
      await gc?.stop();
    });

    test('anonymous callers get 401, non-admins 403, admins the figures', async () => {
      assert.equal((await http('GET', `${gc.base}/api/v1/gc`)).status, 401);
      assert.equal((await http('POST', `${gc.base}/api/v1/gc/runs`)).status, 401);
      assert.equal((await admin(gc.base, 'POST', '/users', { name: 'dev', password: 'dev-password' })).status, 201);
      const dev = basic('dev', 'dev-password');
      assert.equal((await http('GET', `${gc.base}/api/v1/gc`, { headers: dev })).status, 403);
      assert.equal((await http('POST', `${gc.base}/api/v1/gc/runs`, { headers: dev })).status, 403);
      const status = await admin(gc.base, 'GET', '/gc');
      assert.equal(status.status, 200);
      assert.deepEqual(Object.keys(status.json()).slice(0, 4), ['queued', 'due', 'nextDueAt', 'bytesFreed']);
    });

    test('a run is audited with its actor, target and figures', async () => {
      const run = await admin(gc.base, 'POST', '/gc/runs?dryRun=true');
      assert.equal(run.status, 200);
      assert.equal(run.json().actor, 'admin');
      const events = (await admin(gc.base, 'GET', '/audit-events?action=gc.run')).json().events as Array<{ actor: string; target: string; details: { id: number; dryRun: boolean } }>;
      assert.equal(events.length, 1);
      assert.equal(events[0]!.actor, 'admin');
      assert.equal(events[0]!.target, 'gc');
      assert.equal(events[0]!.details.id, run.json().id);
      assert.equal(events[0]!.details.dryRun, true);
    });

    test('the OpenAPI document describes both routes', async () => {
      const paths = (await http('GET', `${gc.base}/api/v1/openapi.json`)).json().paths;
      assert.ok(paths['/api/v1/gc'].get);
      assert.ok(paths['/api/v1/gc/runs'].post);
    });
  });

  describe(`cairn gc [${database}]`, () => {
    test('collects in-process, reports as JSON, records the pass', async () => {
      const gc = await startGcServer(database, testStorage(), { CAIRN_GC_REVIEW_DELAY: '1s', CAIRN_GC_INTERVAL: '0' });
      try {
        const image = makeImage({ layers: 2 });
        await pushImage(gc.base, 'cli/app', image, 'v1');
        assert.equal((await http('DELETE', `${gc.base}/v2/cli/app/manifests/v1`)).status, 202);
        const { dataDir, databaseUrl } = gc.server;
        await gc.stop({ keepData: true });
        await sleep(1_300);
        const args = ['gc', '--data-dir', dataDir, ...(databaseUrl ? ['--database-url', databaseUrl] : [])];
        const env = { ...process.env, ...gc.storageEnv, CAIRN_GC_REVIEW_DELAY: '1s' };

        const dry = cairn([...args, '--dry-run', '--json'], env);
        assert.equal(dry.status, 0, dry.stderr);
        const dryReport = JSON.parse(dry.stdout) as RunReport;
        assert.equal(dryReport.dryRun, true);
        assert.equal(dryReport.manifestsDeleted, 1);

        const real = cairn([...args, '--json'], env);
        assert.equal(real.status, 0, real.stderr);
        const report = JSON.parse(real.stdout) as RunReport;
        assert.equal(report.manifestsDeleted, 1);
        assert.equal(report.blobsDeleted, 3);
        assert.equal(report.bytesFreed, [image.config, ...image.layers].reduce((n, b) => n + b.size, 0));
        assert.equal(report.swept, true);

        const again = cairn(args, env);
        assert.equal(again.status, 0, again.stderr);
        assert.match(again.stdout, /^deleted: 0 manifests, 0 blobs, 0 orphaned objects\nbytes freed: 0\n/);

        const bad = cairn(args, { ...env, CAIRN_GC_REVIEW_DELAY: 'soon' });
        assert.equal(bad.status, 2);
        assert.equal(bad.stderr.trim().split('\n').length, 1, bad.stderr);
        assert.match(bad.stderr, /CAIRN_GC_REVIEW_DELAY: "soon" is not a duration/);
      } finally {
        // Stopping again (after keepData) removes the data dir, database and S3 prefix.
        await gc.stop();
      }
    });
  });
}

function cairn(args: string[], env: NodeJS.ProcessEnv) {
  const result = spawnSync(process.execPath, ['bin/cairn.js', ...args], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
