-- Listings in byte order through an index (issue 12).
--
-- Tag lists, the catalog and referrers are returned in lexical order, which the OCI spec and
-- clients read as byte order (for ASCII names, also JavaScript's default sort). The queries said
-- `ORDER BY name COLLATE "C"`, but the indexes were built with the database's default collation,
-- which differs from "C" on most servers (C.UTF-8, en_US.UTF-8, ICU): no index could serve that
-- order, so every page read and sorted the whole set — O(N) a page, O(N²/n) a walk.
--
-- Names and tags are identifiers, never prose: their columns take the C collation, and the
-- primary key and unique indexes on them are rebuilt with it. One index then serves equality
-- lookups, `name > $last` and `ORDER BY name` alike, so a page costs O(n + log N) wherever it
-- falls, and no second index has to be written on every push. Equality is unchanged (every
-- collation PostgreSQL can default to is deterministic), and a comparison with a default-
-- collation value (a parameter, unnest(text[])) takes the column's collation.
ALTER TABLE tags ALTER COLUMN name TYPE text COLLATE "C";
ALTER TABLE repositories ALTER COLUMN name TYPE text COLLATE "C";

-- Referrers of a subject, in digest order, straight from the index (replaces the index on
-- (repository_id, subject_digest), which this one covers as a prefix).
CREATE INDEX manifests_referrers_idx ON manifests (repository_id, subject_digest, digest COLLATE "C")
  WHERE subject_digest IS NOT NULL;
DROP INDEX manifests_subject_idx;
