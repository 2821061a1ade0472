// docker (CLI + a private dockerd 20.10) against Cairn under authentication: `docker login` with the password
// on stdin, push/pull with the stored credentials (the CLI hands them to the daemon with each request), and
// `docker logout`. Each session has its own DOCKER_CONFIG, so logins never reach ~/.docker.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, test } from 'node:test';
import {
  NO_CREDENTIALS, TEAM_NAMESPACE, authClientSuite, authScenarios, expectRefused, storedLogins, type AuthDriver, type Session,
} from '../support/clients-auth.js';
import {
  Client, DOCKER_CLI, SLOW, expectSuccess, imageRef, repoName, startDockerd,
} from '../support/clients.js';
import { buildBusyboxDockerArchive, type BuiltImage } from '../support/images.js';

authClientSuite('docker', [DOCKER_CLI, 'dockerd', 'containerd', 'runc'], (ctx) => {
  const loadedTag = 'cairn-test/busybox:auth';
  let docker: Client;
  let image: BuiltImage;
  let archive: string;

  before(async () => {
    docker = await startDockerd(ctx);
    archive = join(ctx.dir, 'busybox.tar');
    image = buildBusyboxDockerArchive(archive, loadedTag, { extraFile: { path: 'etc/client', content: 'docker-auth' } });
  }, { timeout: 120_000 });

  const login = (session: Session) => docker.run(
    ['login', '--username', session.who!.username, '--password-stdin', ctx.registry.hostPort],
    { env: session.env, input: session.who!.password });

  const driver: AuthDriver = {
    login,
    async push(session, repo, tag) {
      // Loaded afresh each time: pull() removes the image with all its tags.
      expectSuccess(await docker.run(['load', '-i', archive]));
      const ref = imageRef(ctx.registry, repo, tag);
      expectSuccess(await docker.run(['tag', loadedTag, ref]));
      return docker.run(['push', ref], { env: session.env });
    },
    async pull(session, repo, tag) {
      // Not only the tag: the image and its layers, so that everything comes from the registry.
      await docker.run(['rmi', '--force', image.configDigest]);
      return docker.run(['pull', imageRef(ctx.registry, repo, tag)], { env: session.env });
    },
    async pulledConfig(_session, repo, tag) {
      const r = expectSuccess(await docker.run(['image', 'inspect', '--format', '{{.Id}}', imageRef(ctx.registry, repo, tag)]));
      return r.stdout.trim();
    },
    configDigest: () => image.configDigest,
  };

  authScenarios(ctx, 'docker', driver);

  test('docker logout forgets the credentials: the next push is refused', SLOW, async (t) => {
    const session = ctx.session('logout');
    session.who = ctx.developer;
    expectSuccess(await login(session));
    await docker.ok(['logout', ctx.registry.hostPort], { env: session.env });
    assert.deepEqual(storedLogins(session), []);
    await expectRefused(t, await driver.push(session, repoName('docker-logout', TEAM_NAMESPACE), 'v1'), NO_CREDENTIALS);
  });
});
