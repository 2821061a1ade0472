/**
 * The builds API against a real server whose worker process runs the build engine (RUN steps
 * under runc, over a busybox base the test pushes): create with multipart, the event stream
 * following a running build, cancel, list, and the refusals in the documented shape.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ADMIN_PASSWORD, admin, basic } from '../support/auth.js';
import { http } from '../support/http.js';
import { describeOnEachDatabase } from '../support/suite.js';
import { BUSYBOX_BASE, buildBody, followEvents, pushBusyboxBase } from './support/builds.js';

const CONTEXT_LIMIT = 256 * 1024;
const asAdmin = basic('admin', ADMIN_PASSWORD);
const dev = basic('dev', 'dev-password-1');

describeOnEachDatabase(
  'builds API',
  (ctx) => {
    const create = async (request: object, files: Record<string, string | Buffer>, who = asAdmin) => {
      const { body, contentType } = await buildBody(request, files);
      return http('POST', `${ctx.base}/api/v1/builds`, { headers: { ...who, 'content-type': contentType }, body });
    };
    const waitForWorker = async () => {
      // The worker process says it is alive within a second or two of the server's start.
      for (let i = 0; i < 100; i++) {
        const probe = await create({ tags: ['warm/up:1'] }, { Dockerfile: 'FROM scratch\n' });
        if (probe.status === 201) return probe.json().id as string;
        assert.equal(probe.status, 503, probe.text());
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.fail('no build worker came up');
    };

    test('setup: a developer with pull only, a busybox base, and a live worker', async () => {
      await pushBusyboxBase(ctx.base, asAdmin);
      assert.equal((await admin(ctx.base, 'POST', '/users', { name: 'dev', password: 'dev-password-1' })).status, 201);
      assert.equal((await admin(ctx.base, 'POST', '/permissions', { account: 'dev', pattern: 'team/**', actions: ['pull'] })).status, 201);
      await waitForWorker();
    });

    test('a build is created from multipart, runs in the worker, and its image is in the registry', async () => {
      const created = await create({ tags: ['team/app:v1', 'team/app:latest'] }, { Dockerfile: 'FROM scratch\nCOPY . /\n', 'hello.txt': 'hello\n' });
      assert.equal(created.status, 201, created.text());
      const build = created.json();
      assert.equal(build.actor, 'admin');
      assert.match(build.contextDigest, /^sha256:[0-9a-f]{64}$/);
      assert.deepEqual(build.request, { tags: ['team/app:v1', 'team/app:latest'], dockerfile: 'Dockerfile', buildArgs: {}, noCache: false, format: 'oci', compression: 'gzip' });
      const events = (await followEvents(ctx.base, build.id, asAdmin)).map((e) => e.line);
      assert.deepEqual(events.map((e) => e.seq), events.map((_e, i) => i + 1), 'seq numbers are 1, 2, 3…');
      assert.equal(events[0]!.name, '[internal] load build definition from Dockerfile');
      assert.ok(events.some((e) => e.type === 'vertex' && e.name === '[2/2] COPY . /'));
      const last = events[events.length - 1]!;
      assert.equal(last.type, 'result');
      assert.equal(last.result.status, 'succeeded', JSON.stringify(last));
      const status = (await http('GET', `${ctx.base}/api/v1/builds/${build.id}`, { headers: asAdmin })).json();
      assert.equal(status.state, 'succeeded');
      assert.ok(status.result.durationMs > 0);
      const pushed = await http('GET', `${ctx.base}/v2/team/app/manifests/v1`, { headers: { ...asAdmin, accept: 'application/vnd.oci.image.manifest.v1+json' } });
      assert.equal(pushed.status, 200);
      assert.equal(pushed.headers['docker-content-digest'], status.result.images[0].digest);
      const layer = pushed.json().layers[0];
      assert.equal((await http('GET', `${ctx.base}/v2/team/app/blobs/${layer.digest}`, { headers: asAdmin })).status, 200);
      // Replaying from an offset gives the rest of the same log.
      const rest = (await followEvents(ctx.base, build.id, asAdmin, 2)).map((e) => e.line);
      assert.deepEqual(rest, events.slice(2));
    });

    test('the event stream follows a running build live and ends when it finishes', async () => {
      const created = await create({ tags: ['team/app:slow'] }, { Dockerfile: `FROM ${BUSYBOX_BASE}\nRUN for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15; do echo tick $i; sleep 0.2; done\nCOPY . /\n` });
      assert.equal(created.status, 201, created.text());
      const received = await followEvents(ctx.base, created.json().id, asAdmin);
      const ticks = received.filter((e) => e.line.type === 'log' && e.line.text.startsWith('tick'));
      assert.ok(ticks.length >= 5, `${ticks.length} output lines`);
      const end = received[received.length - 1]!;
      assert.equal(end.line.type, 'result');
      assert.equal(end.line.result.status, 'succeeded');
      // Lines arrived while the build ran, not all at its end.
      assert.ok(end.at - ticks[0]!.at > 1500, `first output ${Math.round(end.at - ticks[0]!.at)} ms before the end`);
    });

    test('a failed build ends with its error', async () => {
      const created = await create({ tags: ['team/app:broken'] }, { Dockerfile: `FROM ${BUSYBOX_BASE}\nRUN echo about to fail >&2; false\n` });
      const events = (await followEvents(ctx.base, created.json().id, asAdmin)).map((e) => e.line);
      assert.ok(events.some((e) => e.type === 'error' && /exit code: 1/.test(e.message)));
      assert.equal(events[events.length - 1]!.result.status, 'failed');
    });

    test('cancel: a running build stops at its next heartbeat', async () => {
      const created = await create({ tags: ['team/app:long'] }, { Dockerfile: `FROM ${BUSYBOX_BASE}\nRUN sleep 60\n` });
      const id = created.json().id;
      for (let i = 0; i < 100 && (await http('GET', `${ctx.base}/api/v1/builds/${id}`, { headers: asAdmin })).json().state !== 'running'; i++) await new Promise((r) => setTimeout(r, 100));
      const t0 = performance.now();
      const cancelled = await http('POST', `${ctx.base}/api/v1/builds/${id}/cancel`, { headers: asAdmin });
      assert.equal(cancelled.status, 200, cancelled.text());
      assert.equal(cancelled.json().cancelRequested, true);
      const events = (await followEvents(ctx.base, id, asAdmin)).map((e) => e.line);
      assert.equal(events[events.length - 1]!.result.status, 'cancelled');
      assert.ok(performance.now() - t0 < 5000, 'cancelled within seconds');
      assert.equal((await http('GET', `${ctx.base}/api/v1/builds/${id}`, { headers: asAdmin })).json().state, 'cancelled');
      // Cancelling a finished build changes nothing.
      assert.equal((await http('POST', `${ctx.base}/api/v1/builds/${id}/cancel`, { headers: asAdmin })).json().state, 'cancelled');
      const audit = (await admin(ctx.base, 'GET', `/audit-events?target=${id}`)).json().events.map((e: { action: string }) => e.action);
      assert.deepEqual(audit.sort(), ['build.cancel', 'build.cancel', 'build.create']);
    });

    test('a base image the actor may not pull fails the build, naming the image and nothing about it', async () => {
      assert.equal((await admin(ctx.base, 'POST', '/users', { name: 'builder', password: 'builder-password-1' })).status, 201);
      assert.equal((await admin(ctx.base, 'POST', '/permissions', { account: 'builder', pattern: 'team/**', actions: ['pull', 'push'] })).status, 201);
      assert.equal((await admin(ctx.base, 'POST', '/permissions', { account: 'builder', pattern: 'base/**', actions: ['pull'] })).status, 201);
      await pushBusyboxBase(ctx.base, asAdmin, 'secret/base:1');
      const builder = basic('builder', 'builder-password-1');
      const failure = async (dockerfile: string) => {
        const created = await create({ tags: ['team/app:from-secret'] }, { Dockerfile: dockerfile }, builder);
        assert.equal(created.status, 201, created.text());
        const events = (await followEvents(ctx.base, created.json().id, builder)).map((e) => e.line);
        const result = events[events.length - 1]!.result;
        assert.equal(result.status, 'failed');
        return { result, events: JSON.stringify(events) };
      };
      const denied = 'pull access denied for base image secret/base:1: it does not exist or builder may not pull it';
      const existing = await failure('FROM secret/base:1\n');
      assert.equal(existing.result.error, denied);
      // An image that is not there reads the same: the denial says nothing about what exists.
      const missing = await failure('FROM secret/nothing:1\n');
      assert.equal(missing.result.error, denied.replaceAll('secret/base:1', 'secret/nothing:1'));
      const copied = await failure(`FROM ${BUSYBOX_BASE}\nCOPY --from=secret/base:1 /bin/busybox /x\n`);
      assert.equal(copied.result.error, denied);
      const manifestDigest = (await http('HEAD', `${ctx.base}/v2/secret/base/manifests/1`, { headers: asAdmin })).headers['docker-content-digest']!;
      for (const { events } of [existing, copied]) assert.ok(!events.includes(manifestDigest.slice(7)), 'no digest of the image');
      // The same base is fine for an actor who may pull it: the check is the actor's.
      const allowed = await create({ tags: ['team/app:from-secret'] }, { Dockerfile: 'FROM secret/base:1\n' });
      const events = (await followEvents(ctx.base, allowed.json().id, asAdmin)).map((e) => e.line);
      assert.equal(events[events.length - 1]!.result.status, 'succeeded', JSON.stringify(events[events.length - 1]));
    });

    test('list: newest first, paged with a cursor; a developer sees only their own', async () => {
      const all = (await http('GET', `${ctx.base}/api/v1/builds?limit=200`, { headers: asAdmin })).json();
      assert.ok(all.builds.length >= 5);
      assert.equal(all.next, null);
      const first = (await http('GET', `${ctx.base}/api/v1/builds?limit=2`, { headers: asAdmin })).json();
      assert.deepEqual(first.builds.map((b: { id: string }) => b.id), all.builds.slice(0, 2).map((b: { id: string }) => b.id));
      const second = (await http('GET', `${ctx.base}/api/v1/builds?limit=2&before=${first.next}`, { headers: asAdmin })).json();
      assert.deepEqual(second.builds.map((b: { id: string }) => b.id), all.builds.slice(2, 4).map((b: { id: string }) => b.id));
      assert.deepEqual((await http('GET', `${ctx.base}/api/v1/builds`, { headers: dev })).json().builds, []);
      assert.equal((await http('GET', `${ctx.base}/api/v1/builds/${all.builds[0].id}`, { headers: dev })).status, 404);
      assert.equal((await http('GET', `${ctx.base}/api/v1/builds`)).status, 401);
    });

    test('refusals, in the documented shape, and nothing half-written', async () => {
      const before = (await http('GET', `${ctx.base}/api/v1/builds?limit=200`, { headers: asAdmin })).json().builds.length;
      const denied = await create({ tags: ['team/app:dev'] }, { Dockerfile: 'FROM scratch\n' }, dev);
      assert.equal(denied.status, 403);
      assert.deepEqual(denied.json(), { error: { code: 'forbidden', message: 'no push permission on team/app', detail: null } });

      const huge = await create({ tags: ['team/app:huge'] }, { Dockerfile: 'FROM scratch\n', big: Buffer.alloc(CONTEXT_LIMIT + 1024, 7) });
      assert.equal(huge.status, 413, huge.text());
      assert.equal(huge.json().error.code, 'body_too_large');

      const { body, contentType } = await buildBody({}, {});
      const notJson = await http('POST', `${ctx.base}/api/v1/builds`, { headers: { ...asAdmin, 'content-type': contentType }, body: body.toString('latin1').replace('{}', '{"tags": [') });
      assert.equal(notJson.status, 400);
      assert.equal(notJson.json().error.code, 'invalid_request');
      const badField = await create({ tags: ['team/app:x'], dockerFile: 'x' }, { Dockerfile: '' });
      assert.equal(badField.status, 400);
      assert.deepEqual(badField.json().error.detail, [{ in: 'request', path: '', message: 'must NOT have additional properties' }]);
      const badTag = await create({ tags: ['Team/App:x'] }, { Dockerfile: '' });
      assert.equal(badTag.status, 400);
      const json = await http('POST', `${ctx.base}/api/v1/builds`, { headers: { ...asAdmin, 'content-type': 'application/json' }, body: '{"tags":["team/app:x"]}' });
      assert.equal(json.status, 415);
      assert.equal(json.json().error.code, 'unsupported_media_type');
      const after = (await http('GET', `${ctx.base}/api/v1/builds?limit=200`, { headers: asAdmin })).json().builds.length;
      assert.equal(after, before, 'no build was queued by a refused request');
    });
  },
  { env: { CAIRN_ADMIN_PASSWORD: ADMIN_PASSWORD, CAIRN_BUILD_CONTEXT_MAX_BYTES: String(CONTEXT_LIMIT) } },
);

describeOnEachDatabase(
  'builds off',
  (ctx) => {
    test('with --build-workers 0 (and no cairn worker) a build is refused at once, saying why', async () => {
      const { body, contentType } = await buildBody({ tags: ['team/app:v1'] }, { Dockerfile: 'FROM scratch\n' });
      const refused = await http('POST', `${ctx.base}/api/v1/builds`, { headers: { ...asAdmin, 'content-type': contentType }, body });
      assert.equal(refused.status, 503);
      assert.equal(refused.json().error.code, 'unavailable');
      assert.match(refused.json().error.message, /--build-workers 0/);
    });
  },
  { env: { CAIRN_ADMIN_PASSWORD: ADMIN_PASSWORD }, extraArgs: ['--build-workers', '0'] },
);
