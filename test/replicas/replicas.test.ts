// Three `cairn serve` processes over one PostgreSQL database and one S3 bucket prefix, behind a
// round-robin proxy that sends each request to the next replica (test/support/round-robin-proxy.ts):
// every chunk of an upload is handed over to another process. Through it: the OCI conformance suite,
// skopeo and podman, a BuildKit replay, and a replica SIGKILLed while several clients push — nothing
// acknowledged is lost and the interrupted uploads go on through the others.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { test01Pull } from '../conformance/01_pull.js';
import { test02Push } from '../conformance/02_push.js';
import { test03ContentDiscovery } from '../conformance/03_discovery.js';
import { test04ContentManagement } from '../conformance/04_management.js';
import { Suite } from '../conformance/setup.js';
import { loadBlobPool, loadScenario } from '../buildkit/fixtures.js';
import { priorState, Replayer } from '../buildkit/replayer.js';
import { Client, IN_CI, containersStorageArgs, findBinary, startOnFreePort } from '../support/clients.js';
import { buildBusyboxOciLayout } from '../support/images.js';
import { startCairn, testDatabases, type StartedCairn } from '../support/registry.js';
import { startRoundRobinProxy, type RoundRobinProxy } from '../support/round-robin-proxy.js';
import { dropServerPrefix, s3ServerEnv, s3Target, S3_SKIP } from '../support/s3.js';

const PORTS = { first: 5950, last: 5999 };
const target = s3Target();
// In CI the S3 server is started for the run: its absence is a failure there, not a skip.
const skip = S3_SKIP && !IN_CI ? S3_SKIP : !testDatabases().includes('postgres') ? 'replicas share PostgreSQL: CAIRN_TEST_DATABASES leaves it out' : false;

