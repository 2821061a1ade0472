// Listing workloads (issue 12): the full tag list beside the reference, a page-by-page walk of a
// 100,000-tag list against a page of a 1,000-tag list, and a catalog walk.
//
// The reference ignores `n` on tags/list (every answer is the whole list), so the tag walk is
// Cairn's alone: its rows compare a page of a large list with a page of a small one, which is
// what "a page costs O(n + log N)" predicts to be close. Tags are pushed as a real client does:
// one manifest, PUT under each tag name.
import { sha256, smallBlob } from './blobgen.mjs';
import { OCI_MANIFEST } from './client.mjs';
import { median, runConcurrent, timed } from './measure.mjs';

const higher = (key, label, unit, cpuUnit) => ({ key, label, unit, better: 'higher', cpuUnit });
const lower = (key, label, unit) => ({ key, label, unit, better: 'lower' });

/** Pushes a config and a layer, returning a manifest over them (setup, untimed). */
async function baseManifest(client, repo, seed) {
  const configBytes = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, seed }));
  const layerBytes = smallBlob(`${seed}-layer`, 4096);
  for (const data of [configBytes, layerBytes]) await client.pushBlob(repo, sha256(data), data, data.length);
  const config = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(configBytes), size: configBytes.length };
  const layer = { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layerBytes), size: layerBytes.length };
  return { config, layer, json: JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] }) };
}

/** Tag names as CI makes them: commit shas and versions, in no particular order. */
function tagNames(count, seed) {
  return Array.from({ length: count }, (_, i) => (i % 4 === 0 ? `v1.${i / 4}` : `sha-${sha256(Buffer.from(`${seed}-${i}`)).slice(7, 23)}`));
}

/** PUTs the manifest under every tag (setup, untimed; no time cap: the list must be whole). */
async function tagAll(client, repo, manifestJson, tags, concurrency) {
  await runConcurrent({ count: tags.length, concurrency, maxMs: Infinity, fn: (i) => client.putManifest(repo, tags[i], manifestJson) });
}

/** GET one page; returns its tags and the next page's path (from the Link header), if any. */
async function getPage(client, path) {
  const res = await client.call('GET', path, { read: 'text' });
  const link = res.headers.link;
  const next = typeof link === 'string' ? /^<([^>]+)>;\s*rel="next"/.exec(link)?.[1] : undefined;
  const body = JSON.parse(res.text);
  return { tags: body.tags ?? body.repositories, next: next && client.pathOf(next) };
}

/** Follows Link headers from `path` to the end; returns every entry. */
async function walk(client, path, onPage) {
  const all = [];
  let next = path;
  while (next) {
    const t0 = performance.now();
    const page = await getPage(client, next);
    onPage?.(performance.now() - t0);
    all.push(...page.tags);
    next = page.next;
  }
  return all;
}

/** Median milliseconds of `reps` sequential calls (after two warm-up calls). */
async function medianMs(reps, maxMs, fn) {
  await fn();
  await fn();
  const samples = [];
  const deadline = performance.now() + maxMs;
  for (let i = 0; i < reps && performance.now() < deadline; i++) samples.push((await timed(fn)).ms);
  return { ms: median(samples), count: samples.length, timedOut: samples.length < reps };
}

export const tagsFull = {
  id: 'tags-full',
  metrics: [higher('rate', 'full tag list', 'lists/s', 'list'), lower('p50ms', 'full tag list, median', 'ms')],
  async run(client, ctx, cfg) {
    const repo = `${ctx.ns}/tags-full`;
    const { json } = await baseManifest(client, repo, `${cfg.runId}-full`);
    const tags = tagNames(cfg.fullTags, `${cfg.runId}-full`);
    await tagAll(client, repo, json, tags, cfg.manifestConcurrency);
    const path = `/v2/${repo}/tags/list`;
    const got = await walk(client, path);
    if (got.length !== tags.length) throw new Error(`tags/list returned ${got.length} tags, pushed ${tags.length}`);
    const before = ctx.cpu();
    const s = await medianMs(cfg.listReps, cfg.maxMs, () => walk(client, path));
    const cpuMs = before === undefined ? undefined : (ctx.cpu() - before) * 1000;
    return {
      rate: 1000 / s.ms, p50ms: s.ms, count: s.count, tags: tags.length, timedOut: s.timedOut,
      cpu: { rate: cpuMs === undefined ? undefined : cpuMs / (s.count + 2) },
    };
  },
};

