-- Cairn registry metadata: repositories, blobs, manifests, tags, upload sessions.
--
-- References between objects are rows, not JSON, so that online garbage collection can find
-- unreferenced blobs and manifests with indexed queries (GitLab registry style): triggers put
-- anything that may have lost its last reference on a review queue, and the collector takes
-- queue rows with FOR UPDATE SKIP LOCKED once review_after has passed.

CREATE TABLE repositories (
  id         bigserial PRIMARY KEY,
  name       text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Blob bytes live in the blob store; a row here means the bytes were committed and verified.
CREATE TABLE blobs (
  digest     text PRIMARY KEY,
  size       bigint NOT NULL CHECK (size >= 0),
  created_at timestamptz NOT NULL DEFAULT now()
);

-- A blob is visible in a repository only through a link (upload, mount, or manifest push).
CREATE TABLE repository_blobs (
  repository_id bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  blob_digest   text NOT NULL REFERENCES blobs (digest) ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository_id, blob_digest)
);
CREATE INDEX repository_blobs_blob_digest_idx ON repository_blobs (blob_digest);

CREATE TABLE manifests (
  id                bigserial PRIMARY KEY,
  repository_id     bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  digest            text NOT NULL,
  media_type        text NOT NULL,
  -- artifactType of the manifest, else its config media type (what referrers report).
  artifact_type     text,
  config_digest     text,
  config_media_type text,
  subject_digest    text,
  annotations       jsonb,
  size              bigint NOT NULL,
  -- The exact bytes the client pushed; served byte for byte.
  payload           bytea NOT NULL,
  pushed_at         timestamptz NOT NULL DEFAULT now(),
  last_pulled_at    timestamptz,
  pull_count        bigint NOT NULL DEFAULT 0,
  UNIQUE (repository_id, digest)
);
CREATE INDEX manifests_subject_idx ON manifests (repository_id, subject_digest)
  WHERE subject_digest IS NOT NULL;
CREATE INDEX manifests_config_digest_idx ON manifests (config_digest) WHERE config_digest IS NOT NULL;

