-- Retention's pruning rule (prune.unusedDays) rewrites caches without their unused layers: each
-- run records what it rewrote beside what it deleted — the tag, the manifest it pointed at and
-- the rewritten one, the rule and why.
ALTER TABLE retention_runs
  ADD COLUMN tags_rewritten integer NOT NULL DEFAULT 0,
  ADD COLUMN rewritten jsonb NOT NULL DEFAULT '[]';
