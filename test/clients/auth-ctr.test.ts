// containerd's ctr against Cairn under authentication, through a private containerd: `ctr images push/pull
// --user user:secret --plain-http`. ctr has no login and stores no credentials; with a username containerd's
// resolver asks for tokens with the OAuth2 password grant (POST /token), without one anonymously (GET /token).
import assert from 'node:assert/strict';
import { before } from 'node:test';
import { authClientSuite, authScenarios, credsOf, type AuthDriver, type Session } from '../support/clients-auth.js';
import { Client, busyboxArchiveForCtr, expectSuccess, imageRef, startContainerd } from '../support/clients.js';
import type { BuiltImage } from '../support/images.js';

authClientSuite('ctr (containerd)', ['ctr', 'containerd', 'runc'], (ctx) => {
  let ctr: Client;
  let image: BuiltImage;
  let archive: string;
  const imported = () => `${ctx.registry.hostPort}/local/import:v1`;
  const user = (session: Session) => (session.who ? ['--user', credsOf(session)!] : []);

  before(async () => {
    ctr = await startContainerd(ctx);
    ({ image, archive } = await busyboxArchiveForCtr(ctx, 'ctr-auth'));
  }, { timeout: 120_000 });

  const driver: AuthDriver = {
    async push(session, repo, tag) {
      // Imported afresh each time: pull() removes every image, and with them (--sync) their content.
      expectSuccess(await ctr.run(['images', 'import', '--base-name', imported().replace(/:v1$/, ''), archive]));
      const ref = imageRef(ctx.registry, repo, tag);
      expectSuccess(await ctr.run(['images', 'tag', '--force', imported(), ref]));
      return ctr.run(['images', 'push', '--plain-http', ...user(session), ref]);
    },
    async pull(session, repo, tag) {
      const local = (await ctr.ok(['images', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
      if (local.length) expectSuccess(await ctr.run(['images', 'rm', '--sync', ...local]));
      return ctr.run(['images', 'pull', '--plain-http', ...user(session), imageRef(ctx.registry, repo, tag)]);
    },
    async pulledConfig(_session, repo, tag) {
      const listed = (await ctr.ok(['images', 'ls'])).stdout.split('\n');
      const line = listed.find((l) => l.startsWith(`${imageRef(ctx.registry, repo, tag)} `));
      const digest = line?.split(/\s+/)[2] ?? '';
      assert.ok(digest.startsWith('sha256:'), `no digest for ${repo}:${tag} in:\n${listed.join('\n')}`);
      const manifest = JSON.parse((await ctr.ok(['content', 'get', digest])).stdout) as { config: { digest: string } };
      return manifest.config.digest;
    },
    configDigest: () => image.configDigest,
  };

  authScenarios(ctx, 'ctr', driver);
});
