/**
 * What online garbage collection reads and writes: the review queues (filled by the triggers of
 * migrations/0001 and 0008), the row locks that make its check-and-delete safe against pushes,
 * and the record of its passes. The reasoning behind every lock is at the top of src/gc/index.ts.
 *
 * `blobIsReferenced` below is THE definition of "a manifest still needs this blob", shared by the
 * collector and by anything that predicts what it would free (retention's `bytesFreed`).
 */
import { sql, type Expression, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../schema.js';

/** First key of the advisory locks that guard a blob's bytes ("gcbl"); the second is hashtext(digest). */
const BLOB_BYTES_LOCK = 0x6763_626c;

/**
 * True while some manifest (in any repository) references the blob as config, layer, or entry of a
 * legacy BuildKit cache index. Repository links alone do not keep a blob: they keep it only for
 * the review delay after the link was made (see src/gc/decisions.ts).
 */
export function blobIsReferenced(digest: Expression<string> | string): RawBuilder<boolean> {
  return sql<boolean>`EXISTS (SELECT 1 FROM manifest_blobs WHERE blob_digest = ${digest})`;
}

export interface QueueFigures {
  queued: number;
  due: number;
  /** When the earliest row that is not yet due becomes due; null when none waits. */
  nextDueAt: Date | null;
}

export interface ManifestFacts {
  id: number;
  repositoryId: number;
  repository: string;
  digest: string;
  subjectDigest: string | null;
  pushedAt: Date;
  size: number;
}

export interface ManifestReferences {
  tags: number;
  /** Indexes (manifest lists) that name this manifest. */
  parents: number;
  /** The subject names a manifest present in the same repository. */
  subjectPresent: boolean;
}

export interface BlobReferences {
  manifests: number;
  /** The most recent link of the blob to any repository (upload, mount), or null when unlinked. */
  lastLinkedAt: Date | null;
}

export interface GcRunRecord {
  startedAt: Date;
  finishedAt: Date;
  trigger: string;
  actor: string | null;
  dryRun: boolean;
  manifestsDeleted: number;
  blobsDeleted: number;
  orphansDeleted: number;
  swept: boolean;
  bytesFreed: number;
}

export interface GcTotals {
  runs: number;
  manifestsDeleted: number;
  blobsDeleted: number;
  orphansDeleted: number;
  bytesFreed: number;
  lastRunAt: Date | null;
}

export class GcStore {
  constructor(private readonly db: Kysely<Database>) {}

  /** The delay the enqueue triggers add to now(); kept equal to the configured review delay. */
  async setReviewDelay(ms: number): Promise<void> {
    await sql`UPDATE gc_settings SET review_delay = make_interval(secs => ${ms / 1000}::double precision)`.execute(this.db);
  }

  async queueFigures(now: Date): Promise<{ manifests: QueueFigures; blobs: QueueFigures }> {
    const { rows } = await sql<{ queue: string; queued: number; due: number; next_due_at: Date | null }>`
      SELECT 'manifests' AS queue, count(*) AS queued, count(*) FILTER (WHERE review_after <= ${now}) AS due,
             min(review_after) FILTER (WHERE review_after > ${now}) AS next_due_at
      FROM gc_manifest_review_queue
      UNION ALL
      SELECT 'blobs', count(*), count(*) FILTER (WHERE review_after <= ${now}),
             min(review_after) FILTER (WHERE review_after > ${now})
      FROM gc_blob_review_queue`.execute(this.db);
    const figures = (queue: string): QueueFigures => {
      const row = rows.find((r) => r.queue === queue);
      return { queued: Number(row?.queued ?? 0), due: Number(row?.due ?? 0), nextDueAt: row?.next_due_at ? new Date(row.next_due_at) : null };
    };
    return { manifests: figures('manifests'), blobs: figures('blobs') };
  }

  // --- manifests -------------------------------------------------------------------------------

  /** Locks the next due manifest review no other worker holds (SKIP LOCKED), oldest first. */
  async takeDueManifest(now: Date, skip: readonly number[]): Promise<number | undefined> {
    const { rows } = await sql<{ manifest_id: number }>`
      SELECT manifest_id FROM gc_manifest_review_queue
      WHERE review_after <= ${now} AND NOT (manifest_id = ANY(${[...skip]}::bigint[]))
      ORDER BY review_after LIMIT 1 FOR UPDATE SKIP LOCKED`.execute(this.db);
    return rows[0]?.manifest_id;
  }

  /** Locks this manifest's review row, due or not, unless another worker holds it. */
  async claimManifestReview(id: number): Promise<boolean> {
    const { rows } = await sql`SELECT 1 FROM gc_manifest_review_queue WHERE manifest_id = ${id} FOR UPDATE SKIP LOCKED`.execute(this.db);
    return rows.length > 0;
  }

  /**
   * Locks the manifest row FOR UPDATE, or answers undefined when it is gone or a push holds it
   * (a tag, index or referrer being written takes FOR KEY SHARE through its foreign key).
   */
  async lockManifest(id: number): Promise<ManifestFacts | undefined> {
    const { rows } = await sql<{ id: number; repository_id: number; repository: string; digest: string; subject_digest: string | null; pushed_at: Date; size: number }>`
      SELECT m.id, m.repository_id, r.name AS repository, m.digest, m.subject_digest, m.pushed_at, m.size
      FROM manifests m JOIN repositories r ON r.id = m.repository_id
      WHERE m.id = ${id} FOR UPDATE OF m SKIP LOCKED`.execute(this.db);
    const row = rows[0];
    return row && { id: row.id, repositoryId: row.repository_id, repository: row.repository, digest: row.digest, subjectDigest: row.subject_digest, pushedAt: new Date(row.pushed_at), size: row.size };
  }

  async manifestExists(id: number): Promise<boolean> {
    return (await this.db.selectFrom('manifests').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
  }

  /** Must run after `lockManifest`, as its own statement: it then sees every reference committed before the lock. */
  async manifestReferences(m: ManifestFacts): Promise<ManifestReferences> {
    const { rows } = await sql<{ tags: number; parents: number; subject_present: boolean }>`
      SELECT (SELECT count(*) FROM tags WHERE manifest_id = ${m.id}) AS tags,
             (SELECT count(*) FROM manifest_references WHERE child_id = ${m.id}) AS parents,
             (${m.subjectDigest}::text IS NOT NULL AND EXISTS (
                SELECT 1 FROM manifests WHERE repository_id = ${m.repositoryId} AND digest = ${m.subjectDigest}::text)) AS subject_present`.execute(this.db);
    const row = rows[0]!;
    return { tags: Number(row.tags), parents: Number(row.parents), subjectPresent: row.subject_present };
  }

  /** What deleting the manifest frees for review: its blobs, child manifests and referrers. */
  async manifestDependents(m: ManifestFacts): Promise<{ blobs: string[]; manifests: number[] }> {
    const blobs = await this.db.selectFrom('manifest_blobs').select('blob_digest').where('manifest_id', '=', m.id).execute();
    const { rows } = await sql<{ id: number }>`
      SELECT child_id AS id FROM manifest_references WHERE parent_id = ${m.id}
      UNION SELECT id FROM manifests WHERE repository_id = ${m.repositoryId} AND subject_digest = ${m.digest} AND id <> ${m.id}`.execute(this.db);
    return { blobs: blobs.map((b) => b.blob_digest), manifests: rows.map((r) => r.id) };
  }

  /** Deletes the manifest; tags, references, its blob links and its review row go with it (cascade). */
  async deleteManifest(id: number): Promise<void> {
    await this.db.deleteFrom('manifests').where('id', '=', id).execute();
  }

  async dropManifestReview(id: number): Promise<void> {
    await this.db.deleteFrom('gc_manifest_review_queue').where('manifest_id', '=', id).execute();
  }

  async postponeManifestReview(id: number, until: Date): Promise<void> {
    await this.db.updateTable('gc_manifest_review_queue').set({ review_after: until }).where('manifest_id', '=', id).execute();
  }

  // --- blobs -----------------------------------------------------------------------------------

  async takeDueBlob(now: Date, skip: readonly string[]): Promise<string | undefined> {
    const { rows } = await sql<{ digest: string }>`
      SELECT digest FROM gc_blob_review_queue
      WHERE review_after <= ${now} AND NOT (digest = ANY(${[...skip]}::text[]))
      ORDER BY review_after LIMIT 1 FOR UPDATE SKIP LOCKED`.execute(this.db);
    return rows[0]?.digest;
  }

  async claimBlobReview(digest: string): Promise<boolean> {
    const { rows } = await sql`SELECT 1 FROM gc_blob_review_queue WHERE digest = ${digest} FOR UPDATE SKIP LOCKED`.execute(this.db);
    return rows.length > 0;
  }

  /**
   * Locks the blob row FOR UPDATE, or answers undefined when it is gone or busy: a manifest PUT
   * (its manifest_blobs foreign key), a mount or a re-upload (`holdBlobForLink`) holds FOR KEY SHARE.
   */
  async lockBlob(digest: string): Promise<{ digest: string; size: number } | undefined> {
    const { rows } = await sql<{ digest: string; size: number }>`
      SELECT digest, size FROM blobs WHERE digest = ${digest} FOR UPDATE SKIP LOCKED`.execute(this.db);
    return rows[0];
  }

  /**
   * After `lockBlob`: locks the blob's repository links too, skipping any a push holds (a manifest
   * PUT locks the links it records, FOR KEY SHARE). False when one is held: deleting the blob
   * would then wait for that push while it waits for the blob row — the collector skips instead.
   */
  async lockBlobLinks(digest: string): Promise<boolean> {
    const locked = await sql`SELECT repository_id FROM repository_blobs WHERE blob_digest = ${digest} FOR UPDATE SKIP LOCKED`.execute(this.db);
    const all = await this.db.selectFrom('repository_blobs').select((eb) => eb.fn.countAll<number>().as('n')).where('blob_digest', '=', digest).executeTakeFirstOrThrow();
    return locked.rows.length === Number(all.n);
  }

  async blobExists(digest: string): Promise<boolean> {
    return (await this.db.selectFrom('blobs').select('digest').where('digest', '=', digest).executeTakeFirst()) !== undefined;
  }

  /** Must run after `lockBlob`, as its own statement (fresh snapshot). */
  async blobReferences(digest: string): Promise<BlobReferences> {
    const { rows } = await sql<{ manifests: number; last_linked_at: Date | null }>`
      SELECT (SELECT count(*) FROM manifest_blobs WHERE blob_digest = ${digest}) AS manifests,
             (SELECT max(created_at) FROM repository_blobs WHERE blob_digest = ${digest}) AS last_linked_at`.execute(this.db);
    const row = rows[0]!;
    return { manifests: Number(row.manifests), lastLinkedAt: row.last_linked_at ? new Date(row.last_linked_at) : null };
  }

  /** Deletes the blob row; its repository links go with it. Fails if a manifest still references it. */
  async deleteBlob(digest: string): Promise<void> {
    await this.db.deleteFrom('blobs').where('digest', '=', digest).execute();
  }

  async dropBlobReview(digest: string): Promise<void> {
    await this.db.deleteFrom('gc_blob_review_queue').where('digest', '=', digest).execute();
  }

  async postponeBlobReview(digest: string, until: Date): Promise<void> {
    await this.db.updateTable('gc_blob_review_queue').set({ review_after: until }).where('digest', '=', digest).execute();
  }

  /**
   * Within a transaction: exclusive hold on the bytes of `digest`, for deleting them. Waits for
   * every `holdBlobForLink` of the same digest, and they for it, until the transaction ends.
   */
  async holdBlobBytesForDeletion(digest: string): Promise<void> {
    await sql`SELECT pg_advisory_xact_lock(${BLOB_BYTES_LOCK}::int4, hashtext(${digest}))`.execute(this.db);
  }

  /**
   * Within a transaction: shared hold on the bytes of `digest` and FOR KEY SHARE on its row, for
   * recording a blob whose bytes are already stored. Until the transaction ends the collector can
   * neither delete the row (its FOR UPDATE is refused) nor the bytes (its advisory lock waits).
   * Answers whether the row exists.
   */
  async holdBlobForLink(digest: string): Promise<boolean> {
    await sql`SELECT pg_advisory_xact_lock_shared(${BLOB_BYTES_LOCK}::int4, hashtext(${digest}))`.execute(this.db);
    const { rows } = await sql`SELECT 1 FROM blobs WHERE digest = ${digest} FOR KEY SHARE`.execute(this.db);
    return rows.length > 0;
  }

  /** The digests among `digests` that have no blob row. */
  async unrecorded(digests: readonly string[]): Promise<Set<string>> {
    if (digests.length === 0) return new Set();
    const rows = await this.db.selectFrom('blobs').select('digest').where('digest', 'in', digests).execute();
    // The context tar of a build not yet finished is named by its job, not by a blob row.
    const contexts = await this.db
      .selectFrom('build_jobs')
      .select('context_digest as digest')
      .where('context_digest', 'in', digests)
      .where('state', 'in', ['queued', 'running'])
      .execute();
    const recorded = new Set([...rows, ...contexts].map((r) => r.digest));
    return new Set(digests.filter((d) => !recorded.has(d)));
  }

  /**
   * The digests among `digests` that some manifest references, not counting the manifests in
   * `ignoring` (e.g. those a retention plan would delete). Same definition as `blobIsReferenced`.
   */
  async referencedAmong(digests: readonly string[], ignoring: readonly number[] = []): Promise<Set<string>> {
    if (digests.length === 0) return new Set();
    const { rows } = await sql<{ digest: string }>`
      SELECT DISTINCT blob_digest AS digest FROM manifest_blobs
      WHERE blob_digest = ANY(${[...digests]}::text[]) AND NOT (manifest_id = ANY(${[...ignoring]}::bigint[]))`.execute(this.db);
    return new Set(rows.map((r) => r.digest));
  }

  // --- run history -----------------------------------------------------------------------------

  async recordRun(run: GcRunRecord): Promise<number> {
    const row = await this.db
      .insertInto('gc_runs')
      .values({
        started_at: run.startedAt,
        finished_at: run.finishedAt,
        trigger: run.trigger,
        actor: run.actor,
        dry_run: run.dryRun,
        manifests_deleted: run.manifestsDeleted,
        blobs_deleted: run.blobsDeleted,
        orphans_deleted: run.orphansDeleted,
        swept: run.swept,
        bytes_freed: run.bytesFreed,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  }

  /** When the last real (not dry-run) sweep of storage finished, by any replica. */
  async lastSweepAt(): Promise<Date | null> {
    const row = await this.db.selectFrom('gc_runs').select((eb) => eb.fn.max('finished_at').as('at')).where('swept', '=', true).where('dry_run', '=', false).executeTakeFirst();
    return row?.at ? new Date(row.at) : null;
  }

  /** Sums over every recorded pass that was not a dry run, since the database was created. */
  async totals(): Promise<GcTotals> {
    const { rows } = await sql<{ runs: number; manifests: number | null; blobs: number | null; orphans: number | null; bytes: number | null; last_run_at: Date | null }>`
      SELECT count(*) AS runs, sum(manifests_deleted) AS manifests, sum(blobs_deleted) AS blobs,
             sum(orphans_deleted) AS orphans, sum(bytes_freed) AS bytes, max(finished_at) AS last_run_at
      FROM gc_runs WHERE NOT dry_run`.execute(this.db);
    const row = rows[0]!;
    return {
      runs: Number(row.runs),
      manifestsDeleted: Number(row.manifests ?? 0),
      blobsDeleted: Number(row.blobs ?? 0),
      orphansDeleted: Number(row.orphans ?? 0),
      bytesFreed: Number(row.bytes ?? 0),
      lastRunAt: row.last_run_at ? new Date(row.last_run_at) : null,
    };
  }
}
