/**
 * The locks and triggers garbage collection relies on, against real PGlite and PostgreSQL: the
 * collector's check-and-delete and a push's reference serialise (either order), links re-enqueue,
 * deleted subjects enqueue their referrers, and the shared "is referenced" definition.
 */
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openTestDatabase, type TestMetadataDatabase } from '../support/databases.js';
import { testDatabases } from '../support/registry.js';
import { blobIsReferenced } from '../../src/metadata/stores/gc.js';
import { ReferencesMissingError, type NewManifest } from '../../src/metadata/stores/manifests.js';

const newDigest = () => `sha256:${createHash('sha256').update(randomBytes(16)).digest('hex')}`;

for (const kind of testDatabases()) {
  describe(`garbage collection stores on ${kind}`, () => {
    let t: TestMetadataDatabase;
    before(async () => {
      t = await openTestDatabase(kind);
    });
    after(async () => {
      await t?.close();
    });

    const repo = async (name = `r/${randomBytes(4).toString('hex')}`) => (await t.metadata.stores.repositories.findOrCreate(name)).id;
    const blob = async (repositoryId: number, size = 10) => {
      const digest = newDigest();
      await t.metadata.stores.blobs.addToRepository(repositoryId, digest, size);
      return digest;
    };
    const manifest = (repositoryId: number, blobDigests: string[], extra: Partial<NewManifest> = {}): NewManifest => {
      const payload = randomBytes(32);
      return {
        repositoryId,
        digest: `sha256:${createHash('sha256').update(payload).digest('hex')}`,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        artifactType: null,
        configDigest: null,
        configMediaType: null,
        subjectDigest: null,
        annotations: null,
        payload,
        blobDigests,
        childManifestIds: [],
        ...extra,
      };
    };

    test('a mount (link) waits for a collector holding the blob, then finds it gone', async () => {
      const r = await repo();
      const other = await repo();
      const digest = await blob(r);
      let linked: Promise<boolean> | undefined;
      await t.metadata.transaction(async ({ gc }) => {
        assert.ok(await gc.lockBlob(digest));
        linked = t.metadata.stores.blobs.link(other, digest);
        // Give the link time to reach the lock (PostgreSQL) or the connection (PGlite).
        await new Promise((resolve) => setTimeout(resolve, 200));
        await gc.deleteBlob(digest);
      });
      assert.equal(await linked, false, 'nothing linked to a deleted blob');
      assert.equal(await t.metadata.stores.blobs.findInRepository(other, digest), undefined);
    });

    test('a collector finds a blob held by a re-upload busy, and it stays', async () => {
      if (kind === 'pglite') return; // one connection: two transactions cannot overlap at all
      const r = await repo();
      const digest = await blob(r);
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let holding!: () => void;
      const isHolding = new Promise<void>((resolve) => (holding = resolve));
      const upload = t.metadata.transaction(async ({ gc }) => {
        assert.equal(await gc.holdBlobForLink(digest), true);
        holding();
        await held;
      });
      await isHolding;
      const locked = await t.metadata.transaction(({ gc }) => gc.lockBlob(digest));
      assert.equal(locked, undefined, 'SKIP LOCKED: the collector does not wait, it skips');
      release();
      await upload;
      assert.ok(await t.metadata.stores.blobs.find(digest));
    });

    test('a manifest insert referencing a blob the collector deleted meanwhile stores nothing', async () => {
      const r = await repo();
      const digest = await blob(r);
      await assert.rejects(
        t.metadata.transaction(async ({ gc, manifests }) => {
          await gc.deleteBlob(digest);
          await manifests.insert(manifest(r, [digest]));
        }),
        (error: unknown) => error instanceof ReferencesMissingError && error.blobs.includes(digest),
      );
    });

    test('linking (upload or mount) refreshes the link time and re-enqueues the blob', async () => {
      const r = await repo();
      const digest = await blob(r);
      await sql`UPDATE repository_blobs SET created_at = now() - interval '2 days' WHERE blob_digest = ${digest}`.execute(t.metadata.db);
      await sql`UPDATE gc_blob_review_queue SET review_after = now() - interval '1 day' WHERE digest = ${digest}`.execute(t.metadata.db);
      assert.equal(await t.metadata.stores.blobs.link(r, digest), true);
      const refs = await t.metadata.stores.gc.blobReferences(digest);
      assert.ok(refs.lastLinkedAt && Date.now() - refs.lastLinkedAt.getTime() < 60_000, 'link time refreshed');
      const row = await t.metadata.db.selectFrom('gc_blob_review_queue').select(['review_after', 'event']).where('digest', '=', digest).executeTakeFirstOrThrow();
      assert.equal(row.event, 'blob_linked');
      assert.ok(new Date(row.review_after).getTime() > Date.now(), 'review postponed');
    });

    test('deleting a subject enqueues its referrers', async () => {
      const r = await repo();
      const layer = await blob(r);
      const subject = manifest(r, [layer]);
      const subjectId = await t.metadata.stores.manifests.insert(subject);
      const referrerId = await t.metadata.stores.manifests.insert(manifest(r, [layer], { subjectDigest: subject.digest }));
      await t.metadata.stores.gc.dropManifestReview(referrerId);
      await t.metadata.stores.manifests.delete(subjectId);
      const row = await t.metadata.db.selectFrom('gc_manifest_review_queue').select('event').where('manifest_id', '=', referrerId).executeTakeFirst();
      assert.equal(row?.event, 'subject_deleted');
    });

    test('setReviewDelay is what the triggers add', async () => {
      await t.metadata.stores.gc.setReviewDelay(90_000);
      const r = await repo();
      const digest = await blob(r);
      const row = await t.metadata.db.selectFrom('gc_blob_review_queue').select('review_after').where('digest', '=', digest).executeTakeFirstOrThrow();
      const ahead = new Date(row.review_after).getTime() - Date.now();
      assert.ok(ahead > 80_000 && ahead <= 91_000, `review_after ${ahead} ms ahead`);
      await t.metadata.stores.gc.setReviewDelay(86_400_000);
    });

    test('one definition of "referenced": blobIsReferenced and referencedAmong agree, and can ignore manifests', async () => {
      const r = await repo();
      const kept = await blob(r);
      const loose = await blob(r);
      const id = await t.metadata.stores.manifests.insert(manifest(r, [kept]));
      const referenced = await t.metadata.stores.gc.referencedAmong([kept, loose]);
      assert.deepEqual([...referenced], [kept]);
      assert.deepEqual([...(await t.metadata.stores.gc.referencedAmong([kept, loose], [id]))], [], 'ignoring the only manifest');
      const { rows } = await sql<{ digest: string; referenced: boolean }>`
        SELECT digest, ${blobIsReferenced(sql.ref('digest'))} AS referenced FROM blobs WHERE digest IN (${kept}, ${loose}) ORDER BY digest`.execute(t.metadata.db);
      assert.deepEqual(Object.fromEntries(rows.map((row) => [row.digest, row.referenced])), { [kept]: true, [loose]: false });
    });
  });
}