describe('three replicas over PostgreSQL and S3 behind a round-robin proxy', { skip }, () => {
  const replicas: StartedCairn[] = [];
  let proxy: RoundRobinProxy;
  let dir: string;
  const prefix = `replicas-${randomBytes(4).toString('hex')}/`;

  before(async () => {
    assert.ok(target, 'CAIRN_TEST_S3_ENDPOINT is not set');
    dir = mkdtempSync(join(tmpdir(), 'cairn-replicas-'));
    // One bucket prefix and one token signing key for all: what replicas must share (README).
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    writeFileSync(join(dir, 'token-key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const env = { ...(await s3ServerEnv(target, prefix)), CAIRN_TOKEN_KEY_FILE: join(dir, 'token-key.pem') };
    // One after the other: the first creates the database and applies the migrations.
    replicas.push(await startCairn({ database: 'postgres', env }));
    for (let i = 1; i < 3; i++) replicas.push(await startCairn({ databaseUrl: replicas[0]!.databaseUrl!, env }));
    proxy = await startOnFreePort('proxy', async (port) => startRoundRobinProxy(replicas.map((r) => r.url), port).catch(() => null), PORTS);
  }, { timeout: 180_000 });

  after(async () => {
    await proxy?.close();
    // The first replica made the database: it goes last, and drops it.
    for (const replica of [...replicas].reverse()) await replica.stop();
    if (target) await dropServerPrefix(target, prefix);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, { timeout: 120_000 });

  test('the requests of one upload are spread over the three replicas', async () => {
    const blob = randomBytes(3 * 1024);
    const { uploadPath } = await pushBlob(proxy.url, 'spread/check', blob, 1024);
    const routes = proxy.routed.filter((r) => r.path.startsWith(uploadPath));
    assert.equal(routes.length, 4, JSON.stringify(routes)); // three PATCHes and the PUT
    assert.equal(new Set(routes.map((r) => r.backend)).size, 3, JSON.stringify(routes));
    const got = Buffer.from(await (await fetch(`${proxy.url}/v2/spread/check/blobs/${digestOf(blob)}`)).arrayBuffer());
    assert.ok(got.equals(blob));
  });

  describe('OCI conformance suite through the proxy', () => {
    const suite = new Suite(() => proxy.url, { deleteManifestBeforeBlobs: true, automaticCrossmount: true });
    after(() => suite.client.close());
    test01Pull(suite);
    test02Push(suite);
    test03ContentDiscovery(suite);
    test04ContentManagement(suite);
  });

  test('skopeo and podman push and pull through the proxy', { timeout: 300_000 }, async (t) => {
    if (!findBinary('skopeo') || !findBinary('podman')) {
      if (IN_CI) assert.fail('skopeo and podman are required');
      return t.skip('skopeo or podman missing');
    }
    const layout = join(dir, 'layout');
    const image = buildBusyboxOciLayout(layout, { tag: 'v1', extraFile: { path: 'etc/replicas', content: 'x' } });
    const skopeo = new Client('skopeo');
    const ref = (tag: string) => `${proxy.hostPort}/replicas/app:${tag}`;
    await skopeo.ok(['copy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${ref('v1')}`]);
    const info = JSON.parse((await skopeo.ok(['inspect', '--tls-verify=false', `docker://${ref('v1')}`])).stdout) as { Digest: string };
    assert.equal(info.Digest, image.manifestDigest);
    const podman = new Client('podman', containersStorageArgs(join(dir, 'podman'), join(dir, 'pr')));
    await podman.ok(['pull', '--tls-verify=false', ref('v1')]);
    await podman.ok(['tag', ref('v1'), ref('podman')]);
    await podman.ok(['push', '--tls-verify=false', ref('podman')]);
    await skopeo.ok(['copy', '--src-tls-verify=false', `docker://${ref('podman')}`, `oci:${join(dir, 'back')}:v1`]);
    await podman.run(['rmi', '-a', '-f']);
  });

  test('BuildKit replay (image-manifest cache export, import, change) through the proxy', { timeout: 300_000 }, async (t) => {
    const pool = loadBlobPool();
    const base = loadScenario('base');
    const scenario = loadScenario('a-image-manifest');
    const replayer = new Replayer(proxy.url, pool);
    const baseRequests = base.steps.flatMap((s) => s.requests);
    const requests = scenario.steps.flatMap((s) => s.requests);
    for (const r of baseRequests) await replayer.replay(r, 'base/export');
    await replayer.seed(priorState([...baseRequests, ...requests], pool));
    for (const step of scenario.steps) {
      await t.test(step.name, async () => {
        for (const r of step.requests) await replayer.replay(r, `a-image-manifest/${step.name}`);
        if (step.tagsAfter) await replayer.checkTags(step.tagsAfter);
      });
    }
    if (scenario.finalTags) await replayer.checkTags(scenario.finalTags);
  });

  test('a replica SIGKILLed during pushes by several clients: nothing acknowledged is lost, interrupted uploads go on', { timeout: 300_000 }, async () => {
    const PUSHERS = 4;
    const BLOBS = 2;
    // Over S3's 5 MiB minimum part: the multipart path and its hand-over are exercised.
    const SIZE = 6 * 1024 * 1024 + 123;
    const CHUNK = 1024 * 1024;
    const acknowledged: Array<{ repo: string; digest: string; bytes: Buffer }> = [];
    let resumed = 0;
    let killed = false;
    const pushes = Array.from({ length: PUSHERS }, async (_, p) => {
      for (let b = 0; b < BLOBS; b++) {
        const repo = `crash/pusher-${p}`;
        const bytes = randomBytes(SIZE);
        const outcome = await pushBlob(proxy.url, repo, bytes, CHUNK);
        resumed += outcome.resumed;
        acknowledged.push({ repo, digest: digestOf(bytes), bytes });
      }
    });
    // Kill replica 2 once the pushes are well under way (a few chunks through each replica).
    const start = proxy.routed.length;
    while (proxy.routed.length < start + 3 * PUSHERS) await new Promise((r) => setTimeout(r, 20));
    await replicas[2]!.stop({ signal: 'SIGKILL', keepData: true });
    killed = true;
    // As a balancer's health check would, soon: until then the proxy finds out by itself (502s).
    setTimeout(() => proxy.remove(2), 2_000).unref();
    await Promise.all(pushes);
    assert.ok(killed);
    assert.equal(acknowledged.length, PUSHERS * BLOBS);
    assert.ok(resumed > 0, 'no upload was interrupted by the kill: the test did not test anything');
    // Every acknowledged blob, from each surviving replica directly.
    for (const replica of replicas.slice(0, 2)) {
      for (const blob of acknowledged) {
        const got = Buffer.from(await (await fetch(`${replica.url}/v2/${blob.repo}/blobs/${blob.digest}`)).arrayBuffer());
        assert.equal(digestOf(got), blob.digest);
      }
    }
    console.log(`replicas: ${resumed} uploads resumed after the kill; ${proxy.routed.length} requests routed in all`);
  });

  // Last: it turns authentication on for the whole cluster. Replica 2 is dead by now; 0 and 1 remain.
  test('authentication across replicas: enforcement, shared tokens, a revoked grant — each within its documented bound', { timeout: 120_000 }, async () => {
    const live = replicas.slice(0, 2);
    const admin = basic('admin', 'admin-password-1');
    const json = { 'content-type': 'application/json' };
    const created = await fetch(`${proxy.url}/api/v1/users`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'admin', password: 'admin-password-1', admin: true }) });
    assert.equal(created.status, 201, await created.text());
    // Each replica rechecks whether an admin exists every 5 s (README: Running several replicas).
    const enforcedIn = await within(7_000, async () => {
      for (const r of live) if ((await fetch(`${r.url}/v2/`)).status !== 401) return false;
      return true;
    });
    assert.ok(enforcedIn <= 7_000);
    assert.equal((await fetch(`${proxy.url}/api/v1/users`, { method: 'POST', headers: { ...json, authorization: admin }, body: JSON.stringify({ name: 'alice', password: 'alice-password-1' }) })).status, 201);
    const grant = await fetch(`${proxy.url}/api/v1/permissions`, { method: 'POST', headers: { ...json, authorization: admin }, body: JSON.stringify({ account: 'alice', pattern: 'team/**', actions: ['pull', 'push'] }) });
    assert.equal(grant.status, 201);
    const { id } = (await grant.json()) as { id: number };
    const probe = `/v2/team/app/blobs/sha256:${'0'.repeat(64)}`;
    // A token issued by one replica is accepted by the other: they share the signing key.
    const issued = await fetch(`${live[0]!.url}/token?service=cairn&scope=repository:team/app:pull,push`, { headers: { authorization: basic('alice', 'alice-password-1') } });
    assert.equal(issued.status, 200);
    const { token } = (await issued.json()) as { token: string };
    const grantedIn = await within(7_000, async () => (await fetch(`${live[1]!.url}${probe}`, { headers: { authorization: `Bearer ${token}` } })).status === 404);
    assert.ok(grantedIn <= 7_000);
    // A revoke through one replica holds on the other within the permission cache's 5 s.
    assert.equal((await fetch(`${live[0]!.url}/api/v1/permissions/${id}`, { method: 'DELETE', headers: { authorization: admin } })).status, 204);
    const revokedIn = await within(7_000, async () => (await fetch(`${live[1]!.url}${probe}`, { headers: { authorization: basic('alice', 'alice-password-1') } })).status === 403);
    console.log(`replicas: enforced on every replica after ${enforcedIn} ms, a revoke held after ${revokedIn} ms`);
  });
});

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Polls `check` until it holds; returns how long that took, or fails after `limitMs`. */
async function within(limitMs: number, check: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > limitMs) assert.fail(`not within ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return Date.now() - start;
}

function digestOf(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/**
 * A chunked upload as clients do it, resuming as they should: after a failed request (the replica
 * died under it), ask the upload's status (through the proxy: another replica) and go on from the
 * offset it reports. Returns how many times it had to resume and which replica served what.
 */
async function pushBlob(base: string, repo: string, bytes: Buffer, chunk: number) {
  let resumed = 0;
  const started = await retry(() => fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST' }), [202]);
  let location = new URL(started.headers.get('location')!, base).toString();
  let offset = 0;
  while (offset < bytes.length) {
    const end = Math.min(offset + chunk, bytes.length);
    try {
      const answer = await fetch(location, {
        method: 'PATCH',
        headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${end - 1}` },
        body: new Uint8Array(bytes.subarray(offset, end)),
      });
      await answer.arrayBuffer();
      if (answer.status !== 202) throw new Error(`PATCH answered ${answer.status}`);
      location = new URL(answer.headers.get('location')!, base).toString();
      offset = end;
    } catch {
      resumed++;
      const status = await retry(() => fetch(location), [204]);
      const range = status.headers.get('range');
      offset = range ? Number(range.split('-')[1]) + 1 : 0;
      location = new URL(status.headers.get('location') ?? location, base).toString();
    }
  }
  const digest = digestOf(bytes);
  const uploadPath = new URL(location).pathname;
  try {
    await retry(() => fetch(`${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, { method: 'PUT' }), [201]);
  } catch (error) {
    // The PUT went through on the replica that died before answering: the upload is gone
    // because the blob is there. Anything else is a failure.
    if ((await fetch(`${base}/v2/${repo}/blobs/${digest}`, { method: 'HEAD' })).status !== 200) throw error;
    resumed++;
  }
  return { resumed, uploadPath };
}

/** Repeats a request the proxy answered 502 (the replica died under it) or that failed outright. */
async function retry(send: () => Promise<Response>, ok: readonly number[]): Promise<Response> {
  let last = '';
  for (let attempt = 0; attempt < 10; attempt++) {
    try {
      const answer = await send();
      if (ok.includes(answer.status)) return answer;
      last = `${answer.status} ${await answer.text()}`;
      if (answer.status < 500) break;
    } catch (error) {
      last = String(error);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`request failed: ${last}`);
}
