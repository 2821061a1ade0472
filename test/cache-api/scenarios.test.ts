/**
 * The BuildKit cache index as the REST API shows it, for every recorded scenario (test/fixtures/buildkit/),
 * on one server per database:
 *   - a-image-manifest replayed request by request (base image, export, import, change), the import count
 *     rising with each recorded import;
 *   - every other scenario's tagged manifests pushed with their blobs (h-overwrite step by step to one tag);
 *   - each cache checked against its own JSON: format, mode, counts, layers in document order with the
 *     parent index resolved (absent parent = 0), records and their result chains, records without results,
 *     sizes, unique and shared bytes, the diff of h-overwrite's deps and full caches;
 *   - imports by GET of a cacheconfig or an inline-cache image config (per repository, flushed in batches);
 *   - branches derived from tags, by default and by a custom pattern.
 * Expectations come from the raw fixture JSON (support.ts), not from src/cache.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadScenario } from '../buildkit/fixtures.js';
import { Replayer } from '../buildkit/replayer.js';
import { http } from '../support/http.js';
import { describeOnEachDatabase } from '../support/suite.js';
import {
  BUILDKIT_UA,
  api,
  apiJson,
  assertDetail,
  eventually,
  expectCache,
  expectedSharing,
  fixtureManifest,
  fixtureManifests,
  metricValue,
  metrics,
  pool,
  pushFixture,
  pushManifest,
  putSettings,
  type ExpectedCache,
  type FixtureManifest,
} from './support.js';

/** Export mode per scenario, from the recorded buildctl flags (context/README.md). */
const MODE: Record<string, string> = {
  'a-image-manifest': 'max',
  'b-index': 'max',
  'b0-default': 'max',
  'b2-docker-list': 'max',
  'c-min': 'min',
  'd-inline': 'min',
  'e-zstd': 'max',
  'e2-zstd-force': 'max',
  'g-two-refs:two-deps': 'max',
  'g-two-refs:two-final': 'min',
  'h-overwrite': 'max',
  'i-cross-repo:copied': 'max',
  'k-export-and-push': 'max',
};
const modeOf = (m: FixtureManifest) => MODE[`${m.scenario.split('/')[0]}:${m.tag}`] ?? MODE[m.scenario.split('/')[0]!];

const FORMAT: Record<string, string> = {
  'a-image-manifest': 'image-manifest',
  'b-index': 'index',
  'b0-default': 'image-manifest',
  'b2-docker-list': 'index',
  'c-min': 'image-manifest',
  'd-inline': 'inline',
  'e-zstd': 'image-manifest',
  'e2-zstd-force': 'image-manifest',
  'g-two-refs': 'image-manifest',
  'h-overwrite': 'image-manifest',
  'i-cross-repo': 'image-manifest',
  'k-export-and-push': 'image-manifest',
};

const SIMPLE = ['b-index', 'b0-default', 'b2-docker-list', 'c-min', 'd-inline', 'e-zstd', 'e2-zstd-force', 'g-two-refs', 'i-cross-repo', 'k-export-and-push'];

