-- Online garbage collection, part two (see src/gc/index.ts for the whole argument).
--
-- 1. A blob linked to a repository (upload, mount, or a re-upload that refreshes an existing
--    link) gets a fresh review: BuildKit uploads blobs long before the manifest that references
--    them, and the link's created_at is what the collector checks ("linked within the delay").
-- 2. A manifest whose subject is deleted puts its referrers up for review: an untagged referrer
--    lives only as long as its subject.
-- 3. Every collection pass is recorded, so that figures like "bytes freed" are totals, not
--    "since this process started".

CREATE FUNCTION gc_on_repository_blob_linked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM gc_enqueue_blob(NEW.blob_digest, 'blob_linked');
  RETURN NULL;
END $$;
CREATE TRIGGER gc_repository_blob_linked AFTER INSERT OR UPDATE ON repository_blobs
  FOR EACH ROW EXECUTE FUNCTION gc_on_repository_blob_linked();

CREATE FUNCTION gc_on_subject_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM gc_enqueue_manifest(m.id, m.repository_id, 'subject_deleted')
  FROM manifests m
  WHERE m.repository_id = OLD.repository_id AND m.subject_digest = OLD.digest;
  RETURN NULL;
END $$;
CREATE TRIGGER gc_subject_deleted AFTER DELETE ON manifests
  FOR EACH ROW EXECUTE FUNCTION gc_on_subject_deleted();

CREATE TABLE gc_runs (
  id                bigserial PRIMARY KEY,
  started_at        timestamptz NOT NULL,
  finished_at       timestamptz NOT NULL,
  -- 'schedule' (a replica's background pass), 'api' (POST /api/v1/gc/runs) or 'cli' (cairn gc).
  trigger           text NOT NULL,
  actor             text,
  dry_run           boolean NOT NULL,
  manifests_deleted integer NOT NULL,
  blobs_deleted     integer NOT NULL,
  orphans_deleted   integer NOT NULL,
  -- The pass also swept storage for bytes no row names (done at most every gcSweepInterval).
  swept             boolean NOT NULL,
  -- Blob-store bytes removed (blobs and orphaned objects); manifests live in the database.
  bytes_freed       bigint NOT NULL
);
CREATE INDEX gc_runs_started_at_idx ON gc_runs (started_at);
CREATE INDEX gc_blob_review_queue_review_after_idx ON gc_blob_review_queue (review_after);
CREATE INDEX gc_manifest_review_queue_review_after_idx ON gc_manifest_review_queue (review_after);
