/**
 * The metadata store suite, run once per database (PGlite in memory, a fresh PostgreSQL
 * database): migrations, every store in src/metadata/stores, transactions, and the GC review
 * queue triggers of migrations/0001_registry.sql (checked by querying the queue tables).
 *
 * One database per run; tests stay independent by using their own repository names and digests.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openDatabase } from '../../src/metadata/database.js';
import { MIGRATIONS_DIR, migrate } from '../../src/metadata/migrate.js';
import type { Metadata } from '../../src/metadata/stores/index.js';
import type { NewManifest } from '../../src/metadata/stores/manifests.js';
import { openTestDatabase, type TestMetadataDatabase } from '../support/databases.js';
import { testDatabases } from '../support/registry.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';

let counter = 0;
/** A repository name no other test uses. */
const repoName = (label: string) => `test/${label}-${process.pid}-${++counter}-${randomBytes(3).toString('hex')}`;
/** A digest no other test uses. */
const newDigest = () => `sha256:${createHash('sha256').update(randomBytes(16)).digest('hex')}`;

for (const kind of testDatabases()) {
  describe(`metadata stores on ${kind}`, () => {
    let t: TestMetadataDatabase;
    let meta: Metadata;
    before(async () => {
      t = await openTestDatabase(kind);
      meta = t.metadata;
    });
    after(async () => {
      await t?.close();
    });

    // Small builders over the stores.
    const repo = async (label = 'repo') => (await meta.stores.repositories.findOrCreate(repoName(label))).id;
    const blob = async (repositoryId: number, size = 100) => {
      const digest = newDigest();
      await meta.stores.blobs.addToRepository(repositoryId, digest, size);
      return digest;
    };
    const manifest = async (repositoryId: number, extra: Partial<NewManifest> = {}) => {
      const payload = Buffer.from(JSON.stringify({ schemaVersion: 2, n: randomUUID() }));
      const digest = `sha256:${createHash('sha256').update(payload).digest('hex')}`;
      const fields: NewManifest = {
        repositoryId,
        digest,
        mediaType: OCI_MANIFEST,
        artifactType: null,
        configDigest: null,
        configMediaType: null,
        subjectDigest: null,
        annotations: null,
        payload,
        blobDigests: [],
        childManifestIds: [],
        ...extra,
      };
      return { id: await meta.stores.manifests.insert(fields), digest, payload, fields };
    };
    const blobQueue = (digest: string) =>
      meta.db.selectFrom('gc_blob_review_queue').selectAll().where('digest', '=', digest).executeTakeFirst();
    const manifestQueue = (id: number) =>
      meta.db.selectFrom('gc_manifest_review_queue').selectAll().where('manifest_id', '=', id).executeTakeFirst();
    /** Empties the queues for these objects, as the collector does once it has reviewed them. */
    const clearQueues = async (objects: { blobs?: string[]; manifests?: number[] }) => {
      if (objects.blobs?.length) await meta.db.deleteFrom('gc_blob_review_queue').where('digest', 'in', objects.blobs).execute();
      if (objects.manifests?.length) {
        await meta.db.deleteFrom('gc_manifest_review_queue').where('manifest_id', 'in', objects.manifests).execute();
      }
    };
    const count = async (table: 'manifest_blobs' | 'manifest_references' | 'tags', column: string, value: number) => {
      const row = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)} WHERE ${sql.ref(column)} = ${value}`.execute(meta.db);
      return row.rows[0]?.n;
    };

    describe('migrations', () => {
      test('the first run applies every migration file in order', async () => {
        const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
        assert.ok(files.length > 0);
        assert.deepEqual(t.migration.applied, files);
        const recorded = await sql<{ name: string }>`SELECT name FROM schema_migrations ORDER BY name`.execute(meta.db);
        assert.deepEqual(recorded.rows.map((r) => r.name), files);
      });

      test('migrating again is a no-op', async () => {
        assert.deepEqual(await migrate(t.database), { applied: [] });
        assert.deepEqual(await migrate(t.database), { applied: [] });
      });

      test('two migrations of a fresh database at once: one applies, the other finds nothing', async () => {
        const fresh = await openTestDatabase(kind, { migrate: false });
        // On PostgreSQL a second pool plays the second replica; PGlite has one session per process.
        const second = fresh.url ? await openDatabase({ kind: 'postgres', url: fresh.url, poolSize: 2 }) : fresh.database;
        try {
          const results = await Promise.all([migrate(fresh.database), migrate(second)]);
          const applied = results.map((r) => r.applied.length).sort();
          assert.equal(applied[0], 0);
          assert.equal(applied[1], t.migration.applied.length);
        } finally {
          if (second !== fresh.database) await second.db.destroy();
          await fresh.close();
        }
      });
    });

    describe('repositories', () => {
      test('findOrCreate: 10 at once make one row', async () => {
        const name = repoName('race');
        const rows = await Promise.all(Array.from({ length: 10 }, () => meta.stores.repositories.findOrCreate(name)));
        assert.equal(new Set(rows.map((r) => r.id)).size, 1);
        assert.ok(rows.every((r) => r.name === name));
        const all = await meta.db.selectFrom('repositories').select('id').where('name', '=', name).execute();
        assert.equal(all.length, 1);
        assert.deepEqual(await meta.stores.repositories.findByName(name), rows[0]);
      });

      test('findOrCreate inside concurrent transactions makes one row', async () => {
        const name = repoName('tx-race');
        const ids = await Promise.all(
          Array.from({ length: 5 }, () => meta.transaction(async (s) => (await s.repositories.findOrCreate(name)).id)),
        );
        assert.equal(new Set(ids).size, 1);
      });

      test('findByName of an unknown name is undefined', async () => {
        assert.equal(await meta.stores.repositories.findByName(repoName('nope')), undefined);
      });
    });

    describe('blobs', () => {
      test('addToRepository is idempotent', async () => {
        const r = await repo();
        const digest = newDigest();
        await meta.stores.blobs.addToRepository(r, digest, 42);
        await meta.stores.blobs.addToRepository(r, digest, 42);
        assert.deepEqual(await meta.stores.blobs.find(digest), { digest, size: 42 });
        const links = await meta.db.selectFrom('repository_blobs').selectAll().where('blob_digest', '=', digest).execute();
        assert.equal(links.length, 1);
      });

      test('findInRepository only where the blob is linked; link mounts it elsewhere', async () => {
        const a = await repo('a');
        const b = await repo('b');
        const digest = await blob(a, 7);
        assert.deepEqual(await meta.stores.blobs.findInRepository(a, digest), { digest, size: 7 });
        assert.equal(await meta.stores.blobs.findInRepository(b, digest), undefined);
        assert.equal(await meta.stores.blobs.findInRepository(a, newDigest()), undefined);
        await meta.stores.blobs.link(b, digest);
        await meta.stores.blobs.link(b, digest);
        assert.deepEqual(await meta.stores.blobs.findInRepository(b, digest), { digest, size: 7 });
      });

      test('sizes beyond 2^32 come back as numbers', async () => {
        const r = await repo();
        const digest = newDigest();
        await meta.stores.blobs.addToRepository(r, digest, 5 * 2 ** 32 + 3);
        const found = await meta.stores.blobs.find(digest);
        assert.equal(found?.size, 5 * 2 ** 32 + 3);
        assert.equal(typeof found?.size, 'number');
      });

      test('linkedAmong returns the linked subset', async () => {
        const r = await repo();
        const other = await repo('other');
        const linked1 = await blob(r);
        const linked2 = await blob(r);
        const elsewhere = await blob(other);
        const found = await meta.stores.blobs.linkedAmong(r, [linked1, elsewhere, linked2, newDigest(), linked1]);
        assert.deepEqual([...found].sort(), [linked1, linked2].sort());
        assert.equal((await meta.stores.blobs.linkedAmong(r, [])).size, 0);
      });

      test('unlink: true then false; the blob row stays for GC', async () => {
        const r = await repo();
        const digest = await blob(r, 9);
        assert.equal(await meta.stores.blobs.unlink(r, digest), true);
        assert.equal(await meta.stores.blobs.unlink(r, digest), false);
        assert.equal(await meta.stores.blobs.findInRepository(r, digest), undefined);
        assert.deepEqual(await meta.stores.blobs.find(digest), { digest, size: 9 });
      });
    });

    describe('manifests', () => {
      test('insert is idempotent by (repository, digest) and returns the same id', async () => {
        const r = await repo();
        const layer = await blob(r);
        const m = await manifest(r, { blobDigests: [layer] });
        const again = await meta.stores.manifests.insert(m.fields);
        assert.equal(again, m.id);
        const rows = await meta.db.selectFrom('manifests').select('id').where('repository_id', '=', r).execute();
        assert.equal(rows.length, 1);
        assert.equal(await count('manifest_blobs', 'manifest_id', m.id), 1);

        // The same bytes in another repository are another manifest.
        const other = await repo('other');
        await meta.stores.blobs.link(other, layer);
        const elsewhere = await meta.stores.manifests.insert({ ...m.fields, repositoryId: other });
        assert.notEqual(elsewhere, m.id);
      });

      test('concurrent inserts of the same manifest return one id', async () => {
        const r = await repo();
        const layer = await blob(r);
        const payload = Buffer.from(`{"race":"${randomUUID()}"}`);
        const fields: NewManifest = {
          repositoryId: r,
          digest: `sha256:${createHash('sha256').update(payload).digest('hex')}`,
          mediaType: OCI_MANIFEST,
          artifactType: null,
          configDigest: null,
          configMediaType: null,
          subjectDigest: null,
          annotations: null,
          payload,
          blobDigests: [layer],
          childManifestIds: [],
        };
        const ids = await Promise.all(
          Array.from({ length: 6 }, () => meta.transaction((s) => s.manifests.insert(fields))),
        );
        assert.equal(new Set(ids).size, 1);
        assert.equal(await count('manifest_blobs', 'manifest_id', ids[0]!), 1);
      });

      test('findByDigest returns the exact payload; idsByDigest maps digests to ids', async () => {
        const r = await repo();
        const m = await manifest(r);
        const found = await meta.stores.manifests.findByDigest(r, m.digest);
        assert.ok(found);
        assert.equal(found.id, m.id);
        assert.equal(found.media_type, OCI_MANIFEST);
        assert.equal(found.size, m.payload.length);
        assert.ok(Buffer.from(found.payload).equals(m.payload), 'payload byte for byte');
        assert.equal(await meta.stores.manifests.findByDigest(await repo('other'), m.digest), undefined);
        const ids = await meta.stores.manifests.idsByDigest(r, [m.digest, newDigest()]);
        assert.deepEqual([...ids], [[m.digest, m.id]]);
        assert.equal((await meta.stores.manifests.idsByDigest(r, [])).size, 0);
      });

      test('references: one manifest_blobs row per distinct blob, one manifest_references row per child', async () => {
        const r = await repo();
        const config = await blob(r);
        const layer = await blob(r);
        const child1 = await manifest(r, { blobDigests: [config, layer] });
        const child2 = await manifest(r, { blobDigests: [config] });
        const index = await manifest(r, {
          mediaType: OCI_INDEX,
          childManifestIds: [child1.id, child2.id, child1.id],
        });
        const blobs = await meta.db.selectFrom('manifest_blobs').select('blob_digest').where('manifest_id', '=', child1.id).execute();
        assert.deepEqual(blobs.map((b) => b.blob_digest).sort(), [config, layer].sort());
        const children = await meta.db
          .selectFrom('manifest_references')
          .select('child_id')
          .where('parent_id', '=', index.id)
          .execute();
        assert.deepEqual(children.map((c) => c.child_id).sort((x, y) => x - y), [child1.id, child2.id].sort((x, y) => x - y));

        const dup = await manifest(r, { blobDigests: [layer, layer, config, layer] });
        assert.equal(await count('manifest_blobs', 'manifest_id', dup.id), 2);
      });

      test('referrers: by subject, optionally filtered by artifact type, in digest order', async () => {
        const r = await repo();
        const subject = await manifest(r);
        const sbom = await manifest(r, {
          subjectDigest: subject.digest,
          artifactType: 'application/spdx+json',
          annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
        });
        const sig1 = await manifest(r, { subjectDigest: subject.digest, artifactType: 'application/vnd.dev.cosign' });
        const sig2 = await manifest(r, { subjectDigest: subject.digest, artifactType: 'application/vnd.dev.cosign' });
        await manifest(r, { subjectDigest: newDigest(), artifactType: 'application/spdx+json' });
        // A referrer in another repository is not ours.
        await manifest(await repo('other'), { subjectDigest: subject.digest, artifactType: 'application/spdx+json' });

        type Descriptor = { mediaType: string; digest: string; size: number; artifactType?: string; annotations?: Record<string, string> };
        const referrers = async (subjectDigest: string, artifactType?: string) =>
          JSON.parse(await meta.stores.manifests.referrers(r, subjectDigest, artifactType)) as Descriptor[];
        const all = await referrers(subject.digest);
        assert.deepEqual(all.map((m) => m.digest), [sbom.digest, sig1.digest, sig2.digest].sort());
        const sboms = await referrers(subject.digest, 'application/spdx+json');
        assert.deepEqual(sboms, [
          {
            mediaType: OCI_MANIFEST,
            digest: sbom.digest,
            size: sbom.payload.length,
            artifactType: 'application/spdx+json',
            annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
          },
        ]);
        const sigs = await referrers(subject.digest, 'application/vnd.dev.cosign');
        assert.deepEqual(sigs.map((m) => m.digest), [sig1.digest, sig2.digest].sort());
        assert.equal('annotations' in sigs[0]!, false);
        assert.deepEqual(await referrers(subject.digest, 'text/plain'), []);
        assert.deepEqual(await referrers(newDigest()), []);
      });

      test('delete cascades to tags and references', async () => {
        const r = await repo();
        const layer = await blob(r);
        const child = await manifest(r, { blobDigests: [layer] });
        const m = await manifest(r, { blobDigests: [layer], childManifestIds: [child.id] });
        const parent = await manifest(r, { mediaType: OCI_INDEX, childManifestIds: [m.id] });
        await meta.stores.tags.upsert(r, 'one', m.id);
        await meta.stores.tags.upsert(r, 'two', m.id);
        await meta.stores.tags.upsert(r, 'child', child.id);

        await meta.stores.manifests.delete(m.id);
        assert.equal(await meta.stores.manifests.findByDigest(r, m.digest), undefined);
        assert.equal(await count('tags', 'manifest_id', m.id), 0);
        assert.equal(await count('manifest_blobs', 'manifest_id', m.id), 0);
        assert.equal(await count('manifest_references', 'parent_id', m.id), 0);
        assert.equal(await count('manifest_references', 'child_id', m.id), 0);
        // Everything else stays.
        assert.equal((await meta.stores.tags.findManifest(r, 'child'))?.id, child.id);
        assert.equal(await count('manifest_blobs', 'manifest_id', child.id), 1);
        assert.ok(await meta.stores.manifests.findByDigest(r, parent.digest));
        assert.deepEqual(await meta.stores.blobs.find(layer), { digest: layer, size: 100 });
      });
    });

    describe('tags', () => {
      test('upsert creates, then moves a tag; delete is true then false', async () => {
        const r = await repo();
        const m1 = await manifest(r);
        const m2 = await manifest(r);
        await meta.stores.tags.upsert(r, 'latest', m1.id);
        assert.equal((await meta.stores.tags.findManifest(r, 'latest'))?.digest, m1.digest);
        await meta.stores.tags.upsert(r, 'latest', m2.id);
        const found = await meta.stores.tags.findManifest(r, 'latest');
        assert.equal(found?.id, m2.id);
        assert.ok(found && Buffer.from(found.payload).equals(m2.payload));
        assert.equal(await count('tags', 'repository_id', r), 1);
        assert.equal(await meta.stores.tags.findManifest(r, 'other'), undefined);
        assert.equal(await meta.stores.tags.delete(r, 'latest'), true);
        assert.equal(await meta.stores.tags.delete(r, 'latest'), false);
        assert.equal(await meta.stores.tags.findManifest(r, 'latest'), undefined);
        // The manifest outlives its tag.
        assert.ok(await meta.stores.manifests.findByDigest(r, m2.digest));
      });

      test('a tag name is per repository', async () => {
        const a = await repo('a');
        const b = await repo('b');
        const ma = await manifest(a);
        const mb = await manifest(b);
        await meta.stores.tags.upsert(a, 'v1', ma.id);
        await meta.stores.tags.upsert(b, 'v1', mb.id);
        assert.equal((await meta.stores.tags.findManifest(a, 'v1'))?.id, ma.id);
        assert.equal((await meta.stores.tags.findManifest(b, 'v1'))?.id, mb.id);
        assert.equal(await meta.stores.tags.delete(a, 'v1'), true);
        assert.equal((await meta.stores.tags.findManifest(b, 'v1'))?.id, mb.id);
      });

      test('re-pushing a tag restamps its push time', async () => {
        const r = await repo();
        const m = await manifest(r);
        await meta.stores.tags.upsert(r, 'v', m.id);
        await meta.db.updateTable('tags').set({ pushed_at: new Date('2001-01-01T00:00:00Z') }).where('repository_id', '=', r).execute();
        await meta.stores.tags.upsert(r, 'v', m.id);
        const row = await meta.db.selectFrom('tags').select('pushed_at').where('repository_id', '=', r).executeTakeFirstOrThrow();
        assert.ok(row.pushed_at.getTime() > Date.now() - DAY_MS);
      });
    });

    describe('lexical order (COLLATE "C")', () => {
      orderingTests(() => meta);
    });

    describe('upload sessions', () => {
      test('create, find, touch (records the size and the time), delete', async () => {
        const r = await repo();
        const id = randomUUID();
        await meta.stores.uploads.create(id, r);
        const created = await meta.stores.uploads.find(id);
        assert.equal(created?.id, id);
        assert.equal(created?.repository_id, r);
        assert.equal(created?.size, 0);
        assert.ok(created?.started_at instanceof Date);

        await meta.stores.uploads.touch(id, 10);
        const touched = await meta.stores.uploads.find(id);
        assert.equal(touched?.size, 10);
        assert.ok(touched!.updated_at >= created!.updated_at);
        await meta.stores.uploads.touch(id, 25);
        assert.equal((await meta.stores.uploads.find(id))?.size, 25);
        await meta.stores.uploads.touch(randomUUID(), 1); // an unknown session: nothing to record

        await meta.stores.uploads.delete(id);
        assert.equal(await meta.stores.uploads.find(id), undefined);
        assert.equal(await meta.stores.uploads.find(randomUUID()), undefined);
      });

      test('listStale: sessions untouched since `before`, oldest first, at most `limit`', async () => {
        const r = await repo();
        const [older, old, fresh] = [randomUUID(), randomUUID(), randomUUID()];
        for (const id of [older, old, fresh]) await meta.stores.uploads.create(id, r);
        await meta.db.updateTable('upload_sessions').set({ updated_at: new Date('2000-01-01T00:00:00Z') }).where('id', '=', older).execute();
        await meta.db.updateTable('upload_sessions').set({ updated_at: new Date('2000-06-01T00:00:00Z') }).where('id', '=', old).execute();

        const cutoff = new Date('2001-01-01T00:00:00Z');
        assert.deepEqual((await meta.stores.uploads.listStale(cutoff, 10)).map((s) => s.id), [older, old]);
        assert.deepEqual((await meta.stores.uploads.listStale(cutoff, 1)).map((s) => s.id), [older]);
        assert.deepEqual((await meta.stores.uploads.listStale(new Date('2000-03-01T00:00:00Z'), 10)).map((s) => s.id), [older]);
        const later = await meta.stores.uploads.listStale(new Date(Date.now() + DAY_MS), 10_000);
        assert.ok(later.some((s) => s.id === fresh), 'a fresh session is stale for a cutoff in the future');

        // Touching a session makes it fresh again.
        await meta.stores.uploads.touch(old, 1);
        assert.deepEqual((await meta.stores.uploads.listStale(cutoff, 10)).map((s) => s.id), [older]);
      });
    });

    describe('transactions', () => {
      test('a transaction that throws rolls back everything, including trigger rows', async () => {
        const name = repoName('rolled-back');
        const digest = newDigest();
        const uploadId = randomUUID();
        const failure = new Error('fail inside the transaction');
        let manifestId = -1;
        await assert.rejects(
          meta.transaction(async (s) => {
            const r = (await s.repositories.findOrCreate(name)).id;
            await s.blobs.addToRepository(r, digest, 5);
            const payload = Buffer.from('{"rolled":"back"}');
            manifestId = await s.manifests.insert({
              repositoryId: r,
              digest: newDigest(),
              mediaType: OCI_MANIFEST,
              artifactType: null,
              configDigest: null,
              configMediaType: null,
              subjectDigest: null,
              annotations: null,
              payload,
              blobDigests: [digest],
              childManifestIds: [],
            });
            await s.tags.upsert(r, 'latest', manifestId);
            await s.uploads.create(uploadId, r);
            assert.ok(await s.repositories.findByName(name), 'visible inside the transaction');
            throw failure;
          }),
          (error) => error === failure,
        );
        assert.equal(await meta.stores.repositories.findByName(name), undefined);
        assert.equal(await meta.stores.blobs.find(digest), undefined);
        assert.equal(await blobQueue(digest), undefined);
        assert.equal(await manifestQueue(manifestId), undefined);
        const manifests = await meta.db.selectFrom('manifests').select('id').where('id', '=', manifestId).execute();
        assert.deepEqual(manifests, []);
        assert.equal(await meta.stores.uploads.find(uploadId), undefined);
      });

      test('a transaction that returns commits and passes its value on', async () => {
        const name = repoName('committed');
        const id = await meta.transaction(async (s) => (await s.repositories.findOrCreate(name)).id);
        assert.equal((await meta.stores.repositories.findByName(name))?.id, id);
      });

      test('work outside a transaction does not join it', async () => {
        const inside = repoName('inside');
        const outside = repoName('outside');
        let outsideDone: Promise<unknown> = Promise.resolve();
        await assert.rejects(
          meta.transaction(async (s) => {
            await s.repositories.findOrCreate(inside);
            // Not awaited here: on a single-session database it must wait for the transaction.
            outsideDone = meta.stores.repositories.findOrCreate(outside);
            await new Promise((resolve) => setTimeout(resolve, 50));
            throw new Error('roll back');
          }),
          /roll back/,
        );
        await outsideDone;
        assert.equal(await meta.stores.repositories.findByName(inside), undefined);
        assert.ok(await meta.stores.repositories.findByName(outside));
      });
    });

    describe('GC review queues (triggers)', () => {
      test('inserting a blob enqueues it for review after the review delay', async () => {
        const before = Date.now();
        const r = await repo();
        const digest = await blob(r);
        const row = await blobQueue(digest);
        assert.ok(row);
        assert.equal(row.event, 'blob_uploaded');
        // Default delay is one day; allow for clock differences between database and test.
        assert.ok(row.review_after.getTime() > before + DAY_MS - 60 * 60_000, `review_after ${row.review_after.toISOString()}`);
        assert.ok(row.review_after.getTime() < Date.now() + DAY_MS + 60 * 60_000);
      });

      test('unlinking a blob enqueues it', async () => {
        const r = await repo();
        const digest = await blob(r);
        await clearQueues({ blobs: [digest] });
        await meta.stores.blobs.unlink(r, digest);
        assert.equal((await blobQueue(digest))?.event, 'blob_unlinked');
      });

      test('pushing a manifest enqueues it', async () => {
        const r = await repo();
        const m = await manifest(r);
        const row = await manifestQueue(m.id);
        assert.equal(row?.event, 'manifest_pushed');
        assert.equal(row?.repository_id, r);
      });

      test('deleting a tag enqueues its manifest', async () => {
        const r = await repo();
        const m = await manifest(r);
        await meta.stores.tags.upsert(r, 'latest', m.id);
        await clearQueues({ manifests: [m.id] });
        await meta.stores.tags.delete(r, 'latest');
        const row = await manifestQueue(m.id);
        assert.equal(row?.event, 'tag_deleted');
        assert.equal(row?.repository_id, r);
      });

      test('moving a tag enqueues the manifest it left; re-pushing it in place does not', async () => {
        const r = await repo();
        const m1 = await manifest(r);
        const m2 = await manifest(r);
        await meta.stores.tags.upsert(r, 'latest', m1.id);
        await clearQueues({ manifests: [m1.id, m2.id] });
        await meta.stores.tags.upsert(r, 'latest', m1.id);
        assert.equal(await manifestQueue(m1.id), undefined);
        await meta.stores.tags.upsert(r, 'latest', m2.id);
        assert.equal((await manifestQueue(m1.id))?.event, 'tag_switched');
        assert.equal(await manifestQueue(m2.id), undefined);
      });

      test('deleting a manifest enqueues its blobs', async () => {
        const r = await repo();
        const config = await blob(r);
        const layer = await blob(r);
        const untouched = await blob(r);
        const m = await manifest(r, { blobDigests: [config, layer] });
        await clearQueues({ blobs: [config, layer, untouched] });
        await meta.stores.manifests.delete(m.id);
        assert.equal((await blobQueue(config))?.event, 'manifest_deleted');
        assert.equal((await blobQueue(layer))?.event, 'manifest_deleted');
        assert.equal(await blobQueue(untouched), undefined);
      });

      test('deleting an index enqueues its children', async () => {
        const r = await repo();
        const child = await manifest(r);
        const index = await manifest(r, { mediaType: OCI_INDEX, childManifestIds: [child.id] });
        await clearQueues({ manifests: [child.id, index.id] });
        await meta.stores.manifests.delete(index.id);
        const row = await manifestQueue(child.id);
        assert.equal(row?.event, 'parent_deleted');
        assert.equal(row?.repository_id, r);
      });

      test('deleting a tagged, referenced, queued manifest leaves no queue row behind for it', async () => {
        const r = await repo();
        const layer = await blob(r);
        const child = await manifest(r, { blobDigests: [layer] });
        const m = await manifest(r, { blobDigests: [layer], childManifestIds: [child.id] });
        const parent = await manifest(r, { mediaType: OCI_INDEX, childManifestIds: [m.id] });
        await meta.stores.tags.upsert(r, 'a', m.id);
        await meta.stores.tags.upsert(r, 'b', m.id);
        assert.ok(await manifestQueue(m.id), 'queued when pushed');

        // Cascades remove the tags and references; their triggers must not re-enqueue (or trip
        // the queue's foreign key on) the manifest being deleted.
        await meta.stores.manifests.delete(m.id);
        assert.equal(await manifestQueue(m.id), undefined);
        const dangling = await sql<{ n: number }>`
          SELECT count(*)::int AS n FROM gc_manifest_review_queue q
          WHERE NOT EXISTS (SELECT 1 FROM manifests m WHERE m.id = q.manifest_id)`.execute(meta.db);
        assert.equal(dangling.rows[0]?.n, 0);
        assert.ok(await manifestQueue(child.id), 'its child is up for review');
        assert.ok(await manifestQueue(parent.id), 'its parent is untouched');
      });

      test('deleting a whole repository cascades cleanly and leaves no dangling manifest queue rows', async () => {
        const r = await repo();
        const layer = await blob(r);
        const child = await manifest(r, { blobDigests: [layer] });
        const index = await manifest(r, { mediaType: OCI_INDEX, childManifestIds: [child.id] });
        await meta.stores.tags.upsert(r, 'latest', index.id);
        await meta.stores.tags.upsert(r, 'child', child.id);
        await meta.stores.uploads.create(randomUUID(), r);
        await clearQueues({ blobs: [layer] });

        await meta.db.deleteFrom('repositories').where('id', '=', r).execute();
        assert.equal(await manifestQueue(child.id), undefined);
        assert.equal(await manifestQueue(index.id), undefined);
        const dangling = await sql<{ n: number }>`
          SELECT count(*)::int AS n FROM gc_manifest_review_queue WHERE repository_id = ${r}`.execute(meta.db);
        assert.equal(dangling.rows[0]?.n, 0);
        assert.ok(await blobQueue(layer), 'the unlinked blob is up for review');
      });

      test('a row already queued keeps the later review time and takes the latest event', async () => {
        const r = await repo();
        const digest = await blob(r);
        const far = new Date(Date.now() + 30 * DAY_MS);
        await meta.db.updateTable('gc_blob_review_queue').set({ review_after: far }).where('digest', '=', digest).execute();
        await meta.stores.blobs.unlink(r, digest);
        const row = await blobQueue(digest);
        assert.equal(row?.event, 'blob_unlinked');
        assert.equal(row?.review_after.getTime(), far.getTime());
      });
    });

    describe('pulls', () => {
      test('manifests.recordPulls adds counts and stamps the time', async () => {
        const r = await repo();
        const m = await manifest(r);
        const t1 = new Date('2024-05-01T10:00:00.000Z');
        const t2 = new Date('2024-05-01T11:00:00.000Z');
        await meta.stores.manifests.recordPulls([{ id: m.id, count: 3, at: t1 }]);
        await meta.stores.manifests.recordPulls([{ id: m.id, count: 2, at: t2 }]);
        await meta.stores.manifests.recordPulls([]);
        const row = await meta.db
          .selectFrom('manifests')
          .select(['pull_count', 'last_pulled_at'])
          .where('id', '=', m.id)
          .executeTakeFirstOrThrow();
        assert.equal(row.pull_count, 5);
        assert.equal(row.last_pulled_at?.getTime(), t2.getTime());
      });

      test('tags.recordPulls adds counts per tag; an unknown tag is ignored', async () => {
        const r = await repo();
        const m = await manifest(r);
        await meta.stores.tags.upsert(r, 'a', m.id);
        await meta.stores.tags.upsert(r, 'b', m.id);
        const at = new Date('2024-05-02T00:00:00.000Z');
        await meta.stores.tags.recordPulls([{ repositoryId: r, tag: 'a', count: 4, at }]);
        await meta.stores.tags.recordPulls([
          { repositoryId: r, tag: 'a', count: 6, at },
          { repositoryId: r, tag: 'missing', count: 1, at },
        ]);
        const rows = await meta.db
          .selectFrom('tags')
          .select(['name', 'pull_count', 'last_pulled_at'])
          .where('repository_id', '=', r)
          .orderBy('name')
          .execute();
        assert.deepEqual(
          rows.map((row) => [row.name, row.pull_count, row.last_pulled_at?.getTime() ?? null]),
          [
            ['a', 10, at.getTime()],
            ['b', 0, null],
          ],
        );
      });
    });

    describe('audit', () => {
      test('recordMany appends every event in order in one go, details as JSON or NULL', async () => {
        const actor = `auditor-${randomBytes(4).toString('hex')}`;
        const events = Array.from({ length: 25 }, (_, i) => ({
          actor: { name: actor, kind: 'account' as const },
          action: `action-${i}`,
          target: i % 2 ? `repo/${i}` : null,
          clientIp: '127.0.0.1',
          details: i % 3 ? { n: i, quote: `it's "${i}"` } : null,
        }));
        await meta.stores.audit.recordMany(events);
        await meta.stores.audit.record({ actor: { name: actor, kind: 'account' }, action: 'single' });
        const listed = (await meta.stores.audit.list({ limit: 100, actor })).reverse();
        assert.deepEqual(
          listed.map((row) => [row.actor_kind, row.action, row.target, row.client_ip, row.details]),
          [
            ...events.map((e) => ['account', e.action, e.target, e.clientIp, e.details]),
            ['account', 'single', null, null, null],
          ],
        );
        assert.ok(listed.every((row, i) => i === 0 || row.id > listed[i - 1]!.id), 'ids follow the order given');
      });

      test('actors are never NULL: anonymous and open-registry callers are named, with their kind; filter by target', async () => {
        const target = `repo/${randomBytes(4).toString('hex')}`;
        await meta.stores.audit.recordMany([
          { actor: { name: 'anonymous', kind: 'anonymous' }, action: 'push', target },
          { actor: { name: 'anonymous', kind: 'open' }, action: 'delete', target },
        ]);
        const listed = await meta.stores.audit.list({ limit: 10, target });
        assert.deepEqual(
          listed.map((row) => [row.actor, row.actor_kind, row.action]),
          [
            ['anonymous', 'open', 'delete'],
            ['anonymous', 'anonymous', 'push'],
          ],
        );
      });

      test('recordMany of nothing writes nothing', async () => {
        await meta.stores.audit.recordMany([]);
      });
    });
  });
}