describeOnEachDatabase('cache API over every BuildKit scenario', (ctx) => {
  /** What each tag should hold now, by `repository:tag`. */
  const model = new Map<string, { fixture: FixtureManifest; want: ExpectedCache }>();
  const tagged = (repository: string) =>
    new Map([...model].filter(([k]) => k.startsWith(`${repository}:`)).map(([k, v]) => [k.slice(repository.length + 1), v.want]));
  const detail = (repository: string, tag: string) => apiJson(ctx.base, `/repositories/${repository}/caches/${tag}`);
  const checkTag = async (repository: string, tag: string) => {
    const entry = model.get(`${repository}:${tag}`)!;
    const d = await detail(repository, tag);
    assertDetail(d, entry.want, `${repository}:${tag} (${entry.fixture.scenario})`);
    assert.equal(d.mode, modeOf(entry.fixture), `${repository}:${tag}: mode`);
    assert.equal(d.format, FORMAT[entry.fixture.scenario.split('/')[0]!], `${repository}:${tag}: format`);
    assert.equal(d.tag, tag);
    assert.equal(d.repository, repository);
    return d;
  };
  const a = fixtureManifest('a-image-manifest');
  let importsBefore = 0;

  test('a-image-manifest: replayed export is indexed, with no imports yet', async () => {
    const replayer = new Replayer(ctx.base, pool());
    for (const r of loadScenario('base').steps.flatMap((s) => s.requests)) await replayer.replay(r, 'base/export');
    const scenario = loadScenario('a-image-manifest');
    for (const r of scenario.steps.find((s) => s.name === 'export')!.requests) await replayer.replay(r, 'a/export');
    model.set('app/cache:imgman', { fixture: a, want: expectCache(a.bytes) });
    const d = await checkTag('app/cache', 'imgman');
    assert.equal(d.importCount, 0);
    assert.equal(d.lastImportedAt, null);
    assert.equal(d.lastImporter, null);
    assert.equal(d.branch, null, 'imgman is not a branch tag');
    assert.ok(!Number.isNaN(Date.parse(d.pushedAt)), 'pushedAt is a date');
    // a-image-manifest has no absent parent; 5 of 13 records are keys only
    assert.equal(model.get('app/cache:imgman')!.want.recordsWithoutResults, 5);
    assert.equal(d.records.filter((r: { results: unknown[]; chains: unknown[] }) => r.results.length === 0 && r.chains.length === 0).length, 5);
    // The worked example of context/README.md: rec 12's result is layer 7 with its chain 3 → 1 → 2 → 6 → 4 → 5.
    const layers: string[] = d.layers.map((l: { digest: string }) => l.digest);
    const rec12 = d.records[12];
    assert.deepEqual(rec12.results, [[5, 4, 6, 2, 1, 3, 7].map((i) => layers[i])], 'rec 12 chain, base first');
    importsBefore = metricValue(await metrics(ctx.base), 'cairn_cache_imports_total', { repository: 'app/cache' }) ?? 0;
  });

  test('a-image-manifest: the recorded import and change runs count as two imports by buildkit', async () => {
    const replayer = new Replayer(ctx.base, pool());
    const scenario = loadScenario('a-image-manifest');
    const started = Date.now();
    for (const step of ['import', 'change']) {
      for (const r of scenario.steps.find((s) => s.name === step)!.requests) await replayer.replay(r, `a/${step}`);
    }
    const d = await eventually(async () => {
      const got = await detail('app/cache', 'imgman');
      assert.equal(got.importCount, 2, 'importCount after import + change (flushed within ~5 s)');
      return got;
    });
    assert.equal(d.lastImporter, BUILDKIT_UA);
    const at = Date.parse(d.lastImportedAt);
    assert.ok(at >= started - 1000 && at <= Date.now() + 1000, `lastImportedAt ${d.lastImportedAt}`);
    const text = await metrics(ctx.base);
    assert.equal(metricValue(text, 'cairn_cache_imports_total', { repository: 'app/cache' }), importsBefore + 2);
    assert.equal(metricValue(text, 'cairn_cache_pushes_total', { repository: 'app/cache', format: 'image-manifest' }), 1);
  });

  test('every other scenario: pushed with its blobs, each tag indexed exactly as its cacheconfig says', async () => {
    for (const scenario of SIMPLE) {
      for (const m of fixtureManifests(scenario)) {
        await pushFixture(ctx.base, m);
        if (m.repository === 'other/image') continue; // an image pushed from cache: not a cache itself
        model.set(`${m.repository}:${m.tag}`, { fixture: m, want: expectCache(m.bytes) });
      }
    }
    for (const key of model.keys()) {
      const [repository, tag] = key.split(':') as [string, string];
      await checkTag(repository, tag);
    }
  });

  test('k-export-and-push: a record key that is not a digest is indexed like any other', async () => {
    // BuildKit wrote records[0] as {"digest":"hzlv04bns7udz5fz7ypvi2189"} (export cache + push image in one build).
    const opaque = 'hzlv04bns7udz5fz7ypvi2189';
    const d = await checkTag('k/app', 'cache-main');
    assert.equal(d.parsed, true);
    assert.equal(d.records.length, 14);
    assert.equal(d.layers.length, 9);
    assert.deepEqual(d.records[0], { digest: opaque, results: [], chains: [], inputs: [] });
    const linking = d.records.flatMap((r: { inputs: Array<Array<{ record: string }>> }, i: number) =>
      r.inputs.some((alts) => alts.some((a) => a.record === opaque)) ? [i] : []);
    assert.deepEqual(linking, [9, 12], 'records 9 and 12 take the opaque key as an input');
    assert.ok(d.totalBytes > 1_000_000, `every layer counted, the base layer included: ${d.totalBytes}`);
    assert.ok(d.records.some((r: { results: unknown[] }) => r.results.length > 0), 'results resolved to layer chains');
  });

  test('the parent-index trap: an absent parent is layer 0, -1 is a base layer', async () => {
    for (const [repository, tag] of [['app/cache', 'min'], ['app/cache', 'index'], ['app/cache', 'two-deps']] as const) {
      const want = model.get(`${repository}:${tag}`)!.want;
      assert.ok(want.absentParents >= 1, `${tag}: the fixture has an absent parent`);
      const d = await detail(repository, tag);
      const raw = JSON.parse(pool().get(want.configDigest.slice(7))!.toString('utf8')) as { layers: Array<{ parent?: number }> };
      raw.layers.forEach((l, i) => assert.equal(d.layers[i].parent, l.parent === undefined ? 0 : l.parent, `${tag}: layers[${i}].parent`));
      assert.ok(d.layers.some((l: { parent: number }) => l.parent === -1), `${tag}: a base layer`);
      // Every result chain starts at a base layer (parent -1), so the trap did not cut a chain short.
      const base = new Set(d.layers.filter((l: { parent: number }) => l.parent === -1).map((l: { digest: string }) => l.digest));
      for (const r of d.records) for (const chain of r.results) assert.ok(base.has(chain[0]), `${tag}: ${r.digest} chain starts at a base layer`);
    }
    // c-min: 13 records, only 2 with results (WORKDIR /srv/app and COPY --from); 11 keys only.
    const min = await detail('app/cache', 'min');
    assert.equal(min.records.length, 13);
    assert.equal(min.records.filter((r: { results: unknown[] }) => r.results.length > 0).length, 2);
    assert.equal(model.get('app/cache:min')!.want.recordsWithoutResults, 11);
  });

  test('inline cache: layers are the image layers chained in order, createdAt from history', async () => {
    const d = await detail('app/image', 'inline');
    assert.equal(d.format, 'inline');
    assert.equal(d.mode, 'min');
    assert.deepEqual(d.layers.map((l: { parent: number }) => l.parent), [-1, 0, 1]);
    assert.ok(d.layers.every((l: { createdAt: string | null }) => l.createdAt !== null), 'createdAt from the image history');
    const image = fixtureManifest('d-inline');
    assert.equal(d.totalBytes, expectCache(image.bytes).totalBytes);
  });

  test('h-overwrite: each export to one tag replaces the indexed cache; deps vs full diff', async () => {
    const steps = [1, 2, 3].map((n) => fixtureManifest(`h-overwrite/after-step${n}`));
    for (const step of steps) {
      await pushFixture(ctx.base, step);
      model.set('app/cache:overwrite', { fixture: step, want: expectCache(step.bytes) });
      const d = await checkTag('app/cache', 'overwrite');
      assert.equal(d.manifestDigest, step.digest, `${step.scenario}: the tag follows the last push`);
    }
    const [deps, full] = steps as [FixtureManifest, FixtureManifest];
    await pushFixture(ctx.base, deps, 'app/cache', 'overwrite-deps');
    await pushFixture(ctx.base, full, 'app/cache', 'overwrite-full');
    model.set('app/cache:overwrite-deps', { fixture: deps, want: expectCache(deps.bytes) });
    model.set('app/cache:overwrite-full', { fixture: full, want: expectCache(full.bytes) });
    await checkTag('app/cache', 'overwrite-deps');
    await checkTag('app/cache', 'overwrite-full');

    const wa = expectCache(deps.bytes);
    const wb = expectCache(full.bytes);
    const only = (x: string[], y: string[]) => [...new Set(x)].filter((d) => !y.includes(d)).sort();
    const recA = wa.recordRows.map((r) => r.digest);
    const recB = wb.recordRows.map((r) => r.digest);
    const layA = wa.layerRows.map((l) => l.digest);
    const layB = wb.layerRows.map((l) => l.digest);
    const size = (d: string) => wa.layerSizes.get(d) ?? wb.layerSizes.get(d) ?? 0;
    const sum = (ds: string[]) => ds.reduce((s, d) => s + size(d), 0);
    const diff = await apiJson(ctx.base, '/repositories/app/cache/caches/overwrite-deps/diff/overwrite-full');
    assert.equal(diff.a, 'overwrite-deps');
    assert.equal(diff.b, 'overwrite-full');
    assert.deepEqual(diff.records.onlyInA, only(recA, recB));
    assert.deepEqual(diff.records.onlyInB, only(recB, recA));
    assert.equal(diff.records.common, new Set(recA.filter((d) => recB.includes(d))).size);
    assert.deepEqual(diff.layers.onlyInA, only(layA, layB));
    assert.deepEqual(diff.layers.onlyInB, only(layB, layA));
    assert.equal(diff.layers.common, new Set(layA.filter((d) => layB.includes(d))).size);
    assert.deepEqual(diff.bytes, {
      onlyInA: sum(only(layA, layB)),
      onlyInB: sum(only(layB, layA)),
      common: sum([...new Set(layA.filter((d) => layB.includes(d)))]),
    });
    // The point of the scenario: the full build's stages are missing from the deps cache.
    assert.ok(diff.records.onlyInB.length >= 6, `records only in the full cache: ${diff.records.onlyInB.length}`);
    assert.ok(diff.bytes.onlyInB > 0);
    // Reversed, the sides swap.
    const back = await apiJson(ctx.base, '/repositories/app/cache/caches/overwrite-full/diff/overwrite-deps');
    assert.deepEqual(back.records.onlyInA, diff.records.onlyInB);
    assert.deepEqual(back.bytes.onlyInB, diff.bytes.onlyInA);
    // A cache against itself: nothing only on one side.
    const self = await apiJson(ctx.base, '/repositories/app/cache/caches/overwrite-full/diff/overwrite-full');
    assert.deepEqual([self.records.onlyInA, self.records.onlyInB, self.layers.onlyInA, self.layers.onlyInB], [[], [], [], []]);
    assert.equal(self.records.common, wb.records);
    assert.equal((await api(ctx.base, '/repositories/app/cache/caches/overwrite-deps/diff/no-such-tag')).status, 404);
  });

  test('unique and shared bytes between the caches of one repository', async () => {
    const caches = tagged('app/cache');
    const { unique, shared } = expectedSharing(caches);
    const list = await apiJson(ctx.base, '/repositories/app/cache/caches');
    assert.equal(list.repository, 'app/cache');
    assert.deepEqual(list.caches.map((c: { tag: string }) => c.tag), [...caches.keys()].sort(), 'every tagged cache, sorted by tag');
    for (const c of list.caches) {
      const want = caches.get(c.tag)!;
      assert.equal(c.uniqueBytes, unique(want), `${c.tag}: uniqueBytes`);
      assert.equal(c.totalBytes, want.totalBytes, `${c.tag}: totalBytes`);
      assert.equal(c.records, want.records, `${c.tag}: records`);
      assert.equal(c.layers, want.layers, `${c.tag}: layers`);
      assert.equal(c.format, want.format, `${c.tag}: format`);
    }
    // Detail: bytes shared with every other tag of the repository.
    for (const tag of ['two-deps', 'two-final', 'overwrite-full']) {
      const d = await detail('app/cache', tag);
      const mine = caches.get(tag)!;
      const others = [...caches].filter(([t, w]) => t !== tag && w.manifestDigest !== mine.manifestDigest);
      assert.deepEqual(
        [...d.sharedWith].sort((x: { tag: string }, y: { tag: string }) => x.tag.localeCompare(y.tag)),
        others.map(([t, w]) => ({ tag: t, ...shared(mine, w) })).sort((x, y) => x.tag.localeCompare(y.tag)),
        `${tag}: sharedWith`,
      );
      assert.equal(d.uniqueBytes, unique(mine), `${tag}: uniqueBytes in detail`);
    }
    // g-two-refs on its own: the deps cache and the min cache share the base layer and nothing else that
    // adds up to the whole of either.
    const deps = caches.get('two-deps')!;
    const final = caches.get('two-final')!;
    const pair = shared(deps, final);
    assert.ok(pair.layers >= 1, 'two-deps and two-final share at least the base layer');
    const depsBytes = [...deps.layerSizes.values()].reduce((s, n) => s + n, 0);
    assert.ok(pair.bytes < depsBytes);
  });

  test('registry-wide list: caches of every repository, images that are not caches left out', async () => {
    const all = await apiJson(ctx.base, '/caches');
    const keys = all.caches.map((c: { repository: string; tag: string }) => `${c.repository}:${c.tag}`).sort();
    assert.deepEqual(keys, [...model.keys()].sort());
    assert.ok(!keys.some((k: string) => k.startsWith('base/busybox') || k.startsWith('other/image')));
    for (const c of all.caches) assert.equal(c.totalBytes, model.get(`${c.repository}:${c.tag}`)!.want.totalBytes, `${c.repository}:${c.tag}`);
    const other = await apiJson(ctx.base, '/repositories/other/cache/caches');
    assert.deepEqual(other.caches.map((c: { tag: string }) => c.tag), ['copied']);
    // Not found: a tag that is not a cache, an unknown tag, an unknown repository.
    assert.equal((await api(ctx.base, '/repositories/other/image/caches/fromcache')).status, 404);
    assert.equal((await api(ctx.base, '/repositories/app/cache/caches/nope')).status, 404);
    assert.equal((await api(ctx.base, '/repositories/no/such/caches')).status, 404);
    assert.deepEqual((await apiJson(ctx.base, '/repositories/other/image/caches')).caches, []);
    // The routes are in the OpenAPI document.
    const paths = Object.keys((await apiJson(ctx.base, '/openapi.json')).paths);
    for (const path of ['/api/v1/caches', '/api/v1/repositories/{name}/caches', '/api/v1/repositories/{name}/caches/{tag}', '/api/v1/repositories/{name}/caches/{tag}/diff/{other}', '/api/v1/repositories/{name}/cache-settings']) {
      assert.ok(paths.includes(path), `OpenAPI documents ${path}`);
    }
  });

  test('imports: a GET of a cacheconfig or inline image config counts, per repository; layers and HEADs do not', async () => {
    const ua = 'buildkit/v0.24 (manual import)';
    const get = async (repository: string, digest: string, method = 'GET') => {
      const response = await http(method, `${ctx.base}/v2/${repository}/blobs/${digest}`, { headers: { 'user-agent': ua } });
      assert.equal(response.status, 200, `${method} ${repository}@${digest}`);
    };
    const before = {
      index: await detail('app/cache', 'index'),
      inline: await detail('app/image', 'inline'),
      copied: await detail('other/cache', 'copied'),
      imgman: await detail('app/cache', 'imgman'),
      min: await detail('app/cache', 'min'),
    };
    for (const d of Object.values(before)) {
      if (d !== before.imgman) assert.equal(d.importCount, 0, `${d.tag}: no imports yet`);
    }
    // imgman and copied share one cacheconfig (i-cross-repo re-exported imgman's cache): only the repository
    // fetched from counts.
    assert.equal(before.copied.configDigest, before.imgman.configDigest);
    await get('app/cache', before.index.configDigest);
    await get('app/cache', before.index.configDigest);
    await get('app/image', before.inline.configDigest);
    await get('other/cache', before.copied.configDigest);
    await get('app/cache', before.min.configDigest, 'HEAD');
    await get('app/cache', before.min.layers[0].digest);
    const after = await eventually(async () => {
      const now = {
        index: await detail('app/cache', 'index'),
        inline: await detail('app/image', 'inline'),
        copied: await detail('other/cache', 'copied'),
      };
      assert.equal(now.index.importCount, 2, 'index: two GETs');
      assert.equal(now.inline.importCount, 1, 'inline: image config GET');
      assert.equal(now.copied.importCount, 1, 'copied: one GET in other/cache');
      return now;
    });
    for (const d of Object.values(after)) {
      assert.equal(d.lastImporter, ua, `${d.tag}: lastImporter`);
      assert.ok(Date.parse(d.lastImportedAt) > Date.parse(before.imgman.lastImportedAt), `${d.tag}: lastImportedAt moved`);
    }
    const imgman = await detail('app/cache', 'imgman');
    assert.equal(imgman.importCount, before.imgman.importCount, 'imgman unchanged by the GET in other/cache');
    const min = await detail('app/cache', 'min');
    assert.equal(min.importCount, 0, 'HEAD of the cacheconfig and GET of a layer are not imports');
    assert.equal(min.lastImportedAt, null);
    // The list shows the same numbers.
    const listed = (await apiJson(ctx.base, '/repositories/app/cache/caches')).caches.find((c: { tag: string }) => c.tag === 'index');
    assert.equal(listed.importCount, 2);
    assert.equal(listed.lastImporter, ua);
    const text = await metrics(ctx.base);
    assert.equal(metricValue(text, 'cairn_cache_imports_total', { repository: 'app/image' }), 1);
    assert.equal(metricValue(text, 'cairn_cache_imports_total', { repository: 'other/cache' }), 1);
  });

  test('branches: default patterns, then a custom pattern through cache-settings', async () => {
    const small = fixtureManifest('c-min');
    const tags = {
      cache: 'default',
      'cache-main': 'main',
      'feature-x-cache': 'feature-x',
      'buildcache-release': 'release',
      'cache_release-1.2': 'release-1.2',
      'main-buildcache': 'main',
      latest: null,
      'ci-main-42': null,
    } as Record<string, string | null>;
    for (const tag of Object.keys(tags)) await pushManifest(ctx.base, 'branches/app', tag, small.bytes, small.mediaType);
    const branches = async () =>
      Object.fromEntries((await apiJson(ctx.base, '/repositories/branches/app/caches')).caches.map((c: { tag: string; branch: string | null }) => [c.tag, c.branch]));
    assert.deepEqual(await branches(), tags);
    assert.equal((await detail('branches/app', 'feature-x-cache')).branch, 'feature-x');
    const fresh = await apiJson(ctx.base, '/repositories/branches/app/cache-settings');
    assert.deepEqual(fresh, { branchPattern: null, mergeTags: [], fallbackTags: [] });

    const pattern = '^ci-(?<branch>[a-z]+)-\\d+$';
    const put = await putSettings(ctx.base, 'branches/app', { branchPattern: pattern, mergeTags: [], fallbackTags: [] });
    assert.equal(put.status, 200, put.text());
    assert.deepEqual(await apiJson(ctx.base, '/repositories/branches/app/cache-settings'), { branchPattern: pattern, mergeTags: [], fallbackTags: [] });
    const custom = await branches();
    assert.equal(custom['ci-main-42'], 'main');
    assert.equal(custom['cache-main'], null, 'a custom pattern replaces the defaults');
    assert.equal((await apiJson(ctx.base, '/caches')).caches.find((c: { repository: string; tag: string }) => c.repository === 'branches/app' && c.tag === 'ci-main-42').branch, 'main');
    // Other repositories keep the defaults.
    assert.equal((await detail('app/cache', 'imgman')).branch, null);

    for (const bad of ['^ci-(.+)$', '(?<branch>[', 'x'.repeat(201), '^ci-(?<branch>(a+)+)$', '^(?<branch>(\\w|\\d)*)*-cache$']) {
      const response = await putSettings(ctx.base, 'branches/app', { branchPattern: bad, mergeTags: [], fallbackTags: [] });
      assert.equal(response.status, 400, `pattern ${bad.slice(0, 20)}: ${response.text()}`);
    }
    assert.equal((await putSettings(ctx.base, 'branches/app', { branchPattern: pattern })).status, 400, 'missing fields');
    assert.equal((await apiJson(ctx.base, '/repositories/branches/app/cache-settings')).branchPattern, pattern, 'refused PUTs change nothing');
    // Back to the defaults.
    assert.equal((await putSettings(ctx.base, 'branches/app', { branchPattern: null, mergeTags: [], fallbackTags: [] })).status, 200);
    assert.deepEqual(await branches(), tags);
  });
  test('deleting a tag or a manifest takes its cache out of the API; shared bytes follow', async () => {
    const del = async (repository: string, reference: string) => {
      const response = await http('DELETE', `${ctx.base}/v2/${repository}/manifests/${reference}`);
      assert.equal(response.status, 202, `DELETE ${repository}:${reference}: ${response.status} ${response.text()}`);
    };
    await del('app/cache', 'overwrite-full');
    model.delete('app/cache:overwrite-full');
    assert.equal((await api(ctx.base, '/repositories/app/cache/caches/overwrite-full')).status, 404);
    const caches = tagged('app/cache');
    const { unique } = expectedSharing(caches);
    const list = await apiJson(ctx.base, '/repositories/app/cache/caches');
    assert.deepEqual(list.caches.map((c: { tag: string }) => c.tag), [...caches.keys()].sort());
    for (const c of list.caches) assert.equal(c.uniqueBytes, unique(caches.get(c.tag)!), `${c.tag}: uniqueBytes after the delete`);
    // The whole manifest (with its eight branch tags) by digest: the index entry goes with it.
    await del('branches/app', fixtureManifest('c-min').digest);
    assert.deepEqual((await apiJson(ctx.base, '/repositories/branches/app/caches')).caches, []);
    assert.ok(!(await apiJson(ctx.base, '/caches')).caches.some((c: { repository: string }) => c.repository === 'branches/app'));
  });
});
