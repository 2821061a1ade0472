// containerd's ctr against the registry under test, through a private containerd. containerd's resolver is
// also what BuildKit uses, and it behaves differently from containers/image: no /v2/ ping, HEAD on the
// manifest by tag (needs Docker-Content-Digest on HEAD), single-PUT blob uploads, HEAD before manifest PUT.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  Client, INVALID_REPO, MISSING_MANIFEST, SLOW, clientSuite, expectInRegistry, imageRef,
  busyboxArchiveForCtr, repoName, expectSuccess, startContainerd, useRegistry,
} from '../support/clients.js';
import type { BuiltImage } from '../support/images.js';

clientSuite('ctr (containerd)', ['ctr', 'containerd', 'runc'], () => {
  const ctx = useRegistry('ctr');
  const repo = repoName('ctr');
  let ctr: Client;
  let image: BuiltImage;
  let archive: string;
  const ref = (tag: string) => imageRef(ctx.registry, repo, tag);

  /** Local image refs in containerd, from `ctr images ls -q`. */
  const localRefs = async () => (await ctr.ok(['images', 'ls', '-q'])).stdout.split('\n').filter(Boolean);

  before(async () => {
    ctr = await startContainerd(ctx);
    ({ image, archive } = await busyboxArchiveForCtr(ctx, 'ctr'));
  }, { timeout: 120_000 });

  test('import an OCI archive and push it (fresh blobs: upload path)', SLOW, async () => {
    await ctr.ok(['images', 'import', '--base-name', `${ctx.registry.hostPort}/${repo}`, archive]);
    assert.ok((await localRefs()).includes(ref('v1')));
    await ctr.ok(['images', 'push', '--plain-http', ref('v1')]);
    await expectInRegistry(ctx.registry, repo, 'v1', { manifestDigest: image.manifestDigest });
  });

  test('remove locally and pull back by tag', SLOW, async () => {
    await ctr.ok(['images', 'rm', '--sync', ref('v1')]);
    assert.ok(!(await localRefs()).includes(ref('v1')));
    await ctr.ok(['images', 'pull', '--plain-http', ref('v1')]);
    const listed = await ctr.ok(['images', 'ls']);
    assert.match(listed.stdout, new RegExp(`${ref('v1')}\\s+\\S+\\s+${image.manifestDigest}`));
    await ctr.ok(['images', 'check']);
  });

  test('pull by digest', SLOW, async () => {
    const byDigest = `${ctx.registry.hostPort}/${repo}@${image.manifestDigest}`;
    await ctr.ok(['images', 'pull', '--plain-http', byDigest]);
    assert.ok((await localRefs()).includes(byDigest));
  });

  test('tag and push into a second repository (blobs already in the registry)', SLOW, async () => {
    const otherRepo = `${repo}-copy`;
    const other = imageRef(ctx.registry, otherRepo, 'v1');
    await ctr.ok(['images', 'tag', ref('v1'), other]);
    await ctr.ok(['images', 'push', '--plain-http', other]);
    await expectInRegistry(ctx.registry, otherRepo, 'v1', { manifestDigest: image.manifestDigest });
    await ctr.ok(['images', 'rm', other]);
  });

  test('missing tag, missing repository and invalid name fail cleanly', SLOW, async () => {
    await ctr.fails(['images', 'pull', '--plain-http', ref('no-such-tag')], MISSING_MANIFEST);
    await ctr.fails(['images', 'pull', '--plain-http', imageRef(ctx.registry, repoName('absent'), 'v1')],
      MISSING_MANIFEST);
    // ctr does not validate names itself: the request reaches the registry, which must refuse it (4xx).
    await ctr.fails(['images', 'push', '--plain-http', imageRef(ctx.registry, INVALID_REPO, 'v1'), ref('v1')],
      /unexpected status: 4\d\d|name invalid|invalid reference/i);
  });
});