/**
 * Tag and catalog listings in lexical (code point) order, paginated with `last`. Run on each
 * database, and again on a PostgreSQL database whose default collation is not C.
 */
function orderingTests(metadata: () => Metadata, todo?: { tags?: string; catalog?: string }): void {
  // What clients expect: JavaScript's default sort is by UTF-16 code unit, which for ASCII is C.
  const TAGS = ['b', 'a', 'A', 'B', 'Z', '1', '10', '2', '_x', 'a-b', 'a.b', 'a_b', 'a0', 'v1.10.0', 'v1.9.0'];
  const C_ORDER = [...TAGS].sort();

  test('tags: pages in lexical byte order ("A" < "a" < "b", "1" < "10" < "2")', { todo: todo?.tags }, async () => {
    const meta = metadata();
    const listNames = async (repositoryId: number, limit: number, last?: string) => {
      const page = await meta.stores.tags.page(repositoryId, limit, last);
      const names = JSON.parse(page.json) as string[];
      assert.equal(page.last, names.at(-1));
      // `more` says whether the next page would find anything.
      const rest = page.last === undefined ? [] : JSON.parse((await meta.stores.tags.page(repositoryId, 1000, page.last)).json);
      assert.equal(page.more, rest.length > 0);
      return names;
    };
    const r = (await meta.stores.repositories.findOrCreate(repoName('order'))).id;
    const m = await meta.stores.manifests.insert({
      repositoryId: r,
      digest: newDigest(),
      mediaType: OCI_MANIFEST,
      artifactType: null,
      configDigest: null,
      configMediaType: null,
      subjectDigest: null,
      annotations: null,
      payload: Buffer.from('{}'),
      blobDigests: [],
      childManifestIds: [],
    });
    for (const tag of TAGS) await meta.stores.tags.upsert(r, tag, m);

    assert.deepEqual(await listNames(r, 100), C_ORDER);
    assert.deepEqual(await listNames(r, 3), C_ORDER.slice(0, 3));
    assert.deepEqual(await listNames(r, 100, 'A'), C_ORDER.slice(C_ORDER.indexOf('A') + 1));
    // `last` need not be an existing tag.
    assert.deepEqual(await listNames(r, 100, 'a1'), C_ORDER.filter((t) => t > 'a1'));
    assert.deepEqual(await listNames(r, 100, 'zzz'), []);
    // Paging through with `last` visits every tag once, in order.
    for (const pageSize of [1, 2, 4]) {
      const pages: string[] = [];
      let last: string | undefined;
      for (;;) {
        const page = await listNames(r, pageSize, last);
        pages.push(...page);
        if (page.length < pageSize) break;
        last = page[page.length - 1];
      }
      assert.deepEqual(pages, C_ORDER, `page size ${pageSize}`);
    }
    assert.deepEqual(await listNames((await meta.stores.repositories.findOrCreate(repoName('empty'))).id, 10), []);
  });

  test('catalog: repository listNames in lexical byte order, paginated with last', { todo: todo?.catalog }, async () => {
    const meta = metadata();
    // Names sort after every other test's 'test/…' names, so `last` = PREFIX sees only these.
    const prefix = `zz${randomBytes(3).toString('hex')}`;
    const names = ['a-b', 'a.b', 'a/b', 'a0', 'a10', 'a2', 'a_b', 'ab', 'a__b', 'b'].map((n) => `${prefix}/${n}`);
    for (const name of names) await meta.stores.repositories.findOrCreate(name);
    const expected = [...names].sort();
    assert.deepEqual(await meta.stores.repositories.listNames(100, prefix), expected);
    const pages: string[] = [];
    let last = prefix;
    for (;;) {
      const page = await meta.stores.repositories.listNames(3, last);
      pages.push(...page);
      if (page.length < 3) break;
      last = page[page.length - 1]!;
    }
    assert.deepEqual(pages, expected);
    // The same walk through `page` (JSON from the database), which says when more follow.
    const walked: string[] = [];
    let cursor: string | undefined = prefix;
    while (cursor !== undefined) {
      const page = await meta.stores.repositories.page(3, cursor);
      const batch = JSON.parse(page.json) as string[];
      walked.push(...batch);
      assert.equal(page.last, batch.at(-1));
      cursor = page.more ? page.last : undefined;
    }
    assert.deepEqual(walked, expected);
  });
}

// A PostgreSQL server initialised with a natural-language default collation (common on distro
// packages and managed services): listings must still be in byte order.
if (testDatabases().includes('postgres')) {
  describe('lexical order on PostgreSQL with an ICU en-US default collation', () => {
    let t: TestMetadataDatabase | undefined;
    let unavailable: string | undefined;
    before(async () => {
      try {
        t = await openTestDatabase('postgres', { icuLocale: 'en-US' });
      } catch (error) {
        unavailable = String(error);
      }
    });
    after(async () => {
      await t?.close();
    });
    test('an en-US database could be created', (ctx) => {
      if (unavailable) ctx.skip(`no ICU collation on this server: ${unavailable}`);
    });
    orderingTests(() => {
      if (!t) throw new Error(`no ICU database: ${unavailable}`);
      return t.metadata;
    });
  });
}
