// The workloads. Each one sets up what it needs untimed, warms up briefly,
// then measures a bounded run. Metrics say which direction is better so the
// report can orient every ratio the same way (>1 means Cairn is better).
import { blobDigest, sha256, smallBlob } from './blobgen.mjs';
import { OCI_MANIFEST } from './client.mjs';
import { catalogWalk, tagsFull, tagsWalk } from './listings.mjs';
import { MiB, median, mibPerSec, runConcurrent, summarize, timed } from './measure.mjs';

// cpuUnit: the unit of work the server's CPU cost is reported per, when it is.
const higher = (key, label, unit, cpuUnit) => ({ key, label, unit, better: 'higher', cpuUnit });
const lower = (key, label, unit) => ({ key, label, unit, better: 'lower' });

const LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

/** Pushes bytes once (setup), returning their OCI descriptor. */
async function pushBytes(client, repo, data, mediaType) {
  const digest = sha256(data);
  await client.pushBlob(repo, digest, data, data.length);
  return { mediaType, digest, size: data.length };
}

/** Setup push of a 4 KiB generated layer. */
const pushLayer = (client, repo, seed) => pushBytes(client, repo, smallBlob(seed, 4096), LAYER);

/** Server CPU milliseconds `fn` cost; undefined for a registry the harness did not start. */
async function serverCpu(ctx, fn) {
  const before = ctx.cpu();
  const value = await fn();
  const after = ctx.cpu();
  return { value, cpuMs: before === undefined ? undefined : (after - before) * 1000 };
}

const perUnit = (cpuMs, units) => (cpuMs === undefined || !units ? undefined : cpuMs / units);

/** A measured concurrent loop: rate, latency percentiles and server CPU per operation. */
async function measureLoop(ctx, loop) {
  const { value, cpuMs } = await serverCpu(ctx, () => runConcurrent(loop));
  const s = summarize(value);
  return { ...s, cpuMsPerOp: perUnit(cpuMs, s.count) };
}

/** Pushes generated large blobs `reps` times with `push`, returning median MiB/s. */
async function largePushes(ctx, cfg, kind, push) {
  const bytes = cfg.largeMiB * MiB;
  const warm = `${cfg.runId}-${kind}-warm`;
  await push(warm, 8 * MiB, blobDigest(warm, 8 * MiB));
  const samples = [];
  const pushed = [];
  let cpuMs = 0;
  for (let rep = 0; rep < cfg.largeReps; rep++) {
    const seed = `${cfg.runId}-${kind}-${rep}`;
    const digest = blobDigest(seed, bytes); // first pass, untimed
    const { value: { ms }, cpuMs: repCpu } = await serverCpu(ctx, () => timed(() => push(seed, bytes, digest)));
    samples.push(mibPerSec(bytes, ms));
    pushed.push(digest);
    cpuMs = repCpu === undefined ? undefined : cpuMs + repCpu;
  }
  return { value: median(samples), samples, pushed, cpuMsPerMiB: perUnit(cpuMs, cfg.largeReps * cfg.largeMiB) };
}

const pushMonolithic = {
  id: 'push-mono',
  metrics: [higher('mibps', 'large blob push, monolithic', 'MiB/s', 'MiB')],
  async run(client, ctx, cfg) {
    const repo = `${ctx.ns}/large`;
    const r = await largePushes(ctx, cfg, 'mono', (seed, size, digest) =>
      client.pushGenerated(repo, seed, size, digest));
    ctx.largeBlobs = { repo, digests: r.pushed };
    return { mibps: r.value, samples: r.samples, cpu: { mibps: r.cpuMsPerMiB } };
  },
};

const pushChunked = {
  id: 'push-chunked',
  metrics: [higher('mibps', 'large blob push, chunked', 'MiB/s', 'MiB')],
  async run(client, ctx, cfg) {
    const repo = `${ctx.ns}/large`;
    const r = await largePushes(ctx, cfg, 'chunked', (seed, size, digest) =>
      client.pushChunked(repo, seed, size, digest, cfg.chunkMiB * MiB));
    return { mibps: r.value, samples: r.samples, chunkMiB: cfg.chunkMiB, cpu: { mibps: r.cpuMsPerMiB } };
  },
};

