// buildah against the registry under test: working containers committed and pushed (layers of unknown
// length, sent chunked), and `bud --layers --cache-to/--cache-from`, where each step's result is pushed as
// CACHE_REPO:<64-hex key> and looked up by that key in a later build.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import {
  Client, INVALID_REFERENCE, INVALID_REPO, MISSING_MANIFEST, SLOW, clientSuite, containersStorageArgs,
  expectInRegistry, imageRef, listTags, repoName, useRegistry,
} from '../support/clients.js';
import { buildBusyboxOciLayout, type BuiltImage } from '../support/images.js';

clientSuite('buildah', ['buildah', 'runc'], () => {
  const ctx = useRegistry('buildah');
  const baseRepo = repoName('buildah-base');
  const appRepo = repoName('buildah-app');
  let buildah: Client;
  let image: BuiltImage;
  const base = () => imageRef(ctx.registry, baseRepo, 'v1');
  const app = (tag: string) => imageRef(ctx.registry, appRepo, tag);
  /** A client with its own, empty storage: a second "machine" that can only get layers from the registry. */
  const freshBuildah = (name: string) => new Client('buildah', containersStorageArgs(join(ctx.dir, name)));

  before(async () => {
    buildah = freshBuildah('main');
    const layout = join(ctx.dir, 'layout');
    image = buildBusyboxOciLayout(layout, { tag: 'v1', extraFile: { path: 'etc/client', content: 'buildah' } });
    // The base image everything below builds on; pushing it is itself the first check.
    await buildah.ok(['pull', `oci:${layout}:v1`]);
    await buildah.ok(['push', '--tls-verify=false', image.configDigest.slice('sha256:'.length), `docker://${base()}`]);
  });

  test('the base image pushed from an OCI layout is in the registry', SLOW, async () => {
    await expectInRegistry(ctx.registry, baseRepo, 'v1', { configDigest: image.configDigest });
  });

  test('from pushed image, run, commit, push, then pull into empty storage', SLOW, async () => {
    const container = (await buildah.ok(['from', '--tls-verify=false', base()])).stdout.trim();
    await buildah.ok(['run', '--network', 'none', container, '--', 'sh', '-c', 'echo built > /built.txt']);
    await buildah.ok(['commit', container, app('v1')]);
    await buildah.ok(['push', '--tls-verify=false', app('v1')]);
    await buildah.ok(['rm', container]);
    const pushed = await expectInRegistry(ctx.registry, appRepo, 'v1');

    const other = freshBuildah('other');
    await other.ok(['pull', '--tls-verify=false', app('v1')]);
    const id = await other.ok(['inspect', '--type', 'image', '--format', '{{.FromImageID}}', app('v1')]);
    assert.equal(`sha256:${id.stdout.trim()}`, pushed.config.digest);
    const check = (await other.ok(['from', app('v1')])).stdout.trim();
    assert.equal((await other.ok(['run', '--network', 'none', check, '--', 'cat', '/built.txt'])).stdout, 'built\n');
  });

  test('from scratch, add a file, commit, push', SLOW, async () => {
    const container = (await buildah.ok(['from', 'scratch'])).stdout.trim();
    const file = join(ctx.dir, 'hello.txt');
    writeFileSync(file, 'hello from scratch\n');
    await buildah.ok(['add', container, file, '/hello.txt']);
    await buildah.ok(['commit', container, app('scratch')]);
    await buildah.ok(['push', '--tls-verify=false', app('scratch')]);
    await buildah.ok(['rm', container]);
    await expectInRegistry(ctx.registry, appRepo, 'scratch');
  });

  test('bud --layers --cache-to/--cache-from: a second build elsewhere hits the remote cache', SLOW, async () => {
    const cacheRepo = repoName('buildah-cache');
    const cache = `${ctx.registry.hostPort}/${cacheRepo}`;
    const context = join(ctx.dir, 'context');
    mkdirSync(context);
    writeFileSync(join(context, 'Containerfile'),
      `FROM ${base()}\nRUN echo step1 > /step1.txt\nRUN echo step2 > /step2.txt\n`);
    const bud = (client: Client, tag: string) => client.ok(['bud', '--tls-verify=false', '--network', 'none',
      '--layers', '--cache-to', cache, '--cache-from', cache, '-t', app(tag), context]);

    const first = await bud(freshBuildah('bud1'), 'bud1');
    assert.match(first.stdout, /Pushing cache/);
    const keys = await listTags(ctx.registry, cacheRepo);
    assert.equal(keys.length, 2, `one cache tag per RUN step, got ${keys.join(', ')}`);
    for (const key of keys) assert.match(key, /^[0-9a-f]{64}$/);

    const second = await bud(freshBuildah('bud2'), 'bud2');
    const hits = second.stdout.match(/Cache pulled from remote/g) ?? [];
    assert.equal(hits.length, 2, `both RUN steps should come from the remote cache:\n${second.stdout}`);
  });

  test('missing tag, missing repository and invalid name fail cleanly', SLOW, async () => {
    await buildah.fails(['pull', '--tls-verify=false', app('no-such-tag')], MISSING_MANIFEST);
    await buildah.fails(['pull', '--tls-verify=false', imageRef(ctx.registry, repoName('absent'), 'v1')], MISSING_MANIFEST);
    await buildah.fails(['push', '--tls-verify=false', app('v1'), `docker://${imageRef(ctx.registry, INVALID_REPO, 'v1')}`],
      INVALID_REFERENCE);
  });
});
