// skopeo against the registry under test: copy in and out, inspect, list-tags, delete. skopeo copies the
// OCI manifest byte for byte, so digests must survive the round trip exactly.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import {
  Client, INVALID_REPO, MISSING_MANIFEST, INVALID_REFERENCE, SLOW, clientSuite, expectInRegistry, fetchManifest,
  imageRef, listTags, repoName, useRegistry,
} from '../support/clients.js';
import { buildBusyboxOciLayout, type BuiltImage } from '../support/images.js';

clientSuite('skopeo', ['skopeo'], () => {
  const ctx = useRegistry('skopeo');
  const skopeo = new Client('skopeo');
  const repo = repoName('skopeo');
  let layout: string;
  let image: BuiltImage;
  let doomed: BuiltImage;
  const docker = (r: string, tag: string) => `docker://${imageRef(ctx.registry, r, tag)}`;

  before(() => {
    layout = join(ctx.dir, 'layout');
    image = buildBusyboxOciLayout(layout, { tag: 'v1' });
    doomed = buildBusyboxOciLayout(layout, { tag: 'doomed', extraFile: { path: 'etc/doomed', content: 'x' } });
  });

  test('copy oci layout → registry keeps the manifest digest', SLOW, async () => {
    await skopeo.ok(['copy', '--dest-tls-verify=false', `oci:${layout}:v1`, docker(repo, 'v1')]);
    await expectInRegistry(ctx.registry, repo, 'v1', { manifestDigest: image.manifestDigest });
  });

  test('inspect reports digest and tags; --raw returns the manifest bytes', SLOW, async () => {
    const info = JSON.parse((await skopeo.ok(['inspect', '--tls-verify=false', docker(repo, 'v1')])).stdout) as {
      Digest: string; RepoTags: string[]; Layers: string[];
    };
    assert.equal(info.Digest, image.manifestDigest);
    assert.deepEqual(info.RepoTags, ['v1']);
    assert.deepEqual(info.Layers, [image.layerDigest]);
    const raw = await skopeo.ok(['inspect', '--raw', '--tls-verify=false', docker(repo, 'v1')]);
    assert.equal(raw.stdout, image.manifest.toString('utf8'));
  });

  test('second tag and cross-repository copy; list-tags sees both tags', SLOW, async () => {
    await skopeo.ok(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', docker(repo, 'v1'), docker(repo, 'v2')]);
    // Same blobs into another repository: containers/image tries a cross-repo mount first.
    const other = `${repo}-mounted`;
    await skopeo.ok(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', docker(repo, 'v1'), docker(other, 'v1')]);
    await expectInRegistry(ctx.registry, other, 'v1', { manifestDigest: image.manifestDigest });
    const listed = JSON.parse((await skopeo.ok(['list-tags', '--tls-verify=false', `docker://${ctx.registry.hostPort}/${repo}`])).stdout) as {
      Tags: string[];
    };
    assert.deepEqual([...listed.Tags].sort(), ['v1', 'v2']);
  });

  test('copy registry → oci layout round-trips the same manifest', SLOW, async () => {
    const back = join(ctx.dir, 'back');
    await skopeo.ok(['copy', '--src-tls-verify=false', docker(repo, 'v2'), `oci:${back}:v2`]);
    const index = JSON.parse(readFileSync(join(back, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    assert.equal(index.manifests[0]?.digest, image.manifestDigest);
  });

  test('delete removes the tag and leaves other images alone', SLOW, async () => {
    await skopeo.ok(['copy', '--dest-tls-verify=false', `oci:${layout}:doomed`, docker(repo, 'doomed')]);
    await expectInRegistry(ctx.registry, repo, 'doomed', { manifestDigest: doomed.manifestDigest });
    await skopeo.ok(['delete', '--tls-verify=false', docker(repo, 'doomed')]);
    await skopeo.fails(['inspect', '--tls-verify=false', docker(repo, 'doomed')], MISSING_MANIFEST);
    assert.equal((await fetchManifest(ctx.registry, repo, doomed.manifestDigest)).status, 404);
    assert.deepEqual(await listTags(ctx.registry, repo), ['v1', 'v2']);
    await expectInRegistry(ctx.registry, repo, 'v1', { manifestDigest: image.manifestDigest });
  });

  test('missing tag, missing repository and invalid name fail cleanly', SLOW, async () => {
    await skopeo.fails(['inspect', '--tls-verify=false', docker(repo, 'no-such-tag')], MISSING_MANIFEST);
    await skopeo.fails(['copy', '--src-tls-verify=false', docker(repoName('absent'), 'v1'), `oci:${join(ctx.dir, 'x')}:v1`],
      MISSING_MANIFEST);
    await skopeo.fails(['copy', '--dest-tls-verify=false', `oci:${layout}:v1`, docker(INVALID_REPO, 'v1')],
      INVALID_REFERENCE);
  });
});