const pull = {
  id: 'pull',
  metrics: [higher('mibps', 'large blob pull', 'MiB/s', 'MiB')],
  async run(client, ctx, cfg) {
    const bytes = cfg.largeMiB * MiB;
    if (!ctx.largeBlobs) {
      // Run alone (--workloads pull): push the blob it needs, untimed.
      const seed = `${cfg.runId}-pull`;
      const digest = blobDigest(seed, bytes);
      ctx.largeBlobs = { repo: `${ctx.ns}/large`, digests: [digest] };
      await client.pushGenerated(ctx.largeBlobs.repo, seed, bytes, digest);
    }
    const { repo, digests } = ctx.largeBlobs;
    // One blob, read once first (and its bytes checked), then measured: both sides serve it from
    // the page cache. Several distinct blobs would not all stay cached on a machine whose cache
    // is reclaimed early (as here), and each side would lose to the disk at random.
    await client.pullBlob(repo, digests[0], { verify: true });
    const samples = [];
    const { cpuMs } = await serverCpu(ctx, async () => {
      for (let rep = 0; rep < cfg.largeReps; rep++) {
        const { value: got, ms } = await timed(() => client.pullBlob(repo, digests[0]));
        if (got !== bytes) throw new Error(`pull returned ${got} bytes, expected ${bytes}`);
        samples.push(mibPerSec(bytes, ms));
      }
    });
    return { mibps: median(samples), samples, cpu: { mibps: perUnit(cpuMs, cfg.largeReps * cfg.largeMiB) } };
  },
};

const blobHead = {
  id: 'blob-head',
  metrics: [
    higher('rps', 'blob HEAD', 'req/s', 'req'),
    lower('p50ms', 'blob HEAD p50', 'ms'),
    lower('p99ms', 'blob HEAD p99', 'ms'),
  ],
  async run(client, ctx, cfg) {
    const repo = `${ctx.ns}/head`;
    const blobs = [];
    for (let i = 0; i < 16; i++) blobs.push(await pushLayer(client, repo, `${cfg.runId}-head-${i}`));
    const head = (i) => client.headBlob(repo, blobs[i % blobs.length].digest);
    await runConcurrent({ count: cfg.warmup, concurrency: cfg.headConcurrency, maxMs: cfg.maxMs, fn: head });
    const s = await measureLoop(ctx, {
      count: cfg.headCount, concurrency: cfg.headConcurrency, maxMs: cfg.maxMs, fn: head,
    });
    return { rps: s.perSecond, p50ms: s.p50ms, p99ms: s.p99ms, count: s.count, timedOut: s.timedOut, cpu: { rps: s.cpuMsPerOp } };
  },
};

/** An OCI image manifest over `layers`; `annotations` make otherwise equal manifests distinct. */
function imageManifest(config, layers, annotations) {
  return JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers, annotations });
}

const manifests = {
  id: 'manifests',
  metrics: [higher('putRate', 'manifest PUT', 'req/s', 'req'), higher('getRate', 'manifest GET', 'req/s', 'req')],
  async run(client, ctx, cfg) {
    const repo = `${ctx.ns}/manifests`;
    const configJson = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
    const config = await pushBytes(client, repo, configJson, 'application/vnd.oci.image.config.v1+json');
    const layer = await pushLayer(client, repo, `${cfg.runId}-mlayer`);
    const body = (i) => imageManifest(config, [layer], { 'bench.index': String(i) });
    const put = (prefix) => (i) => client.putManifest(repo, `${prefix}${i}`, body(`${prefix}${i}`));

    await runConcurrent({ count: cfg.warmup / 10, concurrency: cfg.manifestConcurrency, maxMs: cfg.maxMs, fn: put('warm') });
    const puts = await measureLoop(ctx, {
      count: cfg.manifestPuts, concurrency: cfg.manifestConcurrency, maxMs: cfg.maxMs, fn: put('t'),
    });
    const get = (i) => client.getManifest(repo, `t${i % puts.count}`);
    await runConcurrent({ count: cfg.warmup, concurrency: cfg.headConcurrency, maxMs: cfg.maxMs, fn: get });
    const gets = await measureLoop(ctx, {
      count: cfg.manifestGets, concurrency: cfg.headConcurrency, maxMs: cfg.maxMs, fn: get,
    });
    return {
      putRate: puts.perSecond, getRate: gets.perSecond, put: puts, get: gets,
      timedOut: puts.timedOut || gets.timedOut, cpu: { putRate: puts.cpuMsPerOp, getRate: gets.cpuMsPerOp },
    };
  },
};

