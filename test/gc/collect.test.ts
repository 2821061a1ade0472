/**
 * Garbage collection end to end, on each test database and storage (S3 too when
 * CAIRN_TEST_S3_ENDPOINT is set): images pushed over HTTP, tags and manifests deleted, passes
 * run through POST /api/v1/gc/runs, and the bytes counted in the storage itself.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { http } from '../support/http.js';
import { OCI_MANIFEST, blobOf, descriptorOf, makeImage, pushBlob, pushImage, putManifest, type ImageParts } from '../support/oci.js';
import { testDatabases } from '../support/registry.js';
import { assertBlobReadsBack, gcStatus, gcStorages, runGc, sleep, startGcServer, type GcServer } from './support.js';

const DELAY_MS = 1_000;
/** Long enough for anything pushed now to be past the review delay. */
const PAST_DELAY = DELAY_MS + 300;

const blobsOf = (image: ImageParts) => [image.config, ...image.layers];

for (const database of testDatabases()) {
  for (const storage of gcStorages()) {
    describe(`garbage collection [${database}, ${storage}]`, () => {
      let gc: GcServer;
      let base: string;
      before(async () => {
        gc = await startGcServer(database, storage, { CAIRN_GC_REVIEW_DELAY: '1s', CAIRN_GC_INTERVAL: '0' });
        base = gc.base;
      });
      after(async () => {
        await gc?.stop();
      });

      test('a deleted tag frees its unique blobs in one pass; shared blobs and other images stay', async () => {
        const a = makeImage({ layers: 2 });
        const b = makeImage({ layers: 1 });
        // b shares a's first layer, pushed to another repository.
        const shared = a.layers[0]!;
        const bWithShared: ImageParts = rebuild(b, [shared, ...b.layers]);
        await pushImage(base, 'gc/a', a, 'v1');
        await pushImage(base, 'gc/b', bWithShared, 'v1');
        const before = await gc.storedDigests();
        for (const blob of [...blobsOf(a), ...blobsOf(bWithShared)]) assert.ok(before.has(blob.digest), `${blob.digest} stored`);

        assert.equal((await http('DELETE', `${base}/v2/gc/a/manifests/v1`)).status, 202);
        const queued = await gcStatus(base);
        assert.ok(queued.queued >= 1, 'the untagged manifest is queued');
        await sleep(PAST_DELAY);

        const report = await runGc(base);
        assert.equal(report.dryRun, false);
        assert.equal(report.manifestsDeleted, 1);
        assert.deepEqual(report.deleted.manifests, [{ repository: 'gc/a', digest: a.manifest.digest }]);
        const unique = [a.config, a.layers[1]!];
        assert.deepEqual(report.deleted.blobs.map((b) => b.digest).sort(), unique.map((b) => b.digest).sort());
        assert.equal(report.blobsDeleted, 2);
        const uniqueBytes = unique.reduce((sum, b) => sum + b.size, 0);
        assert.equal(report.bytesFreed, uniqueBytes);

        const stored = await gc.storedDigests();
        for (const blob of unique) assert.ok(!stored.has(blob.digest), `unique blob ${blob.digest} is gone from storage`);
        for (const blob of blobsOf(bWithShared)) {
          assert.ok(stored.has(blob.digest), `blob ${blob.digest} of the other image stays`);
          await assertBlobReadsBack(base, 'gc/b', blob.digest, blob.bytes);
        }
        assert.equal((await http('GET', `${base}/v2/gc/a/manifests/${a.manifest.digest}`)).status, 404);
        assert.equal((await http('GET', `${base}/v2/gc/b/manifests/v1`)).status, 200);

        const status = await gcStatus(base);
        assert.equal(status.bytesFreed, uniqueBytes, 'bytesFreed is the total over recorded passes');
        assert.equal(status.due, 0);
      });

      test('a blob uploaded but not yet referenced survives passes until the delay has passed since its upload', async () => {
        const pending = blobOf(`pending layer ${Math.random()}`);
        await pushBlob(base, 'gc/pending', pending);
        const early = await runGc(base);
        assert.ok(!early.deleted.blobs.some((b) => b.digest === pending.digest));
        assert.ok((await gc.storedDigests()).has(pending.digest), 'young upload kept');
        // A manifest arriving within the delay makes it referenced for good.
        const image = makeImage({ layers: 0 });
        const body = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptorOf(image.config, 'application/vnd.oci.image.config.v1+json'), layers: [descriptorOf(pending, 'application/vnd.oci.image.layer.v1.tar')] };
        await pushBlob(base, 'gc/pending', image.config);
        await putManifest(base, 'gc/pending', 'kept', Buffer.from(JSON.stringify(body)), OCI_MANIFEST, 201);
        // An orphan-to-be: uploaded, never referenced.
        const abandoned = blobOf(`abandoned layer ${Math.random()}`);
        await pushBlob(base, 'gc/pending', abandoned);
        await sleep(PAST_DELAY);
        const report = await runGc(base);
        const deleted = report.deleted.blobs.map((b) => b.digest);
        assert.ok(deleted.includes(abandoned.digest), 'the abandoned upload is collected once old');
        assert.ok(!deleted.includes(pending.digest), 'the referenced one is not');
        const stored = await gc.storedDigests();
        assert.ok(!stored.has(abandoned.digest));
        await assertBlobReadsBack(base, 'gc/pending', pending.digest, pending.bytes);
      });

      test('a referrer lives as long as its subject; deleting the subject by digest frees both', async () => {
        const subject = makeImage({ layers: 1 });
        await pushImage(base, 'gc/signed', subject, 'v1');
        const subjectDescriptor = { mediaType: OCI_MANIFEST, digest: subject.manifest.digest, size: subject.manifest.size };
        const signature = makeImage({ layers: 1, subject: subjectDescriptor, artifactType: 'application/vnd.example.signature' });
        await pushImage(base, 'gc/signed', signature, signature.manifest.digest);
        await sleep(PAST_DELAY);
        const first = await runGc(base);
        assert.ok(!first.deleted.manifests.some((m) => m.digest === signature.manifest.digest), 'untagged referrer kept while its subject is there');
        await assertBlobReadsBack(base, 'gc/signed', signature.layers[0]!.digest);

        assert.equal((await http('DELETE', `${base}/v2/gc/signed/manifests/${subject.manifest.digest}`)).status, 202);
        await sleep(PAST_DELAY);
        const report = await runGc(base);
        assert.deepEqual(report.deleted.manifests.map((m) => m.digest), [signature.manifest.digest]);
        const stored = await gc.storedDigests();
        for (const blob of [...blobsOf(subject), ...blobsOf(signature)]) assert.ok(!stored.has(blob.digest), `${blob.digest} freed`);
      });

      test('a dry run reports and deletes nothing', async () => {
        const image = makeImage({ layers: 1 });
        await pushImage(base, 'gc/dry', image, 'v1');
        assert.equal((await http('DELETE', `${base}/v2/gc/dry/manifests/v1`)).status, 202);
        await sleep(PAST_DELAY);
        const totalBefore = (await gcStatus(base)).bytesFreed;
        const dry = await runGc(base, { dryRun: true });
        assert.equal(dry.dryRun, true);
        assert.deepEqual(dry.deleted.manifests, [{ repository: 'gc/dry', digest: image.manifest.digest }]);
        assert.equal((await http('GET', `${base}/v2/gc/dry/manifests/${image.manifest.digest}`)).status, 200, 'still there');
        const stored = await gc.storedDigests();
        for (const blob of blobsOf(image)) assert.ok(stored.has(blob.digest));
        assert.equal((await gcStatus(base)).bytesFreed, totalBefore, 'a dry run frees nothing');
        const real = await runGc(base);
        assert.equal(real.manifestsDeleted, 1);
        assert.equal(real.blobsDeleted, 2);
      });

      test('the sweep removes old bytes that no row names, and spares recorded blobs', async () => {
        const orphan = await gc.plantOrphan(Buffer.from(`left by a crash ${Math.random()}`));
        const image = makeImage({ layers: 1 });
        await pushImage(base, 'gc/sweep', image, 'v1');
        await sleep(PAST_DELAY);
        const report = await runGc(base);
        assert.equal(report.swept, true);
        assert.deepEqual(report.deleted.orphans.map((o) => o.digest), [orphan]);
        const stored = await gc.storedDigests();
        assert.ok(!stored.has(orphan));
        for (const blob of blobsOf(image)) await assertBlobReadsBack(base, 'gc/sweep', blob.digest, blob.bytes);
      });

      test('bad input to POST /api/v1/gc/runs is a 400 in the admin error shape', async () => {
        const response = await http('POST', `${base}/api/v1/gc/runs?dryRun=maybe`);
        assert.equal(response.status, 400);
        assert.ok(response.json().error.code, response.text());
        const unknown = await http('POST', `${base}/api/v1/gc/runs?dryrun=true`);
        assert.equal(unknown.status, 400, 'a misspelt option is refused, not ignored');
      });
    });
  }
}

/** The image with other layers (manifest rebuilt). */
function rebuild(image: ImageParts, layers: ImageParts['layers']): ImageParts {
  const body = JSON.parse(image.manifest.bytes.toString()) as { layers: unknown[] };
  body.layers = layers.map((l) => descriptorOf(l, 'application/vnd.oci.image.layer.v1.tar+gzip'));
  return { config: image.config, layers, manifest: blobOf(JSON.stringify(body)) };
}
