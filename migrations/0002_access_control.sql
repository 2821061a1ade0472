-- Access control: accounts (users and robots), personal access tokens, permissions, audit log.

CREATE TABLE accounts (
  id            bigserial PRIMARY KEY,
  name          text NOT NULL UNIQUE,
  kind          text NOT NULL CHECK (kind IN ('user', 'robot')),
  -- users: scrypt hash of the password; robots: SHA-256 of the generated secret.
  secret_hash   text NOT NULL,
  is_admin      boolean NOT NULL DEFAULT false,
  disabled      boolean NOT NULL DEFAULT false,
  description   text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Personal access tokens: used as the password in HTTP Basic / token requests.
CREATE TABLE personal_access_tokens (
  id           bigserial PRIMARY KEY,
  account_id   bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
  name         text NOT NULL,
  secret_hash  text NOT NULL UNIQUE,
  expires_at   timestamptz,
  revoked_at   timestamptz,
  last_used_at timestamptz,
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (account_id, name)
);

-- Grants: an account (or, with account_id NULL, anonymous callers) may do `actions` on every
-- repository matching `pattern` (see src/auth/patterns.ts).
CREATE TABLE permissions (
  id         bigserial PRIMARY KEY,
  account_id bigint REFERENCES accounts (id) ON DELETE CASCADE,
  pattern    text NOT NULL,
  actions    text[] NOT NULL CHECK (actions <@ ARRAY['pull', 'push', 'delete', 'admin']::text[]),
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE NULLS NOT DISTINCT (account_id, pattern)
);

CREATE TABLE audit_events (
  id        bigserial PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT now(),
  -- account name; NULL for anonymous callers
  actor     text,
  action    text NOT NULL,
  target    text,
  client_ip text,
  details   jsonb
);
CREATE INDEX audit_events_at_idx ON audit_events (at DESC, id DESC);
CREATE INDEX audit_events_actor_idx ON audit_events (actor, at DESC);
