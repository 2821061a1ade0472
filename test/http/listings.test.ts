/** Tag lists, the catalog and the referrers API: order, pagination, filters. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorCode, http } from '../support/http.js';
import { OCI_INDEX, OCI_MANIFEST, descriptorOf, makeImage, pushBlob, pushImage, putManifest } from '../support/oci.js';
import { describeOnEachDatabase } from '../support/suite.js';

describeOnEachDatabase('tags, catalog and referrers', (ctx) => {
  const name = 'listings/app';
  const tags = ['b', 'a', 'B', '10', '2', '1', 'latest', 'v1.0', 'v1.0-rc1', 'A_1'];
  const lexical = [...tags].sort();

  test('tags are listed in lexical order', async () => {
    const img = makeImage();
    await pushImage(ctx.base, name, img, tags[0]!);
    for (const tag of tags.slice(1)) await putManifest(ctx.base, name, tag, img.manifest.bytes, OCI_MANIFEST, 201);
    const response = await http('GET', `${ctx.base}/v2/${name}/tags/list`);
    assert.equal(response.status, 200);
    assert.deepEqual(response.json(), { name, tags: lexical });
    assert.equal(response.headers.link, undefined);
  });

  test('n and last paginate, with a Link header to the next page', async () => {
    const seen: string[] = [];
    let url: string | undefined = `/v2/${name}/tags/list?n=3`;
    let pages = 0;
    while (url) {
      const response = await http('GET', `${ctx.base}${url}`);
      assert.equal(response.status, 200);
      const page = response.json().tags as string[];
      assert.ok(page.length <= 3);
      seen.push(...page);
      const link = response.headers.link;
      url = link ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined;
      pages++;
      assert.ok(pages < 10);
    }
    assert.deepEqual(seen, lexical);
    assert.equal(pages, 4);
  });

  test('last alone starts after the given tag; n=0 gives an empty list', async () => {
    const after = await http('GET', `${ctx.base}/v2/${name}/tags/list?last=b`);
    assert.deepEqual(after.json().tags, lexical.filter((t) => t > 'b'));
    const none = await http('GET', `${ctx.base}/v2/${name}/tags/list?n=0`);
    assert.deepEqual(none.json().tags, []);
  });

  test('a bad page size is a 400, an unknown repository NAME_UNKNOWN', async () => {
    const bad = await http('GET', `${ctx.base}/v2/${name}/tags/list?n=-1`);
    assert.equal(bad.status, 400);
    const unknown = await http('GET', `${ctx.base}/v2/listings/none/tags/list`);
    assert.equal(unknown.status, 404);
    assert.equal(errorCode(unknown), 'NAME_UNKNOWN');
  });

  test('the catalog lists repositories with pagination', async () => {
    const img = makeImage();
    await pushImage(ctx.base, 'listings/zeta', img, 'x');
    const all = await http('GET', `${ctx.base}/v2/_catalog`);
    const repositories = all.json().repositories as string[];
    assert.ok(repositories.includes(name) && repositories.includes('listings/zeta'));
    assert.deepEqual(repositories, [...repositories].sort());
    const first = await http('GET', `${ctx.base}/v2/_catalog?n=1`);
    assert.equal(first.json().repositories.length, 1);
    assert.match(first.headers.link!, /^<\/v2\/_catalog\?n=1&last=[^>]+>; rel="next"$/);
  });

  test('referrers: subjects, artifactType filter, OCI-Subject header, empty index for unknown digests', async () => {
    const subject = makeImage();
    await pushImage(ctx.base, name, subject, 'subject');
    const subjectDescriptor = descriptorOf(subject.manifest, OCI_MANIFEST);
    const sbom = makeImage({ subject: subjectDescriptor, artifactType: 'application/spdx+json' });
    const sig = makeImage({ subject: subjectDescriptor, artifactType: 'application/vnd.dev.sigstore.bundle+json' });
    for (const img of [sbom, sig]) {
      for (const blob of [img.config, ...img.layers]) await pushBlob(ctx.base, name, blob);
      const response = await putManifest(ctx.base, name, img.manifest.digest, img.manifest.bytes, OCI_MANIFEST, 201);
      assert.equal(response.headers['oci-subject'], subject.manifest.digest);
    }
    const all = await http('GET', `${ctx.base}/v2/${name}/referrers/${subject.manifest.digest}`);
    assert.equal(all.status, 200);
    assert.equal(all.headers['content-type'], OCI_INDEX);
    const index = all.json();
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.mediaType, OCI_INDEX);
    assert.deepEqual(
      index.manifests.map((d: { digest: string }) => d.digest).sort(),
      [sbom.manifest.digest, sig.manifest.digest].sort(),
    );
    const entry = index.manifests.find((d: { digest: string }) => d.digest === sbom.manifest.digest);
    assert.deepEqual(entry, { mediaType: OCI_MANIFEST, digest: sbom.manifest.digest, size: sbom.manifest.size, artifactType: 'application/spdx+json' });

    const filtered = await http('GET', `${ctx.base}/v2/${name}/referrers/${subject.manifest.digest}?artifactType=application/spdx%2Bjson`);
    assert.equal(filtered.headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual(filtered.json().manifests.map((d: { digest: string }) => d.digest), [sbom.manifest.digest]);

    const none = await http('GET', `${ctx.base}/v2/${name}/referrers/sha256:${'1'.repeat(64)}`);
    assert.equal(none.status, 200);
    assert.deepEqual(none.json().manifests, []);
    const bad = await http('GET', `${ctx.base}/v2/${name}/referrers/sha256:nothex`);
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad), 'DIGEST_INVALID');
  });

  test('deleting a referrer removes it from the referrers list', async () => {
    const subject = makeImage();
    await pushImage(ctx.base, name, subject, 'subject-2');
    const ref = makeImage({ subject: descriptorOf(subject.manifest, OCI_MANIFEST), artifactType: 'text/plain' });
    await pushImage(ctx.base, name, ref, ref.manifest.digest);
    const before = await http('GET', `${ctx.base}/v2/${name}/referrers/${subject.manifest.digest}`);
    assert.equal(before.json().manifests.length, 1);
    await http('DELETE', `${ctx.base}/v2/${name}/manifests/${ref.manifest.digest}`);
    const after = await http('GET', `${ctx.base}/v2/${name}/referrers/${subject.manifest.digest}`);
    assert.deepEqual(after.json().manifests, []);
  });
});
