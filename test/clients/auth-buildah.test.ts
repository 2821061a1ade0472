// buildah against Cairn under authentication: push and pull with `--creds` on each command, and `buildah
// login`/`logout` into a per-session REGISTRY_AUTH_FILE. Every session has its own storage, so each pull
// starts from nothing; pushes send the image loaded from an OCI layout into that storage.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, test } from 'node:test';
import {
  BAD_CREDENTIALS, NO_CREDENTIALS, TEAM_NAMESPACE, authClientSuite, authScenarios, credsOf, expectRefused,
  storedLogins, type AuthDriver, type Session,
} from '../support/clients-auth.js';
import { Client, SLOW, expectInRegistry, expectSuccess, imageRef, repoName } from '../support/clients.js';
import { buildBusyboxOciLayout, type BuiltImage } from '../support/images.js';

authClientSuite('buildah', ['buildah', 'runc'], (ctx) => {
  let layout: string;
  let image: BuiltImage;
  const buildah = (session: Session) => new Client('buildah', session.storageArgs, session.env);
  const creds = (session: Session) => (session.who ? ['--creds', credsOf(session)!] : []);

  before(() => {
    layout = join(ctx.dir, 'layout');
    image = buildBusyboxOciLayout(layout, { tag: 'v1', extraFile: { path: 'etc/client', content: 'buildah-auth' } });
  });

  const driver: AuthDriver = {
    async push(session, repo, tag) {
      const client = buildah(session);
      expectSuccess(await client.run(['pull', `oci:${layout}:v1`]));
      return client.run(['push', '--tls-verify=false', ...creds(session), image.configDigest.slice('sha256:'.length),
        `docker://${imageRef(ctx.registry, repo, tag)}`]);
    },
    pull: (session, repo, tag) =>
      buildah(session).run(['pull', '--tls-verify=false', ...creds(session), imageRef(ctx.registry, repo, tag)]),
    async pulledConfig(session, repo, tag) {
      const r = expectSuccess(await buildah(session).run(
        ['inspect', '--type', 'image', '--format', '{{.FromImageID}}', imageRef(ctx.registry, repo, tag)]));
      return `sha256:${r.stdout.trim()}`;
    },
    configDigest: () => image.configDigest,
  };

  authScenarios(ctx, 'buildah', driver);

  test('buildah login stores credentials that push uses; logout forgets them', SLOW, async (t) => {
    const session = ctx.session('login');
    const repo = repoName('buildah-login', TEAM_NAMESPACE);
    const login = (password: string) => buildah(session).run(
      ['login', '--tls-verify=false', '--username', ctx.developer.username, '--password-stdin', ctx.registry.hostPort],
      { input: password });
    await expectRefused(t, await login('not-the-password'), BAD_CREDENTIALS);
    assert.deepEqual(storedLogins(session), []);
    expectSuccess(await login(ctx.developer.password));
    assert.deepEqual(storedLogins(session), [ctx.registry.hostPort]);
    expectSuccess(await driver.push(session, repo, 'v1'));
    await expectInRegistry(ctx.registry, repo, 'v1', { configDigest: image.configDigest });
    expectSuccess(await buildah(session).run(['logout', ctx.registry.hostPort]));
    assert.deepEqual(storedLogins(session), []);
    await expectRefused(t, await driver.push(session, repo, 'v2'), NO_CREDENTIALS);
  });
});
