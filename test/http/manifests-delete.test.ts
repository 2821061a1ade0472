/**
 * Manifest deletes keep images whole: a manifest that an index of the repository lists (a platform
 * of a multi-platform image) is refused with 405 UNSUPPORTED naming the index and its tag; once the
 * index is gone it can be deleted. Race-free against an index push that lists it. Referrers do not
 * protect their subject (the spec lets a subject go while referrers remain).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorCode, http, type TestResponse } from '../support/http.js';
import { OCI_INDEX, OCI_MANIFEST, blobOf, descriptorOf, makeImage, pushImage, putManifest, type ImageParts } from '../support/oci.js';
import { describeOnEachDatabase } from '../support/suite.js';

function indexOf(...children: ImageParts[]) {
  const manifests = children.map((c, i) => ({ ...descriptorOf(c.manifest, OCI_MANIFEST), platform: { os: 'linux', architecture: `arch${i}` } }));
  return blobOf(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests }));
}

function assertListed(response: TestResponse, manifest: string, index: string, tag: string | null, indexes = 1): void {
  assert.equal(response.status, 405, response.text());
  const body = response.json<{ errors: Array<{ code: string; message: string; detail: unknown }> }>();
  assert.equal(body.errors.length, 1);
  const [error] = body.errors;
  assert.equal(error!.code, 'UNSUPPORTED');
  assert.ok(error!.message.includes(manifest) && error!.message.includes(index), error!.message);
  assert.ok(error!.message.includes(tag === null ? '(untagged)' : `(tag ${tag})`), error!.message);
  assert.deepEqual(error!.detail, { digest: manifest, index, tag, indexes });
}

describeOnEachDatabase('manifest deletes keep images whole', (ctx) => {
  const del = (name: string, reference: string) => http('DELETE', `${ctx.base}/v2/${name}/manifests/${reference}`);

  test('a platform manifest of a tagged index is refused, naming the index; index first, then the platform', async () => {
    const name = 'mdeletes/multi';
    const [amd, arm] = [makeImage(), makeImage()];
    for (const img of [amd, arm]) await pushImage(ctx.base, name, img, img.manifest.digest);
    const index = indexOf(amd!, arm!);
    await putManifest(ctx.base, name, 'latest', index.bytes, OCI_INDEX, 201);
    assertListed(await del(name, arm!.manifest.digest), arm!.manifest.digest, index.digest, 'latest');
    assert.equal((await http('GET', `${ctx.base}/v2/${name}/manifests/${arm!.manifest.digest}`)).status, 200);

    // Deleting the tag leaves the index, which still lists the platform (untagged now).
    assert.equal((await del(name, 'latest')).status, 202);
    assertListed(await del(name, arm!.manifest.digest), arm!.manifest.digest, index.digest, null);

    assert.equal((await del(name, index.digest)).status, 202);
    for (const img of [amd!, arm!]) assert.equal((await del(name, img.manifest.digest)).status, 202);
    assert.equal(errorCode(await del(name, amd!.manifest.digest)), 'MANIFEST_UNKNOWN');
  });

  test('listed by two indexes: a tagged one is named, the other counted', async () => {
    const name = 'mdeletes/two';
    const img = makeImage();
    await pushImage(ctx.base, name, img, img.manifest.digest);
    const a = indexOf(img);
    const b = blobOf(JSON.stringify({ ...JSON.parse(a.bytes.toString()), annotations: { b: 'yes' } }));
    await putManifest(ctx.base, name, a.digest, a.bytes, OCI_INDEX, 201);
    await putManifest(ctx.base, name, 'b', b.bytes, OCI_INDEX, 201);
    const response = await del(name, img.manifest.digest);
    assertListed(response, img.manifest.digest, b.digest, 'b', 2);
    assert.match(response.text(), /and 1 other index:/);
  });

  test('a subject with referrers can still be deleted', async () => {
    const name = 'mdeletes/subject';
    const subject = makeImage();
    await pushImage(ctx.base, name, subject, 'v1');
    const referrer = makeImage({ subject: descriptorOf(subject.manifest, OCI_MANIFEST), artifactType: 'application/vnd.example.sbom' });
    await pushImage(ctx.base, name, referrer, referrer.manifest.digest);
    assert.equal((await del(name, subject.manifest.digest)).status, 202);
    assert.equal((await http('GET', `${ctx.base}/v2/${name}/manifests/${referrer.manifest.digest}`)).status, 200);
  });

  test('an index push racing the delete of a platform: never both succeed, never a broken index', async (t) => {
    const name = 'mdeletes/race';
    const outcomes = { pushed: 0, deleted: 0 };
    for (let i = 0; i < 25; i++) {
      const img = makeImage();
      await pushImage(ctx.base, name, img, img.manifest.digest);
      const index = indexOf(img);
      const [put, removed] = await Promise.all([
        putManifest(ctx.base, name, `race-${i}`, index.bytes, OCI_INDEX),
        del(name, img.manifest.digest),
      ]);
      if (put.status === 201) {
        assert.equal(removed.status, 405, `#${i}: index stored, so the delete must be refused: ${removed.text()}`);
        assert.equal((await http('GET', `${ctx.base}/v2/${name}/manifests/${img.manifest.digest}`)).status, 200);
        outcomes.pushed++;
      } else {
        assert.equal(removed.status, 202, `#${i}: ${put.status} ${put.text()} / ${removed.status}`);
        assert.equal(put.status, 400, put.text());
        assert.equal(errorCode(put), 'MANIFEST_BLOB_UNKNOWN');
        assert.equal((await http('GET', `${ctx.base}/v2/${name}/manifests/race-${i}`)).status, 404);
        outcomes.deleted++;
      }
    }
    t.diagnostic(`pushed first ${outcomes.pushed}, deleted first ${outcomes.deleted}`);
  });
});
