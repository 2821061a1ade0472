/**
 * Retention over REST against a real server: policies, branch states, the exact dry run, runs,
 * run history, the CLI, and the metadata-side proof that bytesFreed is exactly the bytes of the
 * blobs no manifest names any more once the run is done.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { sql } from 'kysely';
import { openDatabase } from '../../src/metadata/database.js';
import { http, type TestResponse } from '../support/http.js';
import { blobOf, OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, pushBlob, putManifest, randomBlob, type Blob } from '../support/oci.js';
import { describeOnEachDatabase } from '../support/suite.js';
import { BUILDKIT_UA, expectCache, fixtureBlob, fixtureManifest, pushFixture, referencedDigests } from '../cache-api/support.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

async function api(base: string, method: string, path: string, body?: unknown): Promise<TestResponse> {
  return http(method, `${base}/api/v1${path}`, {
    headers: body !== undefined ? { 'content-type': 'application/json' } : {},
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
}

interface Pushed {
  manifest: Blob;
  blobs: Blob[];
}

/** Pushes an image whose config is fresh and whose layers are the given blobs. */
async function pushImage(base: string, repository: string, reference: string, layers: Blob[]): Promise<Pushed> {
  const config = blobOf(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, salt: Math.random() }));
  for (const blob of [config, ...layers]) await pushBlob(base, repository, blob);
  const manifest = blobOf(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: OCI_LAYER, digest: l.digest, size: l.size })),
    }),
  );
  await putManifest(base, repository, reference, manifest.bytes, OCI_MANIFEST, 201);
  return { manifest, blobs: [config, ...layers] };
}

async function pushIndex(base: string, repository: string, tag: string, children: Pushed[]): Promise<Blob> {
  const index = blobOf(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: children.map((c) => ({ mediaType: OCI_MANIFEST, digest: c.manifest.digest, size: c.manifest.size })),
    }),
  );
  await putManifest(base, repository, tag, index.bytes, OCI_INDEX, 201);
  return index;
}

