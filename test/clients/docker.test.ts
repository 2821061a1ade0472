// dockerd (Debian's 20.10) against the registry under test, through a private daemon: load, push, pull,
// run, and a build whose inline cache is pushed to the registry and read back by a later build. dockerd
// always pushes Docker v2 schema 2 manifests, with chunked PATCH uploads.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import {
  Client, DOCKER_CLI, INVALID_REFERENCE, INVALID_REPO, MISSING_MANIFEST, SLOW, clientSuite, expectInRegistry, imageRef,
  repoName, startDockerd, useRegistry,
} from '../support/clients.js';
import { buildBusyboxDockerArchive, type BuiltImage } from '../support/images.js';

const DOCKER_V2_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';

/**
 * BuildKit when this CLI can drive dockerd's built-in BuildKit (CLIs up to 22.x do it themselves, later ones
 * only through the buildx plugin); otherwise the classic builder, whose --cache-from needs the image pulled.
 */
async function usesBuildKit(docker: Client): Promise<boolean> {
  const version = (await docker.ok(['version', '--format', '{{.Client.Version}}'])).stdout.trim();
  if (Number.parseInt(version, 10) <= 22) return true;
  return (await docker.run(['buildx', 'version'])).code === 0;
}

clientSuite('docker', [DOCKER_CLI, 'dockerd', 'containerd', 'runc'], () => {
  const ctx = useRegistry('docker');
  const repo = repoName('docker');
  const loadedTag = 'cairn-test/busybox:loaded';
  let docker: Client;
  let image: BuiltImage;
  let archive: string;
  const ref = (tag: string) => imageRef(ctx.registry, repo, tag);

  before(async () => {
    docker = await startDockerd(ctx);
    archive = join(ctx.dir, 'busybox.tar');
    image = buildBusyboxDockerArchive(archive, loadedTag, { extraFile: { path: 'etc/client', content: 'docker' } });
  }, { timeout: 120_000 });

  test('load, tag, push: a Docker v2 manifest with the same config', SLOW, async () => {
    await docker.ok(['load', '-i', archive]);
    await docker.ok(['tag', loadedTag, ref('v1')]);
    await docker.ok(['push', ref('v1')]);
    const pushed = await expectInRegistry(ctx.registry, repo, 'v1', { configDigest: image.configDigest });
    assert.equal(pushed.mediaType, DOCKER_V2_MANIFEST);
  });

  test('rmi, pull back, run', SLOW, async () => {
    await docker.ok(['rmi', ref('v1'), loadedTag]);
    await docker.fails(['image', 'inspect', ref('v1')]);
    await docker.ok(['pull', ref('v1')]);
    const id = await docker.ok(['image', 'inspect', '--format', '{{.Id}}', ref('v1')]);
    assert.equal(id.stdout.trim(), image.configDigest);
    const out = await docker.ok(['run', '--rm', '--network', 'none', ref('v1'), 'cat', '/etc/client']);
    assert.equal(out.stdout, 'docker');
  });

  test('build FROM the pushed image; a rebuild from scratch reuses the pushed cache', SLOW, async () => {
    const buildKit = await usesBuildKit(docker);
    const context = join(ctx.dir, 'context');
    mkdirSync(context);
    writeFileSync(join(context, 'Dockerfile'), `FROM ${ref('v1')}\nRUN echo built > /built.txt\n`);
    const env = { DOCKER_BUILDKIT: buildKit ? '1' : '0' };
    const build = (tag: string, extra: string[]) => docker.ok(
      ['build', '--network', 'none', ...(buildKit ? ['--progress', 'plain'] : []), ...extra, '-t', ref(tag), context],
      { env });

    // BUILDKIT_INLINE_CACHE writes cache metadata into the image config, so the pushed image is the cache.
    await build('built', buildKit ? ['--build-arg', 'BUILDKIT_INLINE_CACHE=1'] : []);
    await docker.ok(['push', ref('built')]);
    await expectInRegistry(ctx.registry, repo, 'built');

    // Forget everything local: the cache can now only come from the registry.
    await docker.ok(['rmi', ref('built'), ref('v1')]);
    if (buildKit) await docker.ok(['builder', 'prune', '--all', '--force']);
    else await docker.ok(['pull', ref('built')]);

    const rebuilt = await build('rebuilt', ['--cache-from', ref('built')]);
    const log = rebuilt.stdout + rebuilt.stderr;
    if (buildKit) {
      assert.match(log, /importing cache manifest from/);
      // Plain progress numbers each step: "#5 [2/2] RUN echo built ..." later reported as "#5 CACHED".
      const step = /#(\d+) \[\d+\/\d+\] RUN echo built/.exec(log)?.[1];
      assert.ok(step, `no RUN step in the build log:\n${log}`);
      assert.match(log, new RegExp(`^#${step} CACHED$`, 'm'), 'the RUN step was not taken from the cache');
    } else {
      assert.match(log, /Using cache/);
    }
  });

  test('missing tag, missing repository and invalid name fail cleanly', SLOW, async () => {
    await docker.fails(['pull', ref('no-such-tag')], MISSING_MANIFEST);
    await docker.fails(['pull', imageRef(ctx.registry, repoName('absent'), 'v1')], MISSING_MANIFEST);
    await docker.fails(['push', imageRef(ctx.registry, INVALID_REPO, 'v1')], INVALID_REFERENCE);
  });
});
