// podman against the registry under test: push an image loaded from an OCI layout, pull it back into empty
// storage, run it. podman recompresses layers on push, so the manifest digest is not the layout's; the
// config (the image ID) is preserved and is what these tests compare.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import {
  Client, INVALID_REFERENCE, INVALID_REPO, MISSING_MANIFEST, SLOW, clientSuite, containersStorageArgs,
  expectInRegistry, imageRef, repoName, useRegistry,
} from '../support/clients.js';
import { buildBusyboxOciLayout, type BuiltImage } from '../support/images.js';

clientSuite('podman', ['podman', 'runc'], () => {
  const ctx = useRegistry('podman');
  const repo = repoName('podman');
  let podman: Client;
  let layout: string;
  let image: BuiltImage;
  const ref = (tag: string) => imageRef(ctx.registry, repo, tag);
  const imageId = () => image.configDigest.slice('sha256:'.length);

  before(() => {
    // Own storage: nothing from /var/lib/containers, and no clash with the buildah suite running alongside.
    podman = new Client('podman', containersStorageArgs(ctx.dir));
    layout = join(ctx.dir, 'layout');
    image = buildBusyboxOciLayout(layout, { tag: 'v1', extraFile: { path: 'etc/client', content: 'podman' } });
  });

  test('pull from OCI layout, tag, push', SLOW, async () => {
    const pulled = await podman.ok(['pull', `oci:${layout}:v1`]);
    assert.equal(pulled.stdout.trim().split('\n').pop(), imageId());
    await podman.ok(['tag', imageId(), ref('v1')]);
    const digestFile = join(ctx.dir, 'pushed.digest');
    await podman.ok(['push', '--tls-verify=false', '--digestfile', digestFile, ref('v1')]);
    await expectInRegistry(ctx.registry, repo, 'v1', {
      manifestDigest: readFileSync(digestFile, 'utf8').trim(),
      configDigest: image.configDigest,
    });
  });

  test('rmi, then pull back from the registry into empty storage', SLOW, async () => {
    await podman.ok(['rmi', '--force', imageId()]);
    await podman.fails(['image', 'exists', ref('v1')]);
    await podman.ok(['pull', '--tls-verify=false', ref('v1')]);
    const id = await podman.ok(['image', 'inspect', '--format', '{{.Id}}', ref('v1')]);
    assert.equal(id.stdout.trim(), imageId());
  });

  test('run the pulled image', SLOW, async () => {
    const out = await podman.ok(['run', '--rm', '--network', 'none', ref('v1'), 'cat', '/etc/client']);
    assert.equal(out.stdout, 'podman');
  });

  test('missing tag, missing repository and invalid name fail cleanly', SLOW, async () => {
    await podman.fails(['pull', '--tls-verify=false', ref('no-such-tag')], MISSING_MANIFEST);
    await podman.fails(['pull', '--tls-verify=false', imageRef(ctx.registry, repoName('absent'), 'v1')], MISSING_MANIFEST);
    await podman.fails(['push', '--tls-verify=false', ref('v1'), `docker://${imageRef(ctx.registry, INVALID_REPO, 'v1')}`],
      INVALID_REFERENCE);
  });

  test('push a second tag, image rm', SLOW, async () => {
    await podman.ok(['tag', ref('v1'), ref('v2')]);
    await podman.ok(['push', '--tls-verify=false', ref('v2')]);
    await expectInRegistry(ctx.registry, repo, 'v2', { configDigest: image.configDigest });
    await podman.ok(['image', 'rm', ref('v1'), ref('v2')]);
    await podman.fails(['image', 'exists', ref('v2')]);
  });
});
