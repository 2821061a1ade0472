/**
 * Layers read back by real clients: two layers written by the layer writer (a busybox rootfs, then
 * a step run on a real overlay mount that deletes a file and recreates a directory) are pushed as
 * an image to a started Cairn; skopeo copies it to an OCI layout (checking every digest) and GNU
 * tar lists the step's layer; podman pulls it and runs it, applying the whiteouts.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TarLayerWriter } from '../../src/build/layers/writer.js';
import type { LayerDescriptor } from '../../src/build/layers/layers.js';
import { containersStorageArgs, findBinary, unmountUnder } from '../support/clients.js';
import { makeBusyboxRootfs } from '../support/images.js';
import { run, testStore, type TestStore } from '../support/layers.js';
import { blobOf, OCI_CONFIG, OCI_MANIFEST, pushBlob, putManifest } from '../support/oci.js';
import { startCairn, testDatabases, type StartedCairn } from '../support/registry.js';

const missing = ['skopeo', 'podman', 'runc'].filter((name) => findBinary(name) === undefined);

describe('layers read by real clients', { skip: missing.length > 0 ? `not installed: ${missing.join(', ')}` : false, timeout: 300_000 }, () => {
  let work: string;
  let store: TestStore;
  let layers: LayerDescriptor[];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'cairn-layers-clients-'));
    store = await testStore();
    const writer = new TarLayerWriter();
    const base = join(work, 'base');
    makeBusyboxRootfs(base);
    await mkdir(join(base, 'dir'));
    await writeFile(join(base, 'dir/old'), 'old');
    await writeFile(join(base, 'gone'), 'gone');
    const upper = join(work, 'upper');
    const workdir = join(work, 'work');
    const merged = join(work, 'merged');
    for (const d of [upper, workdir, merged]) await mkdir(d);
    run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${base},upperdir=${upper},workdir=${workdir}`, merged]);
    try {
      await rm(join(merged, 'gone'));
      await rm(join(merged, 'dir'), { recursive: true });
      await mkdir(join(merged, 'dir'));
      await writeFile(join(merged, 'dir/new'), 'new');
    } finally {
      run('umount', [merged]);
    }
    layers = [
      (await writer.fromUpperDir(base, store.sink, { compression: 'gzip' }))!,
      (await writer.fromUpperDir(upper, store.sink, { compression: 'gzip' }))!,
    ];
  });

  after(async () => {
    unmountUnder(work);
    await rm(work, { recursive: true, force: true });
    await store.cleanup();
  });

  for (const database of testDatabases()) {
    describe(database, () => {
      let server: StartedCairn;
      before(async () => {
        server = await startCairn({ database });
      });
      after(async () => {
        await server.stop();
      });

      test('skopeo copies the image and GNU tar reads the whiteouts; podman runs it with them applied', async () => {
        const repo = `layers/${database}`;
        for (const layer of layers) {
          const chunks: Buffer[] = [];
          for await (const chunk of await store.source.read(layer.digest)) chunks.push(chunk as Buffer);
          await pushBlob(server.url, repo, blobOf(Buffer.concat(chunks)));
        }
        const config = blobOf(
          JSON.stringify({
            architecture: 'amd64',
            os: 'linux',
            config: { Cmd: ['/bin/sh'] },
            rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
          }),
        );
        await pushBlob(server.url, repo, config);
        const manifest = Buffer.from(
          JSON.stringify({
            schemaVersion: 2,
            mediaType: OCI_MANIFEST,
            config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
            layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
          }),
        );
        await putManifest(server.url, repo, 'v1', manifest, OCI_MANIFEST, 201);
        const reference = `${server.hostPort}/${repo}:v1`;

        const layout = join(work, `layout-${database}`);
        run('skopeo', ['copy', '--src-tls-verify=false', `docker://${reference}`, `oci:${layout}:v1`]);
        const stepBlob = join(layout, 'blobs/sha256', layers[1]!.digest.slice('sha256:'.length));
        const listing = run('tar', ['-tvzf', stepBlob]);
        assert.match(listing, /^-{10} 0\/0 +0 1970-01-01 00:00 \.wh\.gone$/m);
        assert.match(listing, /^drwxr-xr-x 0\/0 .* dir\/$/m);
        assert.match(listing, /^-{10} 0\/0 +0 .* dir\/\.wh\.\.wh\.\.opq$/m);
        assert.match(listing, /^-rw-r--r-- 0\/0 +3 .* dir\/new$/m);
        assert.equal(await readFile(stepBlob).then((b) => b.length), layers[1]!.size);

        const podmanDir = join(work, `podman-${database}`);
        const podman = ['podman', ...containersStorageArgs(podmanDir, join(podmanDir, 'r'))];
        run(podman[0]!, [...podman.slice(1), 'pull', '--tls-verify=false', reference]);
        const out = run(podman[0]!, [
          ...podman.slice(1), 'run', '--rm', '--network', 'none', reference,
          'sh', '-c', 'ls /dir; test -e /gone && echo gone-is-back; cat /dir/new',
        ]);
        assert.equal(out, 'new\nnew');
      });
    });
  }
});
