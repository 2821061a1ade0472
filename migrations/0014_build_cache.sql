-- Build engine (issue 11): the registry's cache index is the build cache.
--
-- A build looks up all of a stage's chain keys at once among the records of the repository's
-- cache tags: records are found by their digest (the key), which needs an index of its own.
CREATE INDEX cache_records_digest_idx ON cache_records (digest);

-- The layer's diff ID (descriptor annotation `containerd.io/uncompressed`), so that a cache hit
-- yields the image's rootfs.diff_ids without reading the cache manifest or the layer. NULL for
-- caches indexed before this column existed, or pushed without the annotation.
ALTER TABLE cache_layers ADD COLUMN diff_id text;

-- What each step the engine built was made of (instruction text, build args, per-file digests of
-- COPY sources, parent key), by chain key, so that a later miss at the same step position can name
-- the first input that changed. Written once per new key; a re-run of a key keeps the first row.
CREATE TABLE build_steps (
  repository_id bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  chain_key     text NOT NULL,
  -- stage (name or index) and step index: where in the Dockerfile the step sits
  position      text NOT NULL,
  inputs        jsonb NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (repository_id, chain_key)
);
CREATE INDEX build_steps_position_idx ON build_steps (repository_id, position, created_at DESC);
