-- Every audit event names its actor, and says what kind of actor it was:
--   account    an authenticated account (for login_failed: the account name that was tried)
--   anonymous  a caller without credentials, while access control is on
--   open       a caller without credentials while no admin exists (an open registry, where
--              anyone who may reach the API may administer it)
--   system     Cairn itself, on the operator's behalf (CAIRN_ADMIN_PASSWORD at start-up)
-- Callers without credentials are recorded as the actor 'anonymous' (never NULL); the kind tells
-- them apart from an account that happens to be named "anonymous".
ALTER TABLE audit_events ADD COLUMN actor_kind text NOT NULL DEFAULT 'account'
  CHECK (actor_kind IN ('account', 'anonymous', 'open', 'system'));
UPDATE audit_events SET actor = 'anonymous', actor_kind = 'anonymous' WHERE actor IS NULL;
ALTER TABLE audit_events ALTER COLUMN actor_kind DROP DEFAULT;
ALTER TABLE audit_events ALTER COLUMN actor SET NOT NULL;

-- "What happened to alice / team/app / permission 42?" (GET /api/v1/audit-events?target=…)
CREATE INDEX audit_events_target_idx ON audit_events (target, id DESC);
