/**
 * An image built by the engine, pulled from a running Cairn with skopeo and run with podman: files,
 * a file removed in a later step (whiteout), modes, owners, symlinks and hard links, env,
 * entrypoint, cmd, user and workdir as the Dockerfile says.
 *
 * The engine runs in this process over the server's own PostgreSQL database and blob directory:
 * the `cairn worker` topology (workers share PostgreSQL and the blob store with the server). On
 * the embedded database only the server process may open it, so this test is PostgreSQL-only;
 * the PGlite path of the same engine is covered by engine-build.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import pino from 'pino';
import { after, before, describe, it } from 'node:test';
import { startCacheAwareness } from '../../src/app.js';
import { runBuild } from '../../src/build/engine/index.js';
import type { BuildJob, BuildResult } from '../../src/build/job.js';
import { BlobStoreSink } from '../../src/build/layers/blob-sink.js';
import { buildPullPermission } from '../../src/auth/index.js';
import { RegistryBuildHost } from '../../src/build/registry-host.js';
import { openDatabase } from '../../src/metadata/database.js';
import { Metadata } from '../../src/metadata/stores/index.js';
import { Metrics } from '../../src/metrics.js';
import { createRegistry } from '../../src/registry/index.js';
import { FilesystemBlobStore } from '../../src/storage/filesystem/filesystem-store.js';
import { Client, containersStorageArgs, tempDir, unmountUnder } from '../support/clients.js';
import { startCairn, testDatabases, type StartedCairn } from '../support/registry.js';

const DOCKERFILE = `FROM base/busybox:latest
RUN mkdir -p /data && echo gone > /data/removed && echo kept > /data/kept && ln -s kept /data/link \\
 && ln /data/kept /data/hard && chmod 0640 /data/kept && chown 1000:1000 /data/kept
RUN rm /data/removed
COPY --chown=1000:1000 --chmod=0750 app.sh /usr/local/bin/app.sh
ENV GREETING=hello
WORKDIR /work
USER 1000:1000
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo $GREETING from $(pwd) as $(id -u):$(id -g); test ! -e /data/removed && echo removed-gone; readlink /data/link; cat /data/hard; stat -c '%n %a %u:%g %h' /data/kept /usr/local/bin/app.sh; /usr/local/bin/app.sh"]
`;

const run = testDatabases().includes('postgres') ? describe : describe.skip;

run('an engine-built image pulled with skopeo and run with podman [postgres]', { timeout: 600_000 }, () => {
  let server: StartedCairn;
  let metadata: Metadata;
  let storage: FilesystemBlobStore;
  let host: RegistryBuildHost;
  let stopAwareness: () => Promise<void>;
  let dir: string;
  let counter = 0;

  before(async () => {
    server = await startCairn({ database: 'postgres', env: { CAIRN_BUILD_WORKERS: '0' } });
    const database = await openDatabase({ kind: 'postgres', url: server.databaseUrl!, poolSize: 4 });
    metadata = new Metadata(database.db);
    storage = new FilesystemBlobStore(join(server.dataDir, 'blobs'));
    await storage.check();
    const registry = createRegistry(metadata, storage, { automaticMount: true });
    const awareness = await startCacheAwareness(metadata, registry, new Metrics(), pino({ level: 'silent' }), []);
    stopAwareness = async () => {
      await awareness.imports.stop();
      await awareness.layerUsage.stop();
      await registry.pulls.stop();
    };
    host = new RegistryBuildHost({ metadata, registry, storage, caches: awareness.service, pulls: buildPullPermission(metadata) });
    dir = tempDir('engine-run');
  });

  after(async () => {
    await stopAwareness?.();
    await metadata?.destroy();
    await server?.stop();
    if (dir) {
      unmountUnder(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  async function build(context: string, tags: string[]): Promise<BuildResult> {
    const tar = execFileSync('tar', ['-C', context, '-cf', '-', '.'], { maxBuffer: 64 * 1024 * 1024 });
    const { digest } = await new BlobStoreSink(storage).write(Readable.from([tar]), 'application/x-tar');
    const job: BuildJob = {
      id: `run-${++counter}`,
      request: { tags, dockerfile: 'Dockerfile', buildArgs: {}, noCache: false, format: 'oci', compression: 'gzip' },
      contextDigest: digest,
      actor: { name: 'test', kind: 'open' },
    };
    const result = await runBuild(job, { host, store: storage, workDir: join(server.dataDir, 'worker') }, () => undefined, new AbortController().signal);
    assert.equal(result.status, 'succeeded', result.error);
    return result;
  }

  it('runs as the Dockerfile says', async () => {
    const base = join(dir, 'base');
    mkdirSync(join(base, 'rootfs', 'bin'), { recursive: true });
    for (const d of ['tmp', 'etc', 'usr/local/bin']) mkdirSync(join(base, 'rootfs', d), { recursive: true });
    copyFileSync('/bin/busybox', join(base, 'rootfs', 'bin', 'busybox'));
    for (const applet of execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean)) {
      if (applet !== 'busybox' && !existsSync(join(base, 'rootfs', 'bin', applet))) symlinkSync('busybox', join(base, 'rootfs', 'bin', applet));
    }
    writeFileSync(join(base, 'rootfs', 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/work:/bin/sh\n');
    writeFileSync(join(base, 'rootfs', 'etc', 'group'), 'root:x:0:\napp:x:1000:\n');
    writeFileSync(join(base, 'Dockerfile'), 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nCMD ["/bin/sh"]\n');
    await build(base, ['base/busybox:latest']);

    const app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'Dockerfile'), DOCKERFILE);
    writeFileSync(join(app, 'app.sh'), '#!/bin/sh\necho app-script-ran\n', { mode: 0o644 });
    const result = await build(app, ['team/run:v1']);
    const reference = `${server.hostPort}/team/run:v1`;

    const skopeo = new Client('skopeo', []);
    const inspected = JSON.parse((await skopeo.ok(['inspect', '--tls-verify=false', `docker://${reference}`])).stdout) as { Digest: string };
    assert.equal(inspected.Digest, result.images[0]!.digest);
    await skopeo.ok(['copy', '--src-tls-verify=false', `docker://${reference}`, `oci:${join(dir, 'layout')}:v1`]);

    const podman = new Client('podman', containersStorageArgs(dir));
    await podman.ok(['pull', '--tls-verify=false', reference]);
    const out = (await podman.ok(['run', '--rm', '--network', 'none', reference])).stdout;
    assert.deepEqual(out.trim().split('\n'), [
      'hello from /work as 1000:1000',
      'removed-gone',
      'kept',
      'kept',
      '/data/kept 640 1000:1000 2',
      '/usr/local/bin/app.sh 750 1000:1000 1',
      'app-script-ran',
    ]);
    const config = JSON.parse((await podman.ok(['image', 'inspect', reference])).stdout)[0].Config as Record<string, unknown>;
    assert.deepEqual(config.Entrypoint, ['/bin/sh', '-c']);
    assert.equal(config.User, '1000:1000');
    assert.equal(config.WorkingDir, '/work');
    assert.ok((config.Env as string[]).includes('GREETING=hello'));
  });
});
