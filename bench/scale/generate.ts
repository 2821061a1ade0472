/**
 * Fills the metadata database with registry-sized data (issue 12): by default 100,000 tags in one
 * repository, 10,000 repositories and 1,000,000 blobs, with the manifests, links, referrers and
 * BuildKit cache entries around them. Used by the scan test (test/metadata/scale.test.ts) and by
 * `node dist/bench/scale/cli.js` for benchmarks. Metadata only: no blob bytes are written.
 *
 * Set-based SQL, not the stores one row at a time: a million single-row statements take minutes
 * (PGlite) where a few INSERT … SELECTs over generate_series take seconds. What the stores keep,
 * the generator keeps too:
 *   - a blob is recorded once (`blobs`) and is visible in a repository only through its link
 *     (`repository_blobs`; each blob is linked to exactly one repository);
 *   - a manifest's digest is the sha256 of its stored payload, a real OCI image manifest whose
 *     config, layers, subject and annotations are the row's columns;
 *   - every blob a manifest references is linked in its repository and listed in
 *     `manifest_blobs` (what `ManifestStore.insert` checks and writes);
 *   - tags point at manifests of their own repository; referrers' subjects are manifests there;
 *   - a cache entry describes its manifest: config digest and size, layers in order, records;
 *   - the garbage collector's review queues hold what the triggers of 0001 and 0008 would have
 *     put there (every new blob, link and manifest, due after the review delay).
 * Per-row triggers are what made it slow (six times slower for blobs), foreign key checks
 * included: the generating transaction sets `session_replication_role = replica`, which skips
 * every trigger for that transaction only (superuser: tests and benchmarks own their database),
 * inserts the review-queue rows set-based, and then checks every foreign key of what it wrote
 * with one anti-join per key — the same facts the row-by-row checks establish, at hash-join
 * speed — failing the whole transaction if one does not hold.
 * Everything is written in one transaction: a failed run leaves nothing behind. The checks read
 * whole tables: generate into a database of its own.
 */
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../../src/metadata/schema.js';

export interface ScaleSizes {
  /** Tags in the one big repository. */
  readonly tags: number;
  readonly repositories: number;
  /** Blobs in all, spread evenly over the repositories (at least 8 a repository). */
  readonly blobs: number;
}

export const FULL_SCALE: ScaleSizes = { tags: 100_000, repositories: 10_000, blobs: 1_000_000 };

/** Distinct manifests behind the big repository's tags (CI tags many commits, rebuilds few). */
const BIG_REPOSITORY_IMAGES = 1_000;
/** Referrers (SBOMs, signatures) of the big repository's first image; other repositories have one. */
export const BIG_REPOSITORY_REFERRERS = 50;

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';
const CACHE_CONFIG = 'application/vnd.buildkit.cacheconfig.v0';
const SBOM = 'application/spdx+json';
const SIGNATURE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

/** Where the generated data is, for queries on it. */
export interface ScaleData {
  readonly sizes: ScaleSizes;
  /** The repository holding `sizes.tags` tags. */
  readonly big: { readonly id: number; readonly name: string; readonly subject: string; readonly referrers: number };
  /** An ordinary repository from the middle of the catalog, with one of everything. */
  readonly sample: {
    readonly id: number;
    readonly name: string;
    /** Its image, tagged `latest`. */
    readonly image: string;
    /** A blob linked to it (the image's layer). */
    readonly blob: string;
    /** The cacheconfig of its cache, tagged `buildcache`. */
    readonly cacheConfig: string;
  };
  /** Milliseconds each step took. */
  readonly timings: Readonly<Record<string, number>>;
}

export interface GenerateOptions {
  /** First segment of every repository name (default `scale`); `PREFIX/big` must not exist. */
  readonly prefix?: string;
  /** Called after each step (progress for the command line). */
  readonly onStep?: (step: string, ms: number) => void;
}

