// skopeo against Cairn under authentication: `copy --dest-creds` and `--src-creds`, `inspect --creds` and
// `list-tags --creds`, each given per command (the session's REGISTRY_AUTH_FILE stays empty), and `skopeo
// login` for the stored-credentials path. skopeo copies the OCI manifest byte for byte.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import {
  BAD_CREDENTIALS, TEAM_NAMESPACE, authClientSuite, authScenarios, credsOf, expectRefused, storedLogins,
  type AuthDriver, type Session,
} from '../support/clients-auth.js';
import { Client, SLOW, expectInRegistry, expectSuccess, imageRef, repoName } from '../support/clients.js';
import { buildBusyboxOciLayout, type BuiltImage } from '../support/images.js';

authClientSuite('skopeo', ['skopeo'], (ctx) => {
  const skopeo = new Client('skopeo');
  let layout: string;
  let image: BuiltImage;
  const docker = (repo: string, tag: string) => `docker://${imageRef(ctx.registry, repo, tag)}`;
  /** `--FLAG user:secret` for the session's identity; nothing for an anonymous session. */
  const creds = (flag: string, session: Session) => (session.who ? [flag, credsOf(session)!] : []);
  /** Where pull() writes: an OCI layout per session and tag. */
  const pulledLayout = (session: Session, tag: string) => join(session.dir, `pulled-${tag}`);

  before(() => {
    layout = join(ctx.dir, 'layout');
    image = buildBusyboxOciLayout(layout, { tag: 'v1', extraFile: { path: 'etc/client', content: 'skopeo-auth' } });
  });

  const driver: AuthDriver = {
    push: (session, repo, tag) => skopeo.run(
      ['copy', '--dest-tls-verify=false', ...creds('--dest-creds', session), `oci:${layout}:v1`, docker(repo, tag)],
      { env: session.env }),
    pull: (session, repo, tag) => skopeo.run(
      ['copy', '--src-tls-verify=false', ...creds('--src-creds', session), docker(repo, tag), `oci:${pulledLayout(session, tag)}:${tag}`],
      { env: session.env }),
    async pulledConfig(session, _repo, tag) {
      const dir = pulledLayout(session, tag);
      const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
      const digest = index.manifests[0]!.digest;
      // Byte for byte: the manifest pulled is the one built.
      assert.equal(digest, image.manifestDigest);
      const manifest = JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)), 'utf8')) as {
        config: { digest: string };
      };
      return manifest.config.digest;
    },
    configDigest: () => image.configDigest,
  };

  authScenarios(ctx, 'skopeo', driver);

  test('inspect and list-tags with --creds; a wrong password is refused', SLOW, async (t) => {
    const repo = repoName('skopeo-inspect', TEAM_NAMESPACE);
    const developer = `${ctx.developer.username}:${ctx.developer.password}`;
    await skopeo.ok(['copy', '--dest-tls-verify=false', '--dest-creds', developer, `oci:${layout}:v1`, docker(repo, 'v1')]);
    const reader = `${ctx.reader.username}:${ctx.reader.password}`;
    const info = JSON.parse((await skopeo.ok(['inspect', '--tls-verify=false', '--creds', reader, docker(repo, 'v1')])).stdout) as {
      Digest: string; RepoTags: string[];
    };
    assert.equal(info.Digest, image.manifestDigest);
    assert.deepEqual(info.RepoTags, ['v1']);
    const raw = await skopeo.ok(['inspect', '--raw', '--tls-verify=false', '--creds', reader, docker(repo, 'v1')]);
    assert.equal(raw.stdout, image.manifest.toString('utf8'));
    const tags = await skopeo.ok(['list-tags', '--tls-verify=false', '--creds', reader, `docker://${ctx.registry.hostPort}/${repo}`]);
    assert.deepEqual((JSON.parse(tags.stdout) as { Tags: string[] }).Tags, ['v1']);
    await expectRefused(t, await skopeo.run(['inspect', '--tls-verify=false', '--creds', `${ctx.reader.username}:not-the-password`,
      docker(repo, 'v1')]), BAD_CREDENTIALS);
  });

  test('skopeo login stores the credentials that a later copy uses', SLOW, async (t) => {
    const session = ctx.session('login');
    const repo = repoName('skopeo-login', TEAM_NAMESPACE);
    const login = (password: string) => skopeo.run(
      ['login', '--tls-verify=false', '--username', ctx.developer.username, '--password-stdin', ctx.registry.hostPort],
      { env: session.env, input: password });
    await expectRefused(t, await login('not-the-password'), BAD_CREDENTIALS);
    assert.deepEqual(storedLogins(session), []);
    expectSuccess(await login(ctx.developer.password));
    assert.deepEqual(storedLogins(session), [ctx.registry.hostPort]);
    expectSuccess(await driver.push(session, repo, 'v1'));
    await expectInRegistry(ctx.registry, repo, 'v1', { manifestDigest: image.manifestDigest });
  });
});
