-- Retention: policies (REST), branch lifecycle (REST and Git webhooks), run history.
-- Retention only deletes tags and manifests through the registry services; the garbage collector
-- frees the bytes afterwards (the review-queue triggers of 0001 see those deletes).

-- A policy's rules live in `definition` (validated by the admin API's JSON schema; see
-- src/retention/policy.ts). A scheduled policy is claimed by one replica at a time: the claim sets
-- `lease_until` in one UPDATE that only succeeds when no lease is current.
CREATE TABLE retention_policies (
  name             text PRIMARY KEY,
  definition       jsonb NOT NULL,
  interval_seconds integer CHECK (interval_seconds IS NULL OR interval_seconds > 0),
  next_run_at      timestamptz,
  lease_until      timestamptz,
  lease_owner      text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX retention_policies_due_idx ON retention_policies (next_run_at) WHERE interval_seconds IS NOT NULL;

-- Branch states. A branch (as cache tags name it: CI-sanitised) is live unless a row says it is
-- gone; `changed_at` starts the grace period, and a cache tag pushed after it brings it back.
CREATE TABLE retention_branches (
  repository_id bigint NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
  branch        text NOT NULL,
  state         text NOT NULL CHECK (state IN ('live', 'gone')),
  changed_at    timestamptz NOT NULL DEFAULT now(),
  source        text NOT NULL,
  PRIMARY KEY (repository_id, branch)
);

-- Git repository (as the forge names it: `org/app`, `group/sub/app`) → Cairn repositories.
CREATE TABLE retention_git_mappings (
  git_repository text PRIMARY KEY,
  repositories   text[] NOT NULL,
  lowercase      boolean NOT NULL DEFAULT false,
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Webhook deliveries already acted on, so a replayed delivery changes nothing.
CREATE TABLE webhook_deliveries (
  provider    text NOT NULL,
  delivery_id text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, delivery_id)
);
CREATE INDEX webhook_deliveries_received_idx ON webhook_deliveries (received_at);

-- What each run deleted, by which rule, and the bytes its plan counted.
CREATE TABLE retention_runs (
  id                bigserial PRIMARY KEY,
  policy            text,
  trigger           text NOT NULL CHECK (trigger IN ('api', 'schedule', 'cli')),
  actor             text NOT NULL,  -- who ran it, as in audit_events (actor, actor_kind)
  actor_kind        text NOT NULL CHECK (actor_kind IN ('account', 'anonymous', 'open', 'system')),
  started_at        timestamptz NOT NULL DEFAULT now(),
  finished_at       timestamptz,
  tags_deleted      integer NOT NULL DEFAULT 0,
  manifests_deleted integer NOT NULL DEFAULT 0,
  bytes_freed       bigint NOT NULL DEFAULT 0,
  blobs_freed       integer NOT NULL DEFAULT 0,
  deleted           jsonb NOT NULL DEFAULT '[]',
  error             text
);
CREATE INDEX retention_runs_policy_idx ON retention_runs (policy, id);

-- Pruning inside a cache: which layers of each cache were fetched (a fetch of a blob the cache
-- lists as a layer, in the cache's repository), counted in batches like imports.
CREATE TABLE cache_layer_fetches (
  cache_id        bigint NOT NULL REFERENCES cache_entries (id) ON DELETE CASCADE,
  digest          text NOT NULL,
  fetches         bigint NOT NULL,
  last_fetched_at timestamptz NOT NULL,
  PRIMARY KEY (cache_id, digest)
);
