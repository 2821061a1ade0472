/**
 * The build worker end to end, with nothing but real clients: a started `cairn serve` (its own
 * forked worker running RUN steps under runc), the real `cairn build` CLI, then skopeo, podman,
 * ctr (containerd) and docker (dockerd) pulling and running what it pushed.
 *
 * - A busybox base image, made here from Debian's busybox-static, is built FROM scratch and pushed.
 * - The 3-stage BuildKit fixture (test/fixtures/buildkit/context) builds and runs; a second build is
 *   fully cached, and changing src/main.txt rebuilds only the steps that depend on it, the report
 *   naming the file.
 * - A Dockerfile of our own exercises a whiteout, modes, owners (--chown, USER), symlinks and hard
 *   links, ENV, ENTRYPOINT, CMD, WORKDIR, EXPOSE, LABEL and HEALTHCHECK; skopeo copies it to an
 *   OCI layout whose config is checked, and podman, ctr and docker run it as the Dockerfile says.
 *
 * One database per run (CAIRN_TEST_DATABASES, default both): the embedded PGlite, where the worker
 * talks to its server over IPC, and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cairn, type CliResult } from '../support/cli.js';
import { makeBusyboxRootfs } from '../support/busybox-rootfs.js';
import {
  Client, DOCKER_CLI, REPO_ROOT, clientSuite, containersStorageArgs, startContainerd, startDockerd, startOnFreePort,
  tempDir, unmountUnder, type SuiteContext,
} from '../support/clients.js';
import { startCairn, testDatabases, type StartedCairn, type TestDatabase } from '../support/registry.js';

/** This file's ports (apart from the client suites' range). */
const PORTS = { first: 6050, last: 6079 };

const OWN_DOCKERFILE = (base: string) => `FROM ${base}
RUN mkdir -p /data && echo gone > /data/removed && echo kept > /data/kept && ln -s kept /data/link \\
 && ln /data/kept /data/hard && chmod 0640 /data/kept && chown 1000:1000 /data/kept
RUN rm /data/removed
COPY --chown=1000:50 --chmod=0750 app.sh /usr/local/bin/app.sh
ENV GREETING=hello
WORKDIR /work
USER builder
EXPOSE 8080/tcp
LABEL org.example.suite="end-to-end" org.example.step=label
HEALTHCHECK --interval=30s --timeout=5s --retries=2 CMD ["/bin/true"]
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo $GREETING from $(pwd) as $(id -u):$(id -g); test ! -e /data/removed && echo removed-gone; readlink /data/link; cat /data/hard; stat -c '%n %a %u:%g %h' /data/kept /usr/local/bin/app.sh; /usr/local/bin/app.sh"]
`;

/** What the own image prints when run with no arguments, as its Dockerfile says. */
const OWN_OUTPUT = [
  'hello from /work as 1000:1000',
  'removed-gone',
  'kept',
  'kept',
  '/data/kept 640 1000:1000 2',
  '/usr/local/bin/app.sh 750 1000:50 1',
  'app-script-ran',
];

const FIXTURE_OUTPUT = 'hello from main v1\nutil module v1\n';

for (const database of testDatabases()) endToEnd(database);