export async function generateScaleMetadata(db: Kysely<Database>, sizes: ScaleSizes, options: GenerateOptions = {}): Promise<ScaleData> {
  const prefix = options.prefix ?? 'scale';
  if (!/^[a-z0-9]+$/.test(prefix)) throw new Error(`prefix ${JSON.stringify(prefix)}: lowercase letters and digits only`);
  const { tags, repositories, blobs } = sizes;
  const perRepository = Math.floor(blobs / repositories);
  if (repositories < 2 || perRepository < 8) throw new Error('need 2 repositories or more and at least 8 blobs a repository');
  if (tags < BIG_REPOSITORY_IMAGES + 2) throw new Error(`need at least ${BIG_REPOSITORY_IMAGES + 2} tags`);
  const exists = await db.selectFrom('repositories').select('id').where('name', '=', `${prefix}/big`).executeTakeFirst();
  if (exists) throw new Error(`${prefix}/big exists already: generate into a fresh database or pick another prefix`);

  const timings: Record<string, number> = {};
  return db.transaction().execute(async (tx) => {
    const step = async (name: string, work: () => Promise<unknown>) => {
      const started = performance.now();
      await work();
      timings[name] = Math.round(performance.now() - started);
      options.onStep?.(name, timings[name]!);
    };
    const g = new Statements(prefix, sizes, perRepository);
    const run = async (statements: RawBuilder<unknown>[]) => {
      for (const statement of statements) await statement.execute(tx);
    };
    await step('repositories', () => run(g.repositories()));
    await sql`SET LOCAL session_replication_role = replica`.execute(tx);
    await step('blobs', () => g.blobs().execute(tx));
    await step('manifests', async () => {
      await run(g.manifestPlan());
      await g.manifests().execute(tx);
      await g.manifestBlobs().execute(tx);
    });
    await step('tags', () => g.tags().execute(tx));
    await step('caches', () => g.caches().execute(tx));
    await step('foreign keys', () => checkForeignKeys(tx));
    await sql`SET LOCAL session_replication_role = origin`.execute(tx);
    const { rows } = await g.summary().execute(tx);
    const s = rows[0]!;
    return {
      sizes,
      big: { id: Number(s.big_id), name: `${prefix}/big`, subject: s.big_subject, referrers: BIG_REPOSITORY_REFERRERS },
      sample: { id: Number(s.sample_id), name: s.sample_name, image: s.sample_image, blob: s.sample_blob, cacheConfig: s.sample_cache_config },
      timings,
    };
  });
}

/**
 * Every foreign key of the tables the generator writes, checked set-based (one anti-join each):
 * what the skipped row-by-row checks would have verified.
 */
