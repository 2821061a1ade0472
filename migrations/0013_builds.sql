-- Build jobs (issue 11): the queue the builds API fills and workers take with
-- FOR UPDATE SKIP LOCKED, each job's log as ordered event rows a client replays from an offset,
-- and the workers alive (so that creating a build with none running is refused at once).

CREATE TABLE build_jobs (
  id               text PRIMARY KEY,              -- a UUID minted by the API
  queue_order      bigserial NOT NULL UNIQUE,     -- FIFO order and the list's cursor
  state            text NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  request          jsonb NOT NULL,                -- BuildRequest; never secrets
  context_digest   text NOT NULL,                 -- the context tar in the blob store (no blob row names it)
  context_size     bigint NOT NULL,
  actor            text NOT NULL,                 -- who asked, as in audit_events
  actor_kind       text NOT NULL CHECK (actor_kind IN ('account', 'anonymous', 'open', 'system')),
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  finished_at      timestamptz,
  worker_id        text,                          -- the worker holding the lease while running
  lease_expires_at timestamptz,                   -- renewed by the worker's heartbeat
  attempts         integer NOT NULL DEFAULT 0,
  cancel_requested boolean NOT NULL DEFAULT false,
  result           jsonb,                         -- BuildResult once finished
  next_seq         integer NOT NULL DEFAULT 1     -- the seq of the next event
);
-- Taking the oldest queued job, and finding running jobs whose lease expired: both partial.
CREATE INDEX build_jobs_queued_idx ON build_jobs (queue_order) WHERE state = 'queued';
CREATE INDEX build_jobs_running_idx ON build_jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX build_jobs_actor_idx ON build_jobs (actor, queue_order);
-- The sweep keeps context tars of unfinished jobs (gc store: unrecorded).
CREATE INDEX build_jobs_context_idx ON build_jobs (context_digest) WHERE state IN ('queued', 'running');

CREATE TABLE build_events (
  job_id text NOT NULL REFERENCES build_jobs (id) ON DELETE CASCADE,
  seq    integer NOT NULL,
  event  jsonb NOT NULL,                          -- BuildEvent
  PRIMARY KEY (job_id, seq)
);

CREATE TABLE build_workers (
  id         text PRIMARY KEY,                    -- host:pid:random
  host       text NOT NULL,
  pid        integer NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now(),
  seen_at    timestamptz NOT NULL DEFAULT now()
);
