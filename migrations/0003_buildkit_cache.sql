-- BuildKit cache index: one entry per stored manifest that is a BuildKit cache (image-manifest
-- form, legacy index form, or an image carrying inline cache), with its layers and records.
-- Tags point at manifests as usual; a cache "for a tag" is the entry of the tag's manifest.

CREATE TABLE cache_entries (
  id              bigserial PRIMARY KEY,
  manifest_id     bigint NOT NULL UNIQUE REFERENCES manifests (id) ON DELETE CASCADE,
  repository_id   bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  format          text NOT NULL CHECK (format IN ('image-manifest', 'index', 'inline')),
  -- max | min | empty; NULL when the cache could not be parsed
  mode            text,
  -- false: stored as pushed, but BuildKit could not use it; `reason` says why
  parsed          boolean NOT NULL,
  reason          text,
  -- the cacheconfig blob (image config for inline cache): what an import fetches
  config_digest   text,
  config_size     bigint,
  manifest_size   bigint NOT NULL,
  record_count    integer NOT NULL DEFAULT 0,
  layer_count     integer NOT NULL DEFAULT 0,
  total_bytes     bigint NOT NULL DEFAULT 0,
  warnings        jsonb NOT NULL DEFAULT '[]',
  pushed_at       timestamptz NOT NULL DEFAULT now(),
  last_imported_at timestamptz,
  import_count    bigint NOT NULL DEFAULT 0,
  last_importer   text
);
CREATE INDEX cache_entries_repository_idx ON cache_entries (repository_id);
CREATE INDEX cache_entries_config_idx ON cache_entries (repository_id, config_digest);

-- layers[] of the cacheconfig, in document order, with the manifest descriptor's facts.
CREATE TABLE cache_layers (
  cache_id    bigint NOT NULL REFERENCES cache_entries (id) ON DELETE CASCADE,
  position    integer NOT NULL,
  digest      text NOT NULL,
  parent      integer NOT NULL,
  size        bigint,
  media_type  text,
  created_at  text,
  PRIMARY KEY (cache_id, position)
);
CREATE INDEX cache_layers_digest_idx ON cache_layers (digest);

-- records[] of the cacheconfig: the cache key, its results and its inputs (indexes as in the
-- document: `results` into layers, `inputs[k][i].link` into records).
CREATE TABLE cache_records (
  cache_id    bigint NOT NULL REFERENCES cache_entries (id) ON DELETE CASCADE,
  position    integer NOT NULL,
  digest      text NOT NULL,
  results     jsonb NOT NULL,
  chains      jsonb NOT NULL,
  inputs      jsonb NOT NULL,
  PRIMARY KEY (cache_id, position)
);

-- Per-repository cache settings (the admin API and the config file write them).
CREATE TABLE cache_settings (
  repository_id     bigint PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
  -- regular expression with a named group `branch`; NULL: the default pattern
  branch_pattern    text,
  -- glob patterns of tags whose pushes are merged into the cache they replace
  merge_tags        text[] NOT NULL DEFAULT '{}',
  -- tags tried, in order, when a cache tag that maps to a branch does not exist
  fallback_tags     text[] NOT NULL DEFAULT '{}',
  updated_at        timestamptz NOT NULL DEFAULT now()
);