async function checkForeignKeys(db: Kysely<Database>): Promise<void> {
  const { rows } = await sql<{ constraint: string; child: string; columns: string; parent: string; parent_columns: string }>`
    SELECT c.conname AS constraint, c.conrelid::regclass::text AS child, c.confrelid::regclass::text AS parent,
           (SELECT string_agg(quote_ident(a.attname), ',' ORDER BY k.n) FROM unnest(c.conkey) WITH ORDINALITY AS k (attnum, n)
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS columns,
           (SELECT string_agg(quote_ident(a.attname), ',' ORDER BY k.n) FROM unnest(c.confkey) WITH ORDINALITY AS k (attnum, n)
            JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) AS parent_columns
    FROM pg_constraint c
    WHERE c.contype = 'f'
      AND c.conrelid::regclass::text IN ('repository_blobs', 'manifests', 'manifest_blobs', 'tags', 'cache_entries', 'cache_layers', 'cache_records',
                                         'gc_manifest_review_queue')`.execute(db);
  for (const fk of rows) {
    // Names from the catalog, quoted by quote_ident; a NULL key is not a reference.
    const orphans = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM ${sql.raw(fk.child)} AS child
      WHERE (${sql.raw(fk.columns.split(',').map((c) => `child.${c}`).join(','))}) IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM ${sql.raw(fk.parent)} AS parent
                        WHERE (${sql.raw(fk.parent_columns.split(',').map((c) => `parent.${c}`).join(','))})
                            = (${sql.raw(fk.columns.split(',').map((c) => `child.${c}`).join(','))}))`.execute(db);
    const n = orphans.rows[0]?.n ?? 0;
    if (n > 0) throw new Error(`generated data breaks ${fk.constraint}: ${n} row(s) of ${fk.child} reference nothing in ${fk.parent}`);
  }
  if (rows.length < 8) throw new Error(`expected the foreign keys of 0001 and 0003, found ${rows.length}`);
}

/**
 * The statements, over integer keys: repository k (0 is the big one), blob i (linked to
 * repository i mod R; repository k's j-th blob is k + jR). Repository k's image configs are its
 * blob 0, their layers its blobs 1…, its cache uses blobs 3 to 6.
 */
class Statements {
  private readonly r: number;

  constructor(
    private readonly prefix: string,
    private readonly sizes: ScaleSizes,
    private readonly perRepository: number,
  ) {
    this.r = sizes.repositories;
  }

  /** Blob i's digest: the sha256 of a name, so digests are as scattered as real ones. */
  private digest(i: RawBuilder<unknown>): RawBuilder<string> {
    return sql<string>`('sha256:' || encode(sha256(convert_to(${this.prefix}::text || '/blob/' || (${i})::text, 'UTF8')), 'hex'))`;
  }

  private size(i: RawBuilder<unknown>): RawBuilder<number> {
    return sql<number>`(1024 + ((${i})::bigint * 7919) % 1048576)`;
  }

  /** Repository k's j-th blob. */
  private blob(k: RawBuilder<unknown>, j: number | RawBuilder<unknown>): RawBuilder<number> {
    return sql<number>`((${k}) + ${this.r}::int * (${j}))`;
  }

  private descriptor(mediaType: string, i: RawBuilder<unknown>) {
    return sql`json_build_object('mediaType', ${mediaType}::text, 'digest', ${this.digest(i)}, 'size', ${this.size(i)})`;
  }

  repositories(): RawBuilder<unknown>[] {
    return [
      sql`CREATE TEMP TABLE scale_repositories (k int PRIMARY KEY, id bigint NOT NULL) ON COMMIT DROP`,
      sql`
        WITH named AS (
          SELECT k, CASE WHEN k = 0 THEN ${this.prefix}::text || '/big'
                         ELSE ${this.prefix}::text || '/team-' || (k % 100)::text || '/app-' || k::text END AS name
          FROM generate_series(0, ${this.r - 1}::int) AS k
        ), created AS (
          INSERT INTO repositories (name) SELECT name FROM named ORDER BY name RETURNING id, name
        )
        INSERT INTO scale_repositories (k, id) SELECT named.k, created.id FROM created JOIN named USING (name)`,
    ];
  }

  blobs() {
    const i = sql`i`;
    return sql`
      WITH generated AS MATERIALIZED (
        SELECT i, ${this.digest(i)} AS digest, ${this.size(i)} AS size
        FROM generate_series(0, ${this.sizes.blobs - 1}::int) AS i
      ), recorded AS (
        INSERT INTO blobs (digest, size) SELECT digest, size FROM generated ORDER BY digest
      ), reviewed AS (
        -- What gc_blob_uploaded (0001) and then gc_repository_blob_linked (0008) leave queued
        -- after BlobStoreMetadata.addToRepository: the link's event replaces the upload's.
        INSERT INTO gc_blob_review_queue (digest, review_after, event)
        SELECT digest, now() + (SELECT review_delay FROM gc_settings), 'blob_linked' FROM generated ORDER BY digest
      )
      INSERT INTO repository_blobs (repository_id, blob_digest)
      SELECT r.id, g.digest FROM generated g JOIN scale_repositories r ON r.k = g.i % ${this.r}::int
      ORDER BY r.id, g.digest`;
  }

  /**
   * Every manifest to create, with its payload and columns, in a temporary table: images (the
   * big repository's BIG_REPOSITORY_IMAGES, one elsewhere), referrers of each repository's first
   * image, and one BuildKit cache (image-manifest form) a repository.
   */
  manifestPlan(): RawBuilder<unknown>[] {
    const k = sql`r.k`;
    const m = sql`g.m`;
    const layerJ = sql`(1 + ${m} % ${this.perRepository - 1}::int)`;
    const annotations = sql`json_build_object('scale.n', ${m}::text)`;
    const image = sql`json_build_object(
        'schemaVersion', 2, 'mediaType', ${OCI_MANIFEST}::text,
        'config', ${this.descriptor(OCI_CONFIG, this.blob(k, 0))},
        'layers', json_build_array(${this.descriptor(OCI_LAYER, this.blob(k, layerJ))}),
        'annotations', ${annotations})`;
    const cacheLayers = [4, 5, 6].map((j) => this.descriptor(OCI_LAYER, this.blob(k, j)));
    const cache = sql`json_build_object(
        'schemaVersion', 2, 'mediaType', ${OCI_MANIFEST}::text,
        'config', ${this.descriptor(CACHE_CONFIG, this.blob(k, 3))},
        'layers', json_build_array(${sql.join(cacheLayers)}))`;
    const artifactType = sql`CASE WHEN ${m} % 2 = 0 THEN ${SBOM}::text ELSE ${SIGNATURE}::text END`;
    const referrer = sql`json_build_object(
        'schemaVersion', 2, 'mediaType', ${OCI_MANIFEST}::text, 'artifactType', ${artifactType},
        'config', ${this.descriptor(OCI_CONFIG, this.blob(k, 0))},
        'layers', json_build_array(${this.descriptor(OCI_LAYER, this.blob(k, 1))}),
        'subject', json_build_object('mediaType', ${OCI_MANIFEST}::text, 'digest', s.digest, 'size', octet_length(s.payload)),
        'annotations', ${annotations})`;
    const count = (big: number) => sql`generate_series(0, CASE WHEN r.k = 0 THEN ${big - 1}::int ELSE 0 END) AS g (m)`;
    return [
      sql`CREATE TEMP TABLE scale_manifests (
        kind text NOT NULL, k int NOT NULL, m int NOT NULL, repository_id bigint NOT NULL,
        payload bytea NOT NULL, digest text, artifact_type text, config_digest text NOT NULL,
        config_media_type text NOT NULL, subject_digest text, annotations jsonb,
        blob_digests text[] NOT NULL, id bigint,
        PRIMARY KEY (kind, k, m)
      ) ON COMMIT DROP`,
      sql`
        INSERT INTO scale_manifests (kind, k, m, repository_id, payload, config_digest, config_media_type, annotations, blob_digests)
        SELECT 'image', r.k, g.m, r.id, convert_to((${image})::text, 'UTF8'), ${this.digest(this.blob(k, 0))}, ${OCI_CONFIG}::text,
               (${annotations})::jsonb, ARRAY[${this.digest(this.blob(k, 0))}, ${this.digest(this.blob(k, layerJ))}]
        FROM scale_repositories r, LATERAL ${count(BIG_REPOSITORY_IMAGES)}`,
      sql`
        INSERT INTO scale_manifests (kind, k, m, repository_id, payload, config_digest, config_media_type, blob_digests)
        SELECT 'cache', r.k, 0, r.id, convert_to((${cache})::text, 'UTF8'), ${this.digest(this.blob(k, 3))}, ${CACHE_CONFIG}::text,
               ARRAY[${sql.join([3, 4, 5, 6].map((j) => this.digest(this.blob(k, j))))}]
        FROM scale_repositories r`,
      sql`UPDATE scale_manifests SET digest = 'sha256:' || encode(sha256(payload), 'hex')`,
      sql`
        INSERT INTO scale_manifests (kind, k, m, repository_id, payload, artifact_type, config_digest, config_media_type,
                                     subject_digest, annotations, blob_digests)
        SELECT 'referrer', r.k, g.m, r.id, convert_to((${referrer})::text, 'UTF8'), ${artifactType},
               ${this.digest(this.blob(k, 0))}, ${OCI_CONFIG}::text, s.digest, (${annotations})::jsonb,
               ARRAY[${this.digest(this.blob(k, 0))}, ${this.digest(this.blob(k, 1))}]
        FROM scale_repositories r
        JOIN scale_manifests s ON s.kind = 'image' AND s.k = r.k AND s.m = 0,
        LATERAL ${count(BIG_REPOSITORY_REFERRERS)}`,
      sql`UPDATE scale_manifests SET digest = 'sha256:' || encode(sha256(payload), 'hex') WHERE digest IS NULL`,
    ];
  }

  manifests() {
    return sql`
      WITH created AS (
        INSERT INTO manifests (repository_id, digest, media_type, artifact_type, config_digest, config_media_type,
                               subject_digest, annotations, size, payload)
        SELECT repository_id, digest, ${OCI_MANIFEST}::text, artifact_type, config_digest, config_media_type,
               subject_digest, annotations, octet_length(payload), payload
        FROM scale_manifests ORDER BY repository_id, digest
        RETURNING id, repository_id, digest
      ), reviewed AS (
        -- What gc_manifest_pushed would have queued (gc_enqueue_manifest, migrations/0001).
        INSERT INTO gc_manifest_review_queue (manifest_id, repository_id, review_after, event)
        SELECT id, repository_id, now() + (SELECT review_delay FROM gc_settings), 'manifest_pushed' FROM created
      )
      UPDATE scale_manifests s SET id = c.id FROM created c WHERE c.repository_id = s.repository_id AND c.digest = s.digest`;
  }

  manifestBlobs() {
    return sql`
      INSERT INTO manifest_blobs (manifest_id, blob_digest)
      SELECT DISTINCT id, unnest(blob_digests) FROM scale_manifests`;
  }

  /** The big repository's tags (its images in turn), and `latest` and `buildcache` everywhere. */
  tags() {
    const generic = this.sizes.tags - 2;
    return sql`
      INSERT INTO tags (repository_id, name, manifest_id)
      SELECT s.repository_id,
             CASE WHEN j % 4 = 0 THEN 'v1.' || (j / 4)::text ELSE 'sha-' || left(md5(${this.prefix}::text || j::text), 16) END,
             s.id
      FROM generate_series(0, ${generic - 1}::int) AS j
      JOIN scale_manifests s ON s.kind = 'image' AND s.k = 0 AND s.m = j % ${BIG_REPOSITORY_IMAGES}::int
      UNION ALL
      SELECT repository_id, 'latest', id FROM scale_manifests WHERE kind = 'image' AND m = 0
      UNION ALL
      SELECT repository_id, 'buildcache', id FROM scale_manifests WHERE kind = 'cache'
      ORDER BY 1, 2`;
  }

  /** One cache entry a repository, with the layers and records the indexer would store. */
  caches() {
    const k = sql`s.k`;
    const layers = [4, 5, 6];
    const total = sql.join(layers.map((j) => this.size(this.blob(k, j))), sql` + `);
    return sql`
      WITH entries AS (
        INSERT INTO cache_entries (manifest_id, repository_id, format, mode, parsed, config_digest, config_size,
                                   manifest_size, record_count, layer_count, total_bytes)
        SELECT s.id, s.repository_id, 'image-manifest', 'max', true, s.config_digest, ${this.size(this.blob(k, 3))},
               octet_length(s.payload), 3, 3, ${total}
        FROM scale_manifests s WHERE s.kind = 'cache'
        RETURNING id, manifest_id
      ), placed AS (
        SELECT e.id, s.k FROM entries e JOIN scale_manifests s ON s.id = e.manifest_id
      ), layers AS (
        INSERT INTO cache_layers (cache_id, position, digest, parent, size, media_type)
        SELECT p.id, pos, ${this.digest(this.blob(sql`p.k`, sql`4 + pos`))}, pos - 1, ${this.size(this.blob(sql`p.k`, sql`4 + pos`))},
               ${OCI_LAYER}::text
        FROM placed p, generate_series(0, 2) AS pos
      )
      INSERT INTO cache_records (cache_id, position, digest, results, chains, inputs)
      SELECT p.id, pos, 'sha256:' || encode(sha256(convert_to(${this.prefix}::text || '/record/' || p.k::text || '/' || pos::text, 'UTF8')), 'hex'),
             jsonb_build_array(pos), jsonb_build_array(jsonb_build_array(pos)),
             CASE WHEN pos = 0 THEN '[]'::jsonb ELSE jsonb_build_array(jsonb_build_array(jsonb_build_object('link', pos - 1))) END
      FROM placed p, generate_series(0, 2) AS pos`;
  }

  summary() {
    const middle = Math.floor(this.r / 2);
    return sql<{
      big_id: number;
      big_subject: string;
      sample_id: number;
      sample_name: string;
      sample_image: string;
      sample_blob: string;
      sample_cache_config: string;
    }>`
      SELECT big.repository_id AS big_id, big.digest AS big_subject,
             sample.repository_id AS sample_id, r.name AS sample_name, sample.digest AS sample_image,
             sample.blob_digests[2] AS sample_blob, cache.config_digest AS sample_cache_config
      FROM scale_manifests big, scale_manifests sample, scale_manifests cache, repositories r
      WHERE big.kind = 'image' AND big.k = 0 AND big.m = 0
        AND sample.kind = 'image' AND sample.k = ${middle}::int AND sample.m = 0
        AND cache.kind = 'cache' AND cache.k = ${middle}::int
        AND r.id = sample.repository_id`;
  }
}
