// podman against Cairn under authentication: `podman login` (password on stdin) into a per-session
// REGISTRY_AUTH_FILE, push/pull with what it stored, `podman logout`, and `--creds` on a single command.
// Every session also has its own storage, so each pull starts from nothing.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, test } from 'node:test';
import {
  NO_CREDENTIALS, TEAM_NAMESPACE, authClientSuite, authScenarios, credsOf, expectRefused, storedLogins,
  type AuthDriver, type Session,
} from '../support/clients-auth.js';
import {
  Client, SLOW, expectInRegistry, expectSuccess, imageRef, repoName,
} from '../support/clients.js';
import { buildBusyboxOciLayout, type BuiltImage } from '../support/images.js';

authClientSuite('podman', ['podman', 'runc'], (ctx) => {
  let layout: string;
  let image: BuiltImage;
  const podman = (session: Session) => new Client('podman', session.storageArgs, session.env);
  const imageId = () => image.configDigest.slice('sha256:'.length);

  before(() => {
    layout = join(ctx.dir, 'layout');
    image = buildBusyboxOciLayout(layout, { tag: 'v1', extraFile: { path: 'etc/client', content: 'podman-auth' } });
  });

  /** Pushes the layout's image from the session's storage; extra arguments go to `podman push`. */
  const push = async (session: Session, repo: string, tag: string, extra: string[] = []) => {
    const client = podman(session);
    expectSuccess(await client.run(['pull', `oci:${layout}:v1`]));
    return client.run(['push', '--tls-verify=false', ...extra, imageId(), `docker://${imageRef(ctx.registry, repo, tag)}`]);
  };

  const driver: AuthDriver = {
    login: (session) => podman(session).run(
      ['login', '--tls-verify=false', '--username', session.who!.username, '--password-stdin', ctx.registry.hostPort],
      { input: session.who!.password }),
    push: (session, repo, tag) => push(session, repo, tag),
    pull: (session, repo, tag) => podman(session).run(['pull', '--tls-verify=false', imageRef(ctx.registry, repo, tag)]),
    async pulledConfig(session, repo, tag) {
      const r = expectSuccess(await podman(session).run(['image', 'inspect', '--format', '{{.Id}}', imageRef(ctx.registry, repo, tag)]));
      return `sha256:${r.stdout.trim()}`;
    },
    configDigest: () => image.configDigest,
  };

  authScenarios(ctx, 'podman', driver);

  test('podman logout forgets the credentials: the next push is refused', SLOW, async (t) => {
    const session = ctx.session('logout');
    session.who = ctx.developer;
    expectSuccess(await driver.login!(session));
    expectSuccess(await podman(session).run(['logout', ctx.registry.hostPort]));
    assert.deepEqual(storedLogins(session), []);
    await expectRefused(t, await driver.push(session, repoName('podman-logout', TEAM_NAMESPACE), 'v1'), NO_CREDENTIALS);
  });

  test('podman push --creds works without a login, and stores nothing', SLOW, async () => {
    const session = ctx.session('creds');
    session.who = ctx.developer;
    const repo = repoName('podman-creds', TEAM_NAMESPACE);
    expectSuccess(await push(session, repo, 'v1', ['--creds', credsOf(session)!]));
    await expectInRegistry(ctx.registry, repo, 'v1', { configDigest: image.configDigest });
    assert.deepEqual(storedLogins(session), []);
  });
});