export const tagsWalk = {
  id: 'tags-walk',
  metrics: [
    lower('smallPageMs', 'tag page (n=100) of a 1,000-tag list', 'ms'),
    lower('firstPageMs', 'tag page (n=100), first of the big list', 'ms'),
    lower('latePageMs', 'tag page (n=100), late in the big list', 'ms'),
    lower('walkPageMs', 'tag page (n=100), mean over a walk of it', 'ms'),
    lower('lateOverSmall', 'late page / 1,000-tag page (target <= 2)', 'x'),
  ],
  async run(client, ctx, cfg) {
    if (ctx.label === 'reference') return { note: 'the reference ignores n: no pages to walk' };
    const small = `${ctx.ns}/tags-small`;
    let big = `${ctx.ns}/tags-big`;
    const smallBase = await baseManifest(client, small, `${cfg.runId}-small`);
    const bigBase = cfg.walkRepository ? undefined : await baseManifest(client, big, `${cfg.runId}-big`);
    const smallTags = tagNames(1_000, `${cfg.runId}-small`);
    const t0 = performance.now();
    await tagAll(client, small, smallBase.json, smallTags, cfg.manifestConcurrency);
    // A repository seeded beforehand (bench/scale's generator: 100,000 tags in seconds where PUTs
    // take many minutes) is read as it is; otherwise the big list is PUT like the small one.
    let bigTags;
    if (cfg.walkRepository) {
      big = cfg.walkRepository;
      bigTags = await walk(client, `/v2/${big}/tags/list?n=10000`);
    } else {
      bigTags = tagNames(cfg.walkTags, `${cfg.runId}-big`);
      await tagAll(client, big, bigBase.json, bigTags, cfg.manifestConcurrency);
    }
    const setupSeconds = (performance.now() - t0) / 1000;
    // `last` for a late page: 150 tags before the end, in byte order (JS sorts ASCII so).
    const sorted = [...bigTags].sort();
    const page = (repo, last) => () => getPage(client, `/v2/${repo}/tags/list?n=${cfg.pageSize}${last ? `&last=${encodeURIComponent(last)}` : ''}`);
    const smallPage = await medianMs(cfg.pageReps, cfg.maxMs, page(small, smallTags.slice().sort()[500]));
    const firstPage = await medianMs(cfg.pageReps, cfg.maxMs, page(big));
    const latePage = await medianMs(cfg.pageReps, cfg.maxMs, page(big, sorted[sorted.length - 150]));
    const pageTimes = [];
    const walked = await walk(client, `/v2/${big}/tags/list?n=${cfg.pageSize}`, (ms) => pageTimes.push(ms));
    if (walked.length !== bigTags.length) throw new Error(`walk returned ${walked.length} tags, pushed ${bigTags.length}`);
    if (walked.some((tag, i) => tag !== sorted[i])) throw new Error('walk is not in byte order');
    return {
      smallPageMs: smallPage.ms,
      firstPageMs: firstPage.ms,
      latePageMs: latePage.ms,
      walkPageMs: pageTimes.reduce((a, b) => a + b, 0) / pageTimes.length,
      lateOverSmall: latePage.ms / smallPage.ms,
      pages: pageTimes.length,
      tags: bigTags.length,
      setupSeconds,
      timedOut: smallPage.timedOut || firstPage.timedOut || latePage.timedOut,
    };
  },
};

export const catalogWalk = {
  id: 'catalog-walk',
  metrics: [
    lower('walkSeconds', 'catalog walk (n=100)', 's'),
    lower('pageMs', 'catalog page (n=100), median over the walk', 'ms'),
  ],
  async run(client, ctx, cfg) {
    // Repositories appear in the catalog once they hold a manifest: mount the blobs, PUT it.
    const source = `${ctx.ns}/catalog-source`;
    const base = await baseManifest(client, source, `${cfg.runId}-catalog`);
    const mount = (repo, digest) =>
      client.call('POST', `/v2/${repo}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(source)}`, { expect: [201] });
    await runConcurrent({
      count: cfg.catalogRepos,
      concurrency: cfg.manifestConcurrency,
      maxMs: Infinity,
      fn: async (i) => {
        const repo = `${ctx.ns}/catalog/team-${i % 50}/app-${i}`;
        await mount(repo, base.config.digest);
        await mount(repo, base.layer.digest);
        await client.putManifest(repo, 'latest', base.json);
      },
    });
    const walkOnce = async () => {
      const pageTimes = [];
      const t0 = performance.now();
      const names = await walk(client, `/v2/_catalog?n=${cfg.pageSize}`, (ms) => pageTimes.push(ms));
      return { names, seconds: (performance.now() - t0) / 1000, pageMs: median(pageTimes) };
    };
    const first = await walkOnce(); // warm-up, and the check
    const ours = first.names.filter((n) => n.startsWith(`${ctx.ns}/catalog/`));
    if (ours.length !== cfg.catalogRepos) throw new Error(`catalog listed ${ours.length} of ${cfg.catalogRepos} repositories`);
    const runs = [];
    for (let i = 0; i < cfg.catalogWalks; i++) runs.push(await walkOnce());
    return {
      walkSeconds: median(runs.map((r) => r.seconds)),
      pageMs: median(runs.map((r) => r.pageMs)),
      repositories: first.names.length,
    };
  },
};
