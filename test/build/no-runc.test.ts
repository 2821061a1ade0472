/**
 * A server without runc (a PATH on which there is none): `cairn serve` still starts and serves
 * the registry to real clients, and `cairn build` fails at once with one line that says why and
 * how to install it, rather than queueing a build no worker will ever take.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assertOneLine, cairn } from '../support/cli.js';
import { Client } from '../support/clients.js';
import { buildBusyboxOciLayout } from '../support/images.js';
import { startCairn, testDatabases, type StartedCairn } from '../support/registry.js';

describe('a server without runc', () => {
  let server: StartedCairn;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cairn-no-runc-'));
    await mkdir(join(dir, 'empty-path'));
    // The embedded default: the worker would be forked by this very process.
    const database = testDatabases()[0] ?? 'pglite';
    server = await startCairn({ database, env: { PATH: join(dir, 'empty-path') } });
  });
  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('the registry serves: skopeo pushes and reads back an image', async () => {
    assert.ok(server.logs.some((l) => l.includes('runc is not installed on the server')), 'the server says why at start');
    const layout = join(dir, 'layout');
    const image = buildBusyboxOciLayout(layout, { tag: 'v1', extraFile: { path: 'etc/no-runc', content: 'x' } });
    const skopeo = new Client('skopeo');
    await skopeo.ok(['copy', '--dest-tls-verify=false', `oci:${layout}:v1`, `docker://${server.hostPort}/team/app:v1`]);
    const inspected = JSON.parse((await skopeo.ok(['inspect', '--raw', '--tls-verify=false', `docker://${server.hostPort}/team/app:v1`])).stdout);
    assert.equal(inspected.config.digest, image.configDigest);
  });

  test('cairn build fails with one line naming runc and how to install it', async () => {
    const context = join(dir, 'context');
    await mkdir(context);
    await writeFile(join(context, 'Dockerfile'), 'FROM scratch\nCOPY Dockerfile /\n');
    const result = await cairn(['build', '--progress', 'plain', '-t', `${server.hostPort}/team/app:dev`, context], { env: { DOCKER_CONFIG: join(dir, 'none') } });
    assert.equal(result.status, 1, result.stderr);
    assertOneLine(result.stderr);
    assert.match(result.stderr, /^cairn: the server refused the build \(503\): .*runc is not installed on the server \(Debian\/Ubuntu: apt-get install runc\)/);
  });
});
