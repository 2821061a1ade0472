/**
 * RegistryBuildHost over real registry services (PGlite and PostgreSQL, filesystem store): the
 * engine's cache export is indexed like any BuildKit cache (zero warnings), one lookup finds a
 * stage's keys with their full layer chains along the branch's fallback, the lookup uses the
 * record digest index, and step inputs come back for the cache report.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { BlobStoreSink } from '../../src/build/layers/blob-sink.js';
import { buildCacheExport, type ExportRecord } from '../../src/build/engine/cache-export.js';
import { imageKey, SCRATCH_KEY } from '../../src/build/engine/keys.js';
import { missReason, type StepInputs } from '../../src/build/engine/report.js';
import { parseCacheConfig } from '../../src/cache/buildkit/index.js';
import { findRecordsStatement } from '../../src/metadata/stores/caches.js';
import { BlobNotFoundError } from '../../src/storage/errors.js';
import { testDatabases } from '../support/registry.js';
import { openBuildServices, storeLayer, type BuildServices } from './engine-support.js';

const REPO = 'team/app';

for (const kind of testDatabases()) {
  describe(`build host over the registry [${kind}]`, () => {
    let services: BuildServices;
    before(async () => {
      services = await openBuildServices(kind);
    });
    after(async () => {
      await services?.close();
    });

    async function exportCache(records: ExportRecord[], tag: string) {
      const exported = buildCacheExport(records, '2026-12-03T00:00:00Z');
      assert.ok(exported);
      await new BlobStoreSink(services.storage).write(Readable.from([exported.config]), 'application/vnd.buildkit.cacheconfig.v0');
      await services.host.linkBlob(REPO, exported.configDigest, exported.config.byteLength);
      const { digest } = await services.host.putManifest(REPO, tag, 'application/vnd.oci.image.manifest.v1+json', exported.manifest);
      return { exported, digest };
    }

    it('indexes the export as a BuildKit cache with no warning, and finds every key with its layer chain in one lookup', async () => {
      const [l1, l2, l3] = [await storeLayer(services, REPO), await storeLayer(services, REPO), await storeLayer(services, REPO)];
      const k0 = imageKey('sha256:' + 'a'.repeat(64));
      const records: ExportRecord[] = [
        { key: k0, layers: [l1!], createdAt: '2026-12-01T00:00:00Z' },
        { key: 'sha256:' + '1'.repeat(64), parent: k0, layers: [l1!, l2!], createdAt: '2026-12-02T00:00:00Z' },
        // a step that changed nothing: the same chain as its parent
        { key: 'sha256:' + '2'.repeat(64), parent: 'sha256:' + '1'.repeat(64), layers: [l1!, l2!], createdAt: '2026-12-02T00:00:01Z' },
        { key: 'sha256:' + '3'.repeat(64), parent: 'sha256:' + '2'.repeat(64), layers: [l1!, l2!, l3!], createdAt: '2026-12-02T00:00:02Z' },
        // a scratch stage's config-only start: a record without results
        { key: SCRATCH_KEY, layers: [], createdAt: '2026-12-02T00:00:00Z' },
      ];
      const { exported } = await exportCache(records, 'cache');
      const parsed = parseCacheConfig(exported.config);
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
      assert.equal(parsed.config.records.length, 5);
      for (const layer of JSON.parse(exported.manifest.toString()).layers) {
        assert.ok(layer.annotations['buildkit/createdat']);
        assert.match(layer.annotations['containerd.io/uncompressed'], /^sha256:/);
      }
      // the same records give the same bytes (BuildKit's normal form)
      assert.deepEqual(buildCacheExport([...records].reverse(), '2026-12-03T00:00:00Z')?.manifest, exported.manifest);

      const repositoryId = (await services.registry.repositories.find(REPO))!;
      const entry = await services.db.metadata.stores.caches.findByTag(repositoryId, 'cache');
      assert.ok(entry);
      assert.equal(entry.parsed, true);
      assert.equal(entry.format, 'image-manifest');
      assert.deepEqual(entry.warnings, []);
      assert.equal(entry.record_count, 5);

      const tags = await services.host.cacheTags(REPO, 'feature/x');
      assert.deepEqual(tags, ['cache-feature-x', 'cache']);
      const keys = ['1', '2', '3', 'f'].map((c) => 'sha256:' + c.repeat(64));
      const hits = await services.host.lookupCache(REPO, tags, keys);
      assert.equal(hits.size, 3);
      const top = hits.get(keys[2]!)!;
      assert.equal(top.tag, 'cache');
      assert.deepEqual(top.layers.map((l) => l.digest), [l1!.digest, l2!.digest, l3!.digest]);
      assert.deepEqual(top.layers.map((l) => l.diffId), [l1!.diffId, l2!.diffId, l3!.diffId]);
      assert.deepEqual(top.layers.map((l) => l.size), [l1!.size, l2!.size, l3!.size]);
      assert.deepEqual(hits.get(keys[1]!)!.layers.map((l) => l.digest), [l1!.digest, l2!.digest]);
      assert.equal(hits.has(keys[3]!), false);

      // The branch's own cache comes first once it exists.
      const l4 = await storeLayer(services, REPO);
      await exportCache([{ key: keys[2]!, layers: [l4], createdAt: '2026-12-03T00:00:00Z' }], 'cache-feature-x');
      const again = await services.host.lookupCache(REPO, tags, keys);
      assert.equal(again.get(keys[2]!)!.tag, 'cache-feature-x');
      assert.deepEqual(again.get(keys[2]!)!.layers.map((l) => l.digest), [l4.digest]);
      assert.equal(again.get(keys[1]!)!.tag, 'cache');
    });

    it('looks records up through cache_records_digest_idx', async () => {
      const repositoryId = (await services.registry.repositories.find(REPO))!;
      const entry = (await services.db.metadata.stores.caches.findByTag(repositoryId, 'cache'))!;
      const db = services.db.metadata.db;
      // Enough other records that a sequential scan is not the cheap way for the planner.
      await sql`INSERT INTO cache_records (cache_id, position, digest, results, chains, inputs)
                SELECT ${entry.id}, 1000 + g, 'sha256:' || md5(g::text) || md5((g + 1)::text), '[]', '[]', '[]'
                FROM generate_series(1, 20000) AS g`.execute(db);
      await sql`ANALYZE cache_records`.execute(db);
      const { rows } = await sql<{ 'QUERY PLAN': string }>`EXPLAIN ${findRecordsStatement(repositoryId, ['cache'], ['sha256:' + '1'.repeat(64)])}`.execute(db);
      const plan = rows.map((r) => Object.values(r)[0]).join('\n');
      assert.match(plan, /cache_records_digest_idx/, plan);
      const started = performance.now();
      const hits = await services.host.lookupCache(REPO, ['cache'], ['sha256:' + '1'.repeat(64), 'sha256:' + '3'.repeat(64)]);
      const ms = performance.now() - started;
      assert.equal(hits.size, 2);
      console.log(`# [${kind}] lookup of 2 keys among 20,005 records: ${ms.toFixed(1)} ms`);
    });

    it('keeps step inputs by position for the cache report', async () => {
      const first: StepInputs = { instruction: 'COPY src/ ./src/', args: {}, parent: 'p', files: [['src/a.txt', 'sha256:1'], ['src/b.txt', 'sha256:2']] };
      await services.host.saveSteps(REPO, [{ key: 'k1', position: 'build#0', inputs: { ...first } }]);
      await services.host.saveSteps(REPO, [{ key: 'k1', position: 'build#0', inputs: { ...first, instruction: 'ignored: first writer wins' } }]);
      const [found] = await services.host.latestSteps(REPO, ['build#0', 'build#9']).then((r) => r.filter((x) => x.position === 'build#0'));
      assert.ok(found);
      assert.equal(found.key, 'k1');
      const now: StepInputs = { ...first, files: [['src/a.txt', 'sha256:1'], ['src/b.txt', 'sha256:changed']] };
      assert.deepEqual(missReason(now, found.inputs as unknown as StepInputs), { kind: 'file', path: 'src/b.txt' });
    });

    it('refuses to link a blob whose bytes are not in the store', async () => {
      await assert.rejects(services.host.linkBlob(REPO, 'sha256:' + 'e'.repeat(64), 10), BlobNotFoundError);
    });
  });
}