function endToEnd(database: TestDatabase): void {
  clientSuite(`cairn build end to end, real clients [${database}]`, ['runc', 'skopeo', 'podman', 'ctr', 'containerd', 'dockerd', DOCKER_CLI], () => {
    let server: StartedCairn;
    let dir: string;
    const cleanups: Array<() => Promise<void> | void> = [];
    const ctx = { defer: (fn: () => Promise<void> | void) => void cleanups.push(fn) } as SuiteContext;
    const ref = (name: string) => `${server.hostPort}/${name}`;

    /** `cairn build --progress plain`: exit 0 expected, and the output (plain log and report on stderr). */
    const build = async (context: string, tag: string, extra: string[] = []): Promise<string> => {
      const result: CliResult = await cairn(['build', '--progress', 'plain', ...extra, '-t', ref(tag), context], {
        env: { DOCKER_CONFIG: join(dir, 'no-docker-config') },
      });
      assert.equal(result.status, 0, `cairn build ${tag} failed:\n${result.stderr}\n${server.logs.slice(-30).join('\n')}`);
      return result.stderr;
    };
    /** The cache report's lines: [hit, step, why] for each step. */
    const report = (out: string) => {
      const start = out.lastIndexOf('\ncache: ');
      assert.ok(start >= 0, `no cache report in:\n${out}`);
      return out.slice(start + 1).split('\n').slice(1)
        .map((line) => /^ {2}(CACHED|MISS) +(.*?)(?: {2}\((.*)\))?$/.exec(line))
        .filter((m): m is RegExpExecArray => m !== null)
        .map(([, state, step, why]) => ({ hit: state === 'CACHED', step: step!.replace(/^\[[^\]]+\] /, ''), why }));
    };

    before(async () => {
      dir = tempDir(`e2e-${database}`);
      cleanups.push(() => rm(dir, { recursive: true, force: true }), () => unmountUnder(dir));
      server = await startOnFreePort('cairn', async (port) => {
        try {
          return await startCairn({ database, extraArgs: ['--listen', `127.0.0.1:${port}`] });
        } catch (error) {
          if (/EADDRINUSE/.test(String(error))) return null;
          throw error;
        }
      }, PORTS);
      cleanups.push(() => server.stop());
      Object.assign(ctx, { dir, registry: { kind: 'cairn', url: server.url, hostPort: server.hostPort, stop: () => server.stop() } });
      // The forked worker announces itself; a build created before that is refused (no worker alive).
      for (let i = 0; i < 300 && !server.logs.some((l) => l.includes('build worker ready')); i++) await new Promise((r) => setTimeout(r, 100));

      const base = join(dir, 'base');
      await makeBusyboxRootfs(join(base, 'rootfs'));
      await cp(join(REPO_ROOT, 'test/fixtures/buildkit/context/base.Dockerfile'), join(base, 'Dockerfile'));
      await build(base, 'base/busybox:latest');
    }, { timeout: 180_000 });

    after(async () => {
      for (const fn of cleanups.reverse()) {
        try {
          await fn();
        } catch (error) {
          console.error('cleanup failed:', error);
        }
      }
    }, { timeout: 120_000 });

    test('the 3-stage fixture builds and runs; a rebuild is fully cached; one changed file rebuilds only what depends on it', { timeout: 600_000 }, async () => {
      const context = join(dir, 'fixture');
      await cp(join(REPO_ROOT, 'test/fixtures/buildkit/context'), context, { recursive: true });
      const args = ['--build-arg', `BASE=${ref('base/busybox:latest')}`];

      const cold = report(await build(context, 'team/fixture:v1', args));
      assert.ok(cold.some((s) => !s.hit), 'the first build ran its steps');

      const podman = new Client('podman', containersStorageArgs(join(dir, 'p'), join(dir, 'pr')));
      await podman.ok(['pull', '--tls-verify=false', ref('team/fixture:v1')]);
      assert.equal((await podman.ok(['run', '--rm', '--network', 'none', ref('team/fixture:v1')])).stdout, FIXTURE_OUTPUT);

      const again = await build(context, 'team/fixture:v2', args);
      const cached = report(again);
      assert.equal(cached.length, cold.length);
      assert.deepEqual(cached.filter((s) => !s.hit), [], `every step CACHED:\n${again}`);
      assert.match(again, new RegExp(`\\ncache: ${cached.length} of ${cached.length} steps cached\\n`));

      await writeFile(join(context, 'src/main.txt'), 'hello from main v2\n');
      const changedOut = await build(context, 'team/fixture:v3', args);
      const changed = report(changedOut);
      const missed = changed.filter((s) => !s.hit).map((s) => s.step);
      // The deps stage and the final stage's own steps are untouched by src/.
      for (const step of changed.filter((s) => /^(FROM|WORKDIR|COPY deps\.lock|RUN mkdir -p \/app|RUN --mount|ARG|ENV|LABEL)/.test(s.step))) {
        assert.ok(step.hit, `${step.step} should be CACHED:\n${changedOut}`);
      }
      const copySrc = changed.find((s) => s.step.startsWith('COPY src/'));
      assert.ok(copySrc && !copySrc.hit, `COPY src/ missed:\n${changedOut}`);
      assert.match(copySrc.why ?? '', /src\/main\.txt changed/, `the report names the file:\n${changedOut}`);
      assert.ok(missed.some((s) => s.startsWith('RUN mkdir -p /out')), 'the build stage\'s RUN reran');
      assert.ok(missed.some((s) => s.startsWith('COPY --from=build')), 'the final COPY --from reran');
      await podman.ok(['pull', '--tls-verify=false', ref('team/fixture:v3')]);
      assert.equal((await podman.ok(['run', '--rm', '--network', 'none', ref('team/fixture:v3')])).stdout, FIXTURE_OUTPUT.replace('v1', 'v2'));

      // RUN's shell variables are the shell's: the dependency install wrote one file per lock line.
      // (Last: a --target build exports only its stage's cache, as BuildKit's does.)
      await build(context, 'team/fixture:deps', [...args, '--target', 'deps']);
      await podman.ok(['pull', '--tls-verify=false', ref('team/fixture:deps')]);
      const modules = await podman.ok(['run', '--rm', '--network', 'none', ref('team/fixture:deps'), 'ls', '/app/node_modules']);
      assert.deepEqual(lines(modules.stdout), ['left-pad.js', 'lodash.js', 'react.js']);
    });

    test('an image of our own: skopeo sees its config; podman, ctr and docker run it as its Dockerfile says', { timeout: 600_000 }, async () => {
      const context = join(dir, 'own');
      await mkdir(context);
      await writeFile(join(context, 'Dockerfile'), OWN_DOCKERFILE(ref('base/busybox:latest')));
      await writeFile(join(context, 'app.sh'), '#!/bin/sh\necho app-script-ran\n', { mode: 0o644 });
      await build(context, 'team/own:v1');
      const image = ref('team/own:v1');

      const skopeo = new Client('skopeo');
      const layout = join(dir, 'layout');
      await skopeo.ok(['copy', '--src-tls-verify=false', `docker://${image}`, `oci:${layout}:v1`]);
      const blob = async (digest: string) => JSON.parse(await readFile(join(layout, 'blobs', ...digest.split(':')), 'utf8'));
      const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
      const manifest = await blob(index.manifests[0].digest);
      assert.equal(manifest.mediaType, 'application/vnd.oci.image.manifest.v1+json');
      const config = await blob(manifest.config.digest);
      assert.deepEqual(config.config.Entrypoint, ['/bin/sh', '-c']);
      assert.equal(config.config.Cmd.length, 1);
      assert.match(config.config.Cmd[0], /^echo \$GREETING from/);
      assert.equal(config.config.User, 'builder');
      assert.equal(config.config.WorkingDir, '/work');
      assert.ok(config.config.Env.includes('GREETING=hello'));
      assert.ok(config.config.Env.some((e: string) => e.startsWith('PATH=')), 'PATH from the base image');
      assert.deepEqual(config.config.ExposedPorts, { '8080/tcp': {} });
      assert.deepEqual(config.config.Labels, { 'org.example.suite': 'end-to-end', 'org.example.step': 'label' });
      assert.deepEqual(config.config.Healthcheck, { Test: ['CMD', '/bin/true'], Interval: 30e9, Timeout: 5e9, Retries: 2 });
      assert.equal(config.rootfs.diff_ids.length, manifest.layers.length);
      assert.equal(config.history.filter((h: { empty_layer?: boolean }) => !h.empty_layer).length, manifest.layers.length);

      const podman = new Client('podman', containersStorageArgs(join(dir, 'p'), join(dir, 'pr')));
      await podman.ok(['pull', '--tls-verify=false', image]);
      assert.deepEqual(lines((await podman.ok(['run', '--rm', '--network', 'none', image])).stdout), OWN_OUTPUT, 'podman');

      const ctr = await startContainerd(ctx);
      await ctr.ok(['images', 'pull', '--plain-http', image]);
      assert.deepEqual(lines((await ctr.ok(['run', '--rm', image, 'e2e-own'])).stdout), OWN_OUTPUT, 'ctr');

      const docker = await startDockerd(ctx);
      await docker.ok(['pull', image]);
      assert.deepEqual(lines((await docker.ok(['run', '--rm', '--network', 'none', image])).stdout), OWN_OUTPUT, 'docker');
      const inspected = JSON.parse((await docker.ok(['image', 'inspect', image])).stdout)[0].Config;
      assert.equal(inspected.User, 'builder');
      assert.deepEqual(inspected.Healthcheck.Test, ['CMD', '/bin/true']);
    });
  });
}

const lines = (out: string) => out.trim().split('\n');