-- manifest -> blob (config, layers, and the blob entries of BuildKit's legacy cache index).
CREATE TABLE manifest_blobs (
  manifest_id bigint NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  blob_digest text NOT NULL REFERENCES blobs (digest),
  PRIMARY KEY (manifest_id, blob_digest)
);
CREATE INDEX manifest_blobs_blob_digest_idx ON manifest_blobs (blob_digest);

-- index -> child manifest.
CREATE TABLE manifest_references (
  parent_id bigint NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  child_id  bigint NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  PRIMARY KEY (parent_id, child_id)
);
CREATE INDEX manifest_references_child_idx ON manifest_references (child_id);

CREATE TABLE tags (
  repository_id  bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  name           text NOT NULL,
  manifest_id    bigint NOT NULL REFERENCES manifests (id) ON DELETE CASCADE,
  pushed_at      timestamptz NOT NULL DEFAULT now(),
  last_pulled_at timestamptz,
  pull_count     bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (repository_id, name)
);
CREATE INDEX tags_manifest_id_idx ON tags (manifest_id);

-- Upload sessions survive restarts; bytes are in the blob store under the same id.
CREATE TABLE upload_sessions (
  id            uuid PRIMARY KEY,
  repository_id bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  size          bigint NOT NULL DEFAULT 0,
  started_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX upload_sessions_updated_at_idx ON upload_sessions (updated_at);

-- Online garbage collection review queues.
CREATE TABLE gc_blob_review_queue (
  digest       text PRIMARY KEY,
  review_after timestamptz NOT NULL,
  event        text NOT NULL
);
CREATE TABLE gc_manifest_review_queue (
  manifest_id   bigint PRIMARY KEY REFERENCES manifests (id) ON DELETE CASCADE,
  repository_id bigint NOT NULL,
  review_after  timestamptz NOT NULL,
  event         text NOT NULL
);

-- How long an object waits on a review queue before GC looks at it: long enough for a push
-- that uploaded a blob to link it from a manifest.
CREATE TABLE gc_settings (
  singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  review_delay interval NOT NULL DEFAULT '1 day'
);
INSERT INTO gc_settings DEFAULT VALUES;

CREATE FUNCTION gc_enqueue_blob(blob text, why text) RETURNS void LANGUAGE sql AS $$
  INSERT INTO gc_blob_review_queue (digest, review_after, event)
  VALUES (blob, now() + (SELECT review_delay FROM gc_settings), why)
  ON CONFLICT (digest) DO UPDATE
    SET review_after = GREATEST(gc_blob_review_queue.review_after, EXCLUDED.review_after),
        event = EXCLUDED.event;
$$;

CREATE FUNCTION gc_enqueue_manifest(manifest bigint, repository bigint, why text) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO gc_manifest_review_queue (manifest_id, repository_id, review_after, event)
  VALUES (manifest, repository, now() + (SELECT review_delay FROM gc_settings), why)
  ON CONFLICT (manifest_id) DO UPDATE
    SET review_after = GREATEST(gc_manifest_review_queue.review_after, EXCLUDED.review_after),
        event = EXCLUDED.event;
$$;

CREATE FUNCTION gc_on_blob_uploaded() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM gc_enqueue_blob(NEW.digest, 'blob_uploaded');
  RETURN NULL;
END $$;
CREATE TRIGGER gc_blob_uploaded AFTER INSERT ON blobs
  FOR EACH ROW EXECUTE FUNCTION gc_on_blob_uploaded();

CREATE FUNCTION gc_on_manifest_blob_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM gc_enqueue_blob(OLD.blob_digest, 'manifest_deleted');
  RETURN NULL;
END $$;
CREATE TRIGGER gc_manifest_blob_deleted AFTER DELETE ON manifest_blobs
  FOR EACH ROW EXECUTE FUNCTION gc_on_manifest_blob_deleted();

CREATE FUNCTION gc_on_repository_blob_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM gc_enqueue_blob(OLD.blob_digest, 'blob_unlinked');
  RETURN NULL;
END $$;
CREATE TRIGGER gc_repository_blob_deleted AFTER DELETE ON repository_blobs
  FOR EACH ROW EXECUTE FUNCTION gc_on_repository_blob_deleted();

CREATE FUNCTION gc_on_manifest_pushed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM gc_enqueue_manifest(NEW.id, NEW.repository_id, 'manifest_pushed');
  RETURN NULL;
END $$;
CREATE TRIGGER gc_manifest_pushed AFTER INSERT ON manifests
  FOR EACH ROW EXECUTE FUNCTION gc_on_manifest_pushed();

CREATE FUNCTION gc_on_tag_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- The manifest a tag pointed at may now be untagged. Skip it when the whole manifest is
  -- being deleted (the FK cascade removes its tags first).
  IF TG_OP = 'DELETE' OR OLD.manifest_id <> NEW.manifest_id THEN
    IF EXISTS (SELECT 1 FROM manifests WHERE id = OLD.manifest_id) THEN
      PERFORM gc_enqueue_manifest(OLD.manifest_id, OLD.repository_id,
        CASE TG_OP WHEN 'DELETE' THEN 'tag_deleted' ELSE 'tag_switched' END);
    END IF;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER gc_tag_changed AFTER UPDATE OR DELETE ON tags
  FOR EACH ROW EXECUTE FUNCTION gc_on_tag_changed();

CREATE FUNCTION gc_on_manifest_reference_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM manifests WHERE id = OLD.child_id) THEN
    PERFORM gc_enqueue_manifest(OLD.child_id, (SELECT repository_id FROM manifests WHERE id = OLD.child_id),
      'parent_deleted');
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER gc_manifest_reference_deleted AFTER DELETE ON manifest_references
  FOR EACH ROW EXECUTE FUNCTION gc_on_manifest_reference_deleted();