const sum = (blobs: Blob[]) => blobs.reduce((n, b) => n + b.size, 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describeOnEachDatabase('retention policies and branches', (ctx) => {
  test('policies: create, read, replace, list, delete; invalid ones refused with the documented error', async () => {
    const body = { repositories: ['team/**'], keep: { newestTags: 3 }, delete: { unusedForDays: 30 } };
    const created = await api(ctx.base, 'PUT', '/retention/policies/nightly', body);
    assert.equal(created.status, 200, created.text());
    assert.deepEqual(created.json().protect, { branches: ['default', 'main', 'master'], tags: [] });
    assert.deepEqual(created.json().tags, { kind: 'cache' });
    assert.equal(created.json().intervalSeconds, null);
    const replaced = await api(ctx.base, 'PUT', '/retention/policies/nightly', { ...body, intervalSeconds: 3600, tags: { kind: 'glob', patterns: ['cache-*'] } });
    assert.equal(replaced.status, 200);
    assert.equal(replaced.json().intervalSeconds, 3600);
    assert.ok(new Date(replaced.json().nextRunAt).getTime() > Date.now() + 3000_000);
    assert.deepEqual((await api(ctx.base, 'GET', '/retention/policies/nightly')).json().tags, { kind: 'glob', patterns: ['cache-*'] });
    assert.deepEqual((await api(ctx.base, 'GET', '/retention/policies')).json().policies.map((p: { name: string }) => p.name), ['nightly']);
    assert.equal((await api(ctx.base, 'GET', '/retention/policies/nightly')).json().prune, undefined, 'no prune unless asked for');
    const pruning = await api(ctx.base, 'PUT', '/retention/policies/nightly', { ...body, prune: { unusedDays: 14 } });
    assert.equal(pruning.status, 200, pruning.text());
    assert.deepEqual((await api(ctx.base, 'GET', '/retention/policies/nightly')).json().prune, { unusedDays: 14 });

    for (const [bad, why] of [
      [{ repositories: ['team/**'], tags: { kind: 'regex', pattern: '^(a+)+$' } }, /backtrack/],
      [{ repositories: ['Team/**'] }, /repository pattern/],
      [{ repositories: [] }, /./],
      [{ repositories: ['team/**'], keep: { newestTags: 0 } }, /./],
      [{ repositories: ['team/**'], delete: { unusedForDays: 'soon' } }, /./],
      [{ repositories: ['team/**'], extra: true }, /./],
      [{ repositories: ['team/**'], prune: { unusedDays: 0 } }, /unusedDays/],
      [{ repositories: ['team/**'], prune: {} }, /unusedDays/],
      [{ repositories: ['team/**'], prune: { unusedDays: 7, records: true } }, /additional properties/],
    ] as const) {
      const response = await api(ctx.base, 'PUT', '/retention/policies/bad', bad);
      assert.equal(response.status, 400, JSON.stringify(bad));
      assert.equal(response.json().error.code, 'invalid_request');
      assert.match(response.json().error.message, why);
    }
    assert.equal((await api(ctx.base, 'PUT', '/retention/policies/Bad%20Name', body)).status, 400);
    assert.equal((await api(ctx.base, 'GET', '/retention/policies/bad')).status, 404);
    assert.equal((await api(ctx.base, 'DELETE', '/retention/policies/nightly')).status, 204);
    assert.equal((await api(ctx.base, 'DELETE', '/retention/policies/nightly')).json().error.code, 'not_found');
    const audit = (await api(ctx.base, 'GET', '/audit-events?action=retention_policy.save')).json().events;
    assert.equal(audit[0].target, 'nightly');
  });

  test('branches: listed from cache tags, set gone and live, synced from the list of live branches', async () => {
    const repo = 'team/lifecycle';
    for (const tag of ['cache-main', 'cache-feature-a', 'cache-feature-b', 'v1']) await pushImage(ctx.base, repo, tag, [randomBlob(64)]);
    const listed = await api(ctx.base, 'GET', `/repositories/${repo}/branches`);
    assert.equal(listed.status, 200, listed.text());
    assert.deepEqual(listed.json().branches.map((b: { branch: string; state: string }) => `${b.branch}:${b.state}`), ['feature-a:live', 'feature-b:live', 'main:live']);

    const goneA = await api(ctx.base, 'PUT', `/repositories/${repo}/branches/feature%2Fa`, { state: 'gone' });
    assert.equal(goneA.status, 200, goneA.text());
    assert.equal(goneA.json().branch, 'feature-a', 'a Git-form name is sanitised like CI does');
    assert.equal(goneA.json().state, 'gone');
    const changedAt = goneA.json().changedAt;
    const again = await api(ctx.base, 'PUT', `/repositories/${repo}/branches/feature-a`, { state: 'gone' });
    assert.equal(again.json().changedAt, changedAt, 'marking a gone branch gone again does not restart its grace period');
    assert.equal((await api(ctx.base, 'PUT', `/repositories/${repo}/branches/feature-a`, { state: 'live' })).json().state, 'live');

    const synced = await api(ctx.base, 'PUT', `/repositories/${repo}/branches`, { live: ['main', 'feature/b'] });
    assert.equal(synced.status, 200, synced.text());
    assert.deepEqual(synced.json().gone, ['feature-a']);
    const after = (await api(ctx.base, 'GET', `/repositories/${repo}/branches`)).json().branches;
    assert.deepEqual(after.map((b: { branch: string; state: string }) => `${b.branch}:${b.state}`), ['feature-a:gone', 'feature-b:live', 'main:live']);

    assert.equal((await api(ctx.base, 'PUT', `/repositories/${repo}/branches/x`, { state: 'maybe' })).status, 400);
    assert.equal((await api(ctx.base, 'PUT', `/repositories/team/nope/branches/x`, { state: 'gone' })).status, 404);
    assert.equal((await api(ctx.base, 'PUT', `/repositories/Bad_Repo/branches/x`, { state: 'gone' })).status, 400);
    // The cache routes under /repositories/* still answer.
    assert.equal((await api(ctx.base, 'GET', `/repositories/${repo}/cache-settings`)).status, 200);
  });

  test('a scheduled policy runs on its own', async () => {
    const repo = 'sched/app';
    await pushImage(ctx.base, repo, 'cache-old', [randomBlob(32)]);
    await api(ctx.base, 'PUT', `/repositories/${repo}/branches/old`, { state: 'gone' });
    const created = await api(ctx.base, 'PUT', '/retention/policies/sched', { repositories: ['sched/*'], tags: { kind: 'all' }, delete: { branchGone: { graceHours: 0 } }, intervalSeconds: 10 });
    assert.equal(created.status, 200, created.text());
    // A run is listed from its start; wait for one that has finished.
    let runs: Array<{ trigger: string; tagsDeleted: number; finishedAt: string | null }> = [];
    for (let i = 0; i < 40 && !runs[0]?.finishedAt; i++) {
      await sleep(1000);
      runs = (await api(ctx.base, 'GET', '/retention/runs?policy=sched')).json().runs;
    }
    assert.equal(runs[0]?.trigger, 'schedule');
    assert.equal(runs[0]?.tagsDeleted, 1);
    assert.equal((await http('GET', `${ctx.base}/v2/${repo}/manifests/cache-old`)).status, 404);
    await api(ctx.base, 'DELETE', '/retention/policies/sched');
  });
});

describeOnEachDatabase('retention plan and run: exact bytes', (ctx) => {
  // team/app:  cache-gone  (config, S, a1, a2)    branch gone → delete
  //            cache-main  (config, S, b1)        protected
  //            cache-idx → index of E (config, S, e1) and F (config, f1); branch gone → delete
  //            U (config, u1), untagged           → delete (untagged rule)
  // other/app: v1 (config, a2)                    not selected; keeps a2 referenced
  const S = randomBlob(700);
  const a1 = randomBlob(300);
  const a2 = randomBlob(200);
  const b1 = randomBlob(100);
  const e1 = randomBlob(150);
  const f1 = randomBlob(120);
  const u1 = randomBlob(90);
  let gone: Pushed, main: Pushed, e: Pushed, f: Pushed, u: Pushed, other: Pushed;
  let index: Blob;
  let expectedFreed: Blob[];
  let planned: { decisions: Array<Record<string, unknown>>; bytesFreed: number; blobsFreed: number; manifests: Array<{ digest: string }> };

  test('setup: images, an index, an untagged manifest, gone branches, a policy', async () => {
    gone = await pushImage(ctx.base, 'team/app', 'cache-gone', [S, a1, a2]);
    main = await pushImage(ctx.base, 'team/app', 'cache-main', [S, b1]);
    e = await pushImage(ctx.base, 'team/app', 'placeholder-e', [S, e1]);
    f = await pushImage(ctx.base, 'team/app', 'placeholder-f', [f1]);
    index = await pushIndex(ctx.base, 'team/app', 'cache-idx', [e, f]);
    await http('DELETE', `${ctx.base}/v2/team/app/manifests/placeholder-e`);
    await http('DELETE', `${ctx.base}/v2/team/app/manifests/placeholder-f`);
    u = await pushImage(ctx.base, 'team/app', 'placeholder-u', [u1]);
    await http('DELETE', `${ctx.base}/v2/team/app/manifests/placeholder-u`);
    other = await pushImage(ctx.base, 'other/app', 'v1', [a2]);
    for (const branch of ['gone', 'idx']) assert.equal((await api(ctx.base, 'PUT', `/repositories/team/app/branches/${branch}`, { state: 'gone' })).status, 200);
    const policy = await api(ctx.base, 'PUT', '/retention/policies/caches', {
      repositories: ['team/*'],
      tags: { kind: 'glob', patterns: ['cache*'] },
      delete: { branchGone: { graceHours: 0 }, untaggedOlderThanDays: 0.00001 },
    });
    assert.equal(policy.status, 200, policy.text());
    await sleep(1500); // the untagged manifest's age passes 0.00001 d (0.864 s)
    expectedFreed = [gone.blobs[0]!, a1, e.blobs[0]!, e1, f.blobs[0]!, f1, u.blobs[0]!, u1];
  });

  test('the plan names each decision\'s rule and counts only blobs nothing else references, once', async () => {
    const response = await api(ctx.base, 'GET', '/retention/plan?policy=caches');
    assert.equal(response.status, 200, response.text());
    planned = response.json();
    const byTag = Object.fromEntries(planned.decisions.map((d) => [String(d.tag ?? d.digest), `${d.action}:${d.rule}`]));
    assert.deepEqual(byTag, {
      'cache-gone': 'delete:branch-gone',
      'cache-main': 'keep:protected-branch',
      'cache-idx': 'delete:branch-gone',
      [u.manifest.digest]: 'delete:untagged',
    });
    for (const d of planned.decisions) assert.ok(typeof d.reason === 'string' && (d.reason as string).length > 0);
    assert.equal(planned.bytesFreed, sum(expectedFreed), 'S is shared with cache-main, a2 with other/app: neither counts; S counted zero times, not three');
    assert.equal(planned.blobsFreed, expectedFreed.length);
    assert.deepEqual(
      planned.manifests.map((m) => m.digest).sort(),
      [gone.manifest.digest, index.digest, e.manifest.digest, f.manifest.digest, u.manifest.digest].sort(),
    );
    // The whole plan (no body) is the same here: one policy.
    const all = (await api(ctx.base, 'GET', '/retention/plan')).json();
    assert.equal(all.bytesFreed, planned.bytesFreed);
    assert.equal((await api(ctx.base, 'GET', '/retention/plan?policy=nope')).status, 404);
    // POST /retention/plan answers the shape exactly: the same decisions and bytes, nothing more.
    for (const body of [{ policy: 'caches' }, {}]) {
      const posted = await api(ctx.base, 'POST', '/retention/plan', body);
      assert.equal(posted.status, 200, posted.text());
      assert.deepEqual(
        posted.json(),
        {
          decisions: planned.decisions.map(({ repository, tag, digest, action, rule, reason }) => ({ repository, tag, digest, action, rule, reason })),
          bytesFreed: planned.bytesFreed,
          blobsFreed: planned.blobsFreed,
        },
        JSON.stringify(body),
      );
    }
    const unknownPolicy = await api(ctx.base, 'POST', '/retention/plan', { policy: 'nope' });
    assert.equal(unknownPolicy.status, 404);
    assert.equal(unknownPolicy.json().error.code, 'not_found');
    assert.equal((await api(ctx.base, 'POST', '/retention/plan', { policy: 'caches', dryRun: false })).json().error.code, 'invalid_request');
    // A dry run changes nothing.
    assert.equal((await http('GET', `${ctx.base}/v2/team/app/manifests/cache-gone`)).status, 200);
  });

  test('the CLI prints the same plan (in-process, no HTTP)', { skip: ctx.database === 'pglite' ? 'PGlite: the server holds the data directory' : false }, () => {
    const result = spawnSync(process.execPath, ['bin/cairn.js', 'retention', 'plan', '--policy', 'caches', '--json', '--database-url', ctx.server.databaseUrl!, '--data-dir', ctx.server.dataDir], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(result.status, 0, result.stderr);
    const printed = JSON.parse(result.stdout);
    assert.equal(printed.bytesFreed, planned.bytesFreed);
    assert.equal(printed.decisions.length, planned.decisions.length);
    const unknown = spawnSync(process.execPath, ['bin/cairn.js', 'retention', 'plan', '--policy', 'nope', '--database-url', ctx.server.databaseUrl!], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(unknown.status, 2);
    assert.equal(unknown.stderr.trim().split('\n').length, 1, unknown.stderr);
    assert.match(unknown.stderr, /no retention policy "nope"/);
  });

  test('the run deletes through the registry and records what, why and how many bytes', async () => {
    const response = await api(ctx.base, 'POST', '/retention/runs', { policy: 'caches' });
    assert.equal(response.status, 201, response.text());
    const [run] = response.json().runs;
    assert.equal(run.error, null);
    assert.equal(run.trigger, 'api');
    // No admin in this suite: the open registry's loopback caller, as the audit log names it.
    assert.deepEqual(run.actor, { name: 'anonymous', kind: 'open' });
    assert.equal(run.tagsDeleted, 2);
    assert.equal(run.manifestsDeleted, 5);
    assert.equal(run.bytesFreed, planned.bytesFreed);
    assert.equal(run.blobsFreed, planned.blobsFreed);
    const rules = run.deleted.map((d: { tag: string | null; digest: string; rule: string }) => `${d.tag ?? d.digest}:${d.rule}`).sort();
    assert.deepEqual(rules, [
      'cache-gone:branch-gone',
      'cache-idx:branch-gone',
      `${e.manifest.digest}:unreferenced`,
      `${f.manifest.digest}:unreferenced`,
      `${gone.manifest.digest}:unreferenced`,
      `${index.digest}:unreferenced`,
      `${u.manifest.digest}:untagged`,
    ].sort());
    for (const ref of ['cache-gone', 'cache-idx', gone.manifest.digest, index.digest, e.manifest.digest, u.manifest.digest]) {
      assert.equal((await http('GET', `${ctx.base}/v2/team/app/manifests/${ref}`)).status, 404, ref);
    }
    assert.equal((await http('GET', `${ctx.base}/v2/team/app/manifests/cache-main`)).status, 200);
    assert.equal((await http('GET', `${ctx.base}/v2/other/app/manifests/v1`)).status, 200);
    const history = (await api(ctx.base, 'GET', '/retention/runs?policy=caches')).json().runs;
    assert.equal(history[0].id, run.id);
    assert.deepEqual((await api(ctx.base, 'GET', `/retention/runs/${run.id}`)).json().deleted, run.deleted);
    assert.equal((await api(ctx.base, 'GET', '/retention/runs/999999')).status, 404);
    const metrics = (await http('GET', `${ctx.base}/metrics`)).text();
    assert.match(metrics, /cairn_retention_runs_total\{policy="caches",trigger="api",outcome="ok"\} 1/);
    assert.match(metrics, new RegExp(`cairn_retention_bytes_unreferenced_total\\{policy="caches"\\} ${planned.bytesFreed}`));
    const audit = (await api(ctx.base, 'GET', '/audit-events?action=retention.run')).json().events;
    assert.equal(audit[0].target, 'caches');
    assert.equal(audit[0].actorKind, 'open');
    assert.equal(audit[0].details.run, run.id);
    const applied = (await api(ctx.base, 'GET', '/audit-events?action=retention.apply')).json().events;
    assert.deepEqual([applied[0].target, applied[0].details], ['caches', { runs: [run.id] }]);
    // Nothing left to do.
    assert.equal((await api(ctx.base, 'GET', '/retention/plan?policy=caches')).json().bytesFreed, 0);
  });

  test('metadata side: the blobs no manifest names are exactly the ones counted', async () => {
    await ctx.server.stop({ keepData: true });
    const database = await openDatabase(
      ctx.server.databaseUrl ? { kind: 'postgres', url: ctx.server.databaseUrl } : { kind: 'pglite', dataDir: join(ctx.server.dataDir, 'pglite') },
    );
    try {
      const { rows } = await sql<{ digest: string; size: number }>`
        SELECT digest, size FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM manifest_blobs mb WHERE mb.blob_digest = b.digest)`.execute(database.db);
      assert.deepEqual(rows.map((r) => r.digest).sort(), expectedFreed.map((b) => b.digest).sort());
      assert.equal(rows.reduce((n, r) => n + Number(r.size), 0), planned.bytesFreed);
      const queued = await sql<{ digest: string }>`SELECT digest FROM gc_blob_review_queue WHERE event = 'manifest_deleted'`.execute(database.db);
      for (const b of expectedFreed) assert.ok(queued.rows.some((r) => r.digest === b.digest), `the GC review queue has ${b.digest}`);
    } finally {
      await database.db.destroy();
    }
    void other;
    void main;
  });
});

describeOnEachDatabase('retention over real BuildKit caches', (ctx) => {
  test('cache tags are selected from the cache index; an import keeps one, the other goes, shared layers not counted', async () => {
    const imported = fixtureManifest('a-image-manifest');
    const stale = fixtureManifest('b-index');
    await pushFixture(ctx.base, imported, 'ci/app', 'cache-imported');
    await pushFixture(ctx.base, stale, 'ci/app', 'cache-stale');
    await pushImage(ctx.base, 'ci/app', 'v1', [randomBlob(50)]);
    const policy = await api(ctx.base, 'PUT', '/retention/policies/ci', {
      repositories: ['ci/*'],
      keep: { importedWithinDays: 1 },
      delete: { unusedForDays: 0.00001 },
    });
    assert.equal(policy.status, 200, policy.text());
    // BuildKit's import: a GET of the cacheconfig (counted in batches, flushed every few seconds).
    const config = (JSON.parse(imported.bytes.toString()) as { config: { digest: string } }).config.digest;
    assert.equal((await http('GET', `${ctx.base}/v2/ci/app/blobs/${config}`, { headers: { 'user-agent': BUILDKIT_UA } })).status, 200);
    let verdicts: Record<string, string> = {};
    let planned: { bytesFreed: number; blobsFreed: number; decisions: Array<{ tag: string; action: string; rule: string }> } | undefined;
    for (let i = 0; i < 30 && verdicts['cache-imported'] !== 'keep:keep-imported-within'; i++) {
      await sleep(1000);
      planned = (await api(ctx.base, 'GET', '/retention/plan?policy=ci')).json();
      verdicts = Object.fromEntries(planned!.decisions.map((d) => [d.tag, `${d.action}:${d.rule}`]));
    }
    assert.deepEqual(verdicts, { 'cache-imported': 'keep:keep-imported-within', 'cache-stale': 'delete:unused-for' }, 'v1 is not a cache: not selected');
    const kept = new Set(referencedDigests(imported.bytes));
    const freed = referencedDigests(stale.bytes).filter((d) => !kept.has(d));
    assert.ok(freed.length < referencedDigests(stale.bytes).length, 'the two caches share layers (same base image)');
    assert.equal(planned!.blobsFreed, freed.length);
    assert.equal(planned!.bytesFreed, freed.reduce((n, d) => n + fixtureBlob(d).length, 0));
  });

  test('pruning inside a cache: layers and bytes held vs fetched, records never used', async () => {
    const cache = fixtureManifest('a-image-manifest');
    await pushFixture(ctx.base, cache, 'ci/usage', 'cache');
    const expected = expectCache(cache.bytes);
    const config = (JSON.parse(cache.bytes.toString()) as { config: { digest: string } }).config.digest;
    const used = [...expected.layerSizes.keys()][0]!;
    const ua = { 'user-agent': BUILDKIT_UA };
    assert.equal((await http('GET', `${ctx.base}/v2/ci/usage/blobs/${config}`, { headers: ua })).status, 200);
    assert.equal((await http('GET', `${ctx.base}/v2/ci/usage/blobs/${used}`, { headers: ua })).status, 200);
    let usage: Record<string, number> | undefined;
    for (let i = 0; i < 30 && !(usage?.layersFetched === 1 && usage?.importCount === 1); i++) {
      await sleep(1000);
      const response = await api(ctx.base, 'GET', '/repositories/ci/usage/cache-usage');
      assert.equal(response.status, 200, response.text());
      usage = response.json().caches[0];
    }
    const neverUsed = expected.recordRows.filter((r) => r.results.length > 0 && !r.results.some((chain) => chain[chain.length - 1] === used)).length;
    assert.deepEqual(usage, {
      ...usage,
      tag: 'cache',
      importCount: 1,
      layersHeld: expected.layerSizes.size,
      bytesHeld: [...expected.layerSizes.values()].reduce((n, b) => n + b, 0),
      layersFetched: 1,
      bytesFetched: expected.layerSizes.get(used),
      records: expected.records,
      recordsNeverUsed: neverUsed,
    });
    assert.ok(neverUsed < expected.recordRows.filter((r) => r.results.length > 0).length, 'the fetched layer is some record\'s result');
    assert.equal((await api(ctx.base, 'GET', '/repositories/ci/nothing/cache-usage')).status, 404);
  });
});

describeOnEachDatabase(
  'retention with CAIRN_DELETES=false',
  (ctx) => {
    test('clients cannot delete over /v2/; retention still applies the admin\'s policies (README, Deletes)', async () => {
      const repo = 'team/frozen';
      await pushImage(ctx.base, repo, 'pr-1', [randomBlob(64)]);
      const refused = await http('DELETE', `${ctx.base}/v2/${repo}/manifests/pr-1`);
      assert.equal(refused.status, 405, refused.text());
      assert.equal(refused.json().errors[0].code, 'UNSUPPORTED');
      const policy = await api(ctx.base, 'PUT', '/retention/policies/prs', { repositories: [repo], tags: { kind: 'glob', patterns: ['pr-*'] }, delete: { unusedForDays: 1 / 86_400 } });
      assert.equal(policy.status, 200, policy.text());
      await sleep(1_100);
      const applied = await api(ctx.base, 'POST', '/retention/runs', { policy: 'prs' });
      assert.equal(applied.status, 201, applied.text());
      assert.equal(applied.json().runs[0].tagsDeleted, 1);
      assert.equal((await http('GET', `${ctx.base}/v2/${repo}/manifests/pr-1`)).status, 404);
    });
  },
  { env: { CAIRN_DELETES: 'false' } },
);
