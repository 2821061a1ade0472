/** Manifest push, pull, negotiation, references, deletes and limits. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errorCode, http } from '../support/http.js';
import {
  DOCKER_LIST,
  DOCKER_MANIFEST,
  OCI_INDEX,
  OCI_MANIFEST,
  blobOf,
  descriptorOf,
  makeImage,
  pushBlob,
  pushImage,
  putManifest,
  randomBlob,
  sha256,
} from '../support/oci.js';
import { describeOnEachDatabase } from '../support/suite.js';

describeOnEachDatabase('manifests', (ctx) => {
  const name = 'manifests/app';
  const image = makeImage({ layers: 2 });

  test('PUT by tag answers 201 with Location and Docker-Content-Digest', async () => {
    for (const blob of [image.config, ...image.layers]) await pushBlob(ctx.base, name, blob);
    const response = await putManifest(ctx.base, name, 'v1', image.manifest.bytes, OCI_MANIFEST);
    assert.equal(response.status, 201, response.text());
    assert.equal(response.headers['docker-content-digest'], image.manifest.digest);
    assert.equal(response.headers.location, `/v2/${name}/manifests/${image.manifest.digest}`);
  });

  test('GET by tag and by digest returns the exact bytes and headers', async () => {
    for (const ref of ['v1', image.manifest.digest]) {
      const response = await http('GET', `${ctx.base}/v2/${name}/manifests/${ref}`, { headers: { accept: OCI_MANIFEST } });
      assert.equal(response.status, 200);
      assert.deepEqual(response.body, image.manifest.bytes);
      assert.equal(response.headers['content-type'], OCI_MANIFEST);
      assert.equal(response.headers['docker-content-digest'], image.manifest.digest);
      assert.equal(response.headers['content-length'], String(image.manifest.size));
    }
  });

  test('HEAD returns digest, type and length (containerd and BuildKit rely on them)', async () => {
    const response = await http('HEAD', `${ctx.base}/v2/${name}/manifests/v1`, {
      headers: { accept: `${DOCKER_MANIFEST}, ${OCI_MANIFEST}, */*` },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers['docker-content-digest'], image.manifest.digest);
    assert.equal(response.headers['content-type'], OCI_MANIFEST);
    assert.equal(response.headers['content-length'], String(image.manifest.size));
    assert.equal(response.body.length, 0);
  });

  test('content negotiation: an Accept without the stored type and no wildcard is MANIFEST_UNKNOWN', async () => {
    const response = await http('GET', `${ctx.base}/v2/${name}/manifests/v1`, { headers: { accept: DOCKER_MANIFEST } });
    assert.equal(response.status, 404);
    assert.equal(errorCode(response), 'MANIFEST_UNKNOWN');
    const wildcard = await http('GET', `${ctx.base}/v2/${name}/manifests/v1`, { headers: { accept: '*/*' } });
    assert.equal(wildcard.status, 200);
  });

  test('PUT by digest needs the matching digest', async () => {
    const other = makeImage();
    for (const blob of [other.config, ...other.layers]) await pushBlob(ctx.base, name, blob);
    const ok = await putManifest(ctx.base, name, other.manifest.digest, other.manifest.bytes, OCI_MANIFEST);
    assert.equal(ok.status, 201, ok.text());
    const wrong = await putManifest(ctx.base, name, sha256('x'), other.manifest.bytes, OCI_MANIFEST);
    assert.equal(wrong.status, 400);
    assert.equal(errorCode(wrong), 'DIGEST_INVALID');
  });

  test('a manifest referencing an unknown blob is MANIFEST_BLOB_UNKNOWN', async () => {
    const missing = makeImage();
    await pushBlob(ctx.base, name, missing.config);
    const response = await putManifest(ctx.base, name, 'missing-layer', missing.manifest.bytes, OCI_MANIFEST);
    assert.equal(response.status, 400);
    assert.equal(errorCode(response), 'MANIFEST_BLOB_UNKNOWN');
    assert.equal((await http('GET', `${ctx.base}/v2/${name}/manifests/missing-layer`)).status, 404);
  });

  test('blobs of another repository do not satisfy references', async () => {
    const elsewhere = makeImage();
    for (const blob of [elsewhere.config, ...elsewhere.layers]) await pushBlob(ctx.base, 'manifests/other', blob);
    const response = await putManifest(ctx.base, name, 'borrowed', elsewhere.manifest.bytes, OCI_MANIFEST);
    assert.equal(errorCode(response), 'MANIFEST_BLOB_UNKNOWN');
  });

  const malformed: Array<[string, string, string]> = [
    ['not JSON', '{not json', OCI_MANIFEST],
    ['an array', '[]', OCI_MANIFEST],
    ['schema version 1', JSON.stringify({ schemaVersion: 1, name: 'x', tag: 'y', fsLayers: [] }), 'application/vnd.docker.distribution.manifest.v1+prettyjws'],
    ['wrong schemaVersion', JSON.stringify({ schemaVersion: 3, mediaType: OCI_MANIFEST, config: {}, layers: [] }), OCI_MANIFEST],
    ['bad descriptor digest', JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'x', digest: 'sha256:zz', size: 1 }, layers: [] }), OCI_MANIFEST],
    ['negative size', JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'x', digest: sha256('a'), size: -1 }, layers: [] }), OCI_MANIFEST],
    ['mediaType contradicting Content-Type', JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }), OCI_MANIFEST],
    ['layers not an array', JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'x', digest: sha256('a'), size: 1 }, layers: {} }), OCI_MANIFEST],
  ];
  for (const [label, body, type] of malformed) {
    test(`a malformed manifest (${label}) is MANIFEST_INVALID`, async () => {
      const response = await putManifest(ctx.base, name, 'bad', Buffer.from(body), type);
      assert.equal(response.status, 400, response.text());
      assert.equal(errorCode(response), 'MANIFEST_INVALID');
      assert.ok(response.json().errors[0].message.length > 5);
    });
  }

  test('an oversized manifest is refused with 413 and not stored', async () => {
    const big = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [], annotations: { pad: 'x'.repeat(4 * 1024 * 1024) } }));
    const response = await putManifest(ctx.base, name, 'too-big', big, OCI_INDEX);
    assert.equal(response.status, 413);
    assert.equal(errorCode(response), 'SIZE_INVALID');
    assert.equal((await http('GET', `${ctx.base}/v2/${name}/manifests/too-big`)).status, 404);
  });

  test('an invalid tag is refused', async () => {
    const response = await putManifest(ctx.base, name, '-bad-tag', image.manifest.bytes, OCI_MANIFEST);
    assert.equal(response.status, 400);
    assert.equal(errorCode(response), 'MANIFEST_INVALID');
  });

  test('Docker schema 2 manifest and manifest list round-trip', async () => {
    const docker = makeImage({ mediaType: DOCKER_MANIFEST });
    await pushImage(ctx.base, name, docker, 'docker', DOCKER_MANIFEST);
    const list = blobOf(JSON.stringify({
      schemaVersion: 2,
      mediaType: DOCKER_LIST,
      manifests: [{ ...descriptorOf(docker.manifest, DOCKER_MANIFEST), platform: { architecture: 'amd64', os: 'linux' } }],
    }));
    await putManifest(ctx.base, name, 'docker-list', list.bytes, DOCKER_LIST, 201);
    const response = await http('GET', `${ctx.base}/v2/${name}/manifests/docker-list`, { headers: { accept: DOCKER_LIST } });
    assert.deepEqual(response.body, list.bytes);
    assert.equal(response.headers['content-type'], DOCKER_LIST);
  });

  test('an OCI index needs its child manifests to exist', async () => {
    const child = makeImage();
    const index = blobOf(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [descriptorOf(child.manifest, OCI_MANIFEST)] }));
    const early = await putManifest(ctx.base, name, 'index', index.bytes, OCI_INDEX);
    assert.equal(errorCode(early), 'MANIFEST_BLOB_UNKNOWN');
    await pushImage(ctx.base, name, child, child.manifest.digest);
    await putManifest(ctx.base, name, 'index', index.bytes, OCI_INDEX, 201);
  });

  test("BuildKit's legacy cache index (blobs in manifests[]) is accepted", async () => {
    const layer = randomBlob(300);
    const cacheConfig = blobOf(JSON.stringify({ layers: [{ blob: layer.digest, parent: -1 }], records: [] }));
    await pushBlob(ctx.base, name, layer);
    await pushBlob(ctx.base, name, cacheConfig);
    const index = blobOf(JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [descriptorOf(layer, 'application/vnd.oci.image.layer.v1.tar+gzip'), descriptorOf(cacheConfig, 'application/vnd.buildkit.cacheconfig.v0')],
    }));
    await putManifest(ctx.base, name, 'buildcache', index.bytes, OCI_INDEX, 201);
    const back = await http('GET', `${ctx.base}/v2/${name}/manifests/buildcache`);
    assert.deepEqual(back.body, index.bytes);
  });

  test('a manifest without mediaType takes it from Content-Type', async () => {
    const img = makeImage();
    for (const blob of [img.config, ...img.layers]) await pushBlob(ctx.base, name, blob);
    const body = JSON.parse(img.manifest.bytes.toString());
    delete body.mediaType;
    const bytes = Buffer.from(JSON.stringify(body));
    await putManifest(ctx.base, name, 'no-media-type', bytes, OCI_MANIFEST, 201);
    const back = await http('GET', `${ctx.base}/v2/${name}/manifests/no-media-type`);
    assert.equal(back.headers['content-type'], OCI_MANIFEST);
  });

  test('a tag moves to a new manifest on re-push', async () => {
    const next = makeImage();
    await pushImage(ctx.base, name, next, 'moving');
    const again = makeImage();
    await pushImage(ctx.base, name, again, 'moving');
    const response = await http('HEAD', `${ctx.base}/v2/${name}/manifests/moving`);
    assert.equal(response.headers['docker-content-digest'], again.manifest.digest);
  });

  test('deleting a tag removes only the tag', async () => {
    const img = makeImage();
    await pushImage(ctx.base, name, img, 'delete-me');
    await putManifest(ctx.base, name, 'keep-me', img.manifest.bytes, OCI_MANIFEST, 201);
    assert.equal((await http('DELETE', `${ctx.base}/v2/${name}/manifests/delete-me`)).status, 202);
    assert.equal((await http('GET', `${ctx.base}/v2/${name}/manifests/delete-me`)).status, 404);
    assert.equal((await http('GET', `${ctx.base}/v2/${name}/manifests/keep-me`)).status, 200);
    assert.equal((await http('GET', `${ctx.base}/v2/${name}/manifests/${img.manifest.digest}`)).status, 200);
  });

  test('deleting by digest removes the manifest and every tag on it', async () => {
    const img = makeImage();
    await pushImage(ctx.base, name, img, 'gone-1');
    await putManifest(ctx.base, name, 'gone-2', img.manifest.bytes, OCI_MANIFEST, 201);
    assert.equal((await http('DELETE', `${ctx.base}/v2/${name}/manifests/${img.manifest.digest}`)).status, 202);
    for (const ref of ['gone-1', 'gone-2', img.manifest.digest]) {
      const response = await http('GET', `${ctx.base}/v2/${name}/manifests/${ref}`);
      assert.equal(response.status, 404, ref);
      assert.equal(errorCode(response), 'MANIFEST_UNKNOWN');
    }
    const again = await http('DELETE', `${ctx.base}/v2/${name}/manifests/${img.manifest.digest}`);
    assert.equal(again.status, 404);
    assert.equal(errorCode(again), 'MANIFEST_UNKNOWN');
  });

  test('unknown manifests and repositories are 404 MANIFEST_UNKNOWN', async () => {
    for (const url of [`/v2/${name}/manifests/nope`, `/v2/no/such/repo/manifests/latest`, `/v2/${name}/manifests/${sha256('none')}`]) {
      const response = await http('GET', `${ctx.base}${url}`);
      assert.equal(response.status, 404, url);
      assert.equal(errorCode(response), 'MANIFEST_UNKNOWN');
    }
  });
});