const smallBlobs = {
  id: 'small-blobs',
  metrics: [higher('rate', 'small blob push (4 KiB)', 'blobs/s', 'blob')],
  async run(client, ctx, cfg) {
    const repo = `${ctx.ns}/small`;
    // Content made up front so the timed loop measures the registry, not the PRNG.
    const make = (prefix, n) => Array.from({ length: n }, (_, i) => smallBlob(`${cfg.runId}-${prefix}-${i}`, 4096));
    const pushOne = (blobs) => (i) => client.pushBlob(repo, sha256(blobs[i]), blobs[i], blobs[i].length);
    const warm = make('swarm', cfg.warmup / 10);
    await runConcurrent({ count: warm.length, concurrency: cfg.smallConcurrency, maxMs: cfg.maxMs, fn: pushOne(warm) });
    const blobs = make('small', cfg.smallCount);
    const s = await measureLoop(ctx, {
      count: blobs.length, concurrency: cfg.smallConcurrency, maxMs: cfg.maxMs, fn: pushOne(blobs),
    });
    return { rate: s.perSecond, ...s, cpu: { rate: s.cpuMsPerOp } };
  },
};

/**
 * BuildKit's registry cache import (`--cache-from type=registry`): resolve the
 * tag, fetch the manifest by digest, fetch the cache config, then check every
 * layer blob exists. The manifest uses the cacheconfig media type BuildKit
 * writes with image-manifest=true.
 */
const cacheImport = {
  id: 'cache-import',
  metrics: [higher('rate', 'BuildKit cache import (50 layers)', 'imports/s', 'import')],
  async run(client, ctx, cfg) {
    const repo = `${ctx.ns}/cache`;
    const layers = [];
    for (let i = 0; i < cfg.cacheLayers; i++) {
      layers.push(await pushLayer(client, repo, `${cfg.runId}-cl-${i}`));
    }
    const cacheConfig = Buffer.from(JSON.stringify({
      layers: layers.map((l, i) => ({ blob: l.digest, parent: i - 1 })),
      records: layers.map((_, i) => ({ digest: sha256(Buffer.from(`record-${i}`)), layers: [{ layer: i }] })),
    }));
    const config = await pushBytes(client, repo, cacheConfig, 'application/vnd.buildkit.cacheconfig.v0');
    await client.putManifest(repo, 'buildcache', imageManifest(config, layers, { 'bench.kind': 'cache' }));

    const importOnce = async () => {
      const digest = await client.headManifest(repo, 'buildcache');
      const manifest = JSON.parse(await client.getManifest(repo, digest));
      JSON.parse(await client.getBlobText(repo, manifest.config.digest));
      await runConcurrent({
        count: manifest.layers.length, concurrency: cfg.cacheHeadConcurrency, maxMs: cfg.maxMs,
        fn: (i) => client.headBlob(repo, manifest.layers[i].digest),
      });
    };
    await runConcurrent({ count: 3, concurrency: 1, maxMs: cfg.maxMs, fn: importOnce });
    const s = await measureLoop(ctx, {
      count: cfg.cacheImports, concurrency: cfg.cacheConcurrency, maxMs: cfg.maxMs, fn: importOnce,
    });
    return { rate: s.perSecond, ...s, layers: cfg.cacheLayers, cpu: { rate: s.cpuMsPerOp } };
  },
};

export const WORKLOADS = [pushMonolithic, pushChunked, pull, blobHead, manifests, smallBlobs, cacheImport, tagsFull, tagsWalk, catalogWalk];
