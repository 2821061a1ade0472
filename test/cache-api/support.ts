/**
 * Helpers for the cache API tests: fixture manifests (with the stand-in digests of loadBlobPool), pushing them
 * with their blobs (optionally with credentials), expectations computed straight from the raw JSON of the
 * manifests, cacheconfigs and image configs (never through src/cache), the JSON API, /metrics and polling.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES, loadBlobPool, type BlobPool } from '../buildkit/fixtures.js';
import { http, type TestResponse } from '../support/http.js';
import { sha256 } from '../support/oci.js';

export const CACHECONFIG = 'application/vnd.buildkit.cacheconfig.v0';
export const INLINE_KEY = 'moby.buildkit.cache.v0';
export const BUILDKIT_UA = 'buildkit/v0.24';

let sharedPool: BlobPool | undefined;
export function pool(): BlobPool {
  sharedPool ??= loadBlobPool();
  return sharedPool;
}

const hexOf = (digest: string) => digest.replace(/^sha256:/, '');

/** Bytes of a fixture blob by its recorded digest (rewritten for the stand-in base layer). */
export function fixtureBlob(digest: string): Buffer {
  const bytes = pool().get(hexOf(pool().fix(digest)));
  assert.ok(bytes, `no fixture bytes for ${digest}`);
  return bytes;
}

export interface FixtureManifest {
  /** Scenario directory (e.g. `h-overwrite/after-step2`). */
  scenario: string;
  /** Repository and tag the recording pushed it to. */
  repository: string;
  tag: string;
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

/** Every tagged manifest of a scenario directory (fixture-index.json), digests rewritten. */
export function fixtureManifests(scenario: string): FixtureManifest[] {
  const index = JSON.parse(readFileSync(join(FIXTURES, scenario, 'fixture-index.json'), 'utf8')) as {
    tags: Array<{ ref: string; digest: string; mediaType: string }>;
  };
  return index.tags.map((t) => {
    const at = t.ref.lastIndexOf(':');
    const digest = pool().fix(t.digest);
    const bytes = fixtureBlob(digest);
    assert.equal(sha256(bytes), digest);
    return { scenario, repository: t.ref.slice(0, at), tag: t.ref.slice(at + 1), digest, mediaType: t.mediaType, bytes };
  });
}

export function fixtureManifest(scenario: string, tag?: string): FixtureManifest {
  const all = fixtureManifests(scenario);
  const found = tag === undefined ? all[0] : all.find((m) => m.tag === tag);
  assert.ok(found, `${scenario}: no tag ${tag}`);
  return found;
}

interface RawDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

interface RawManifest {
  mediaType?: string;
  config?: RawDescriptor;
  layers?: RawDescriptor[];
  manifests?: RawDescriptor[];
}

/** Digests a manifest names (config, layers or index entries). */
export function referencedDigests(manifest: Buffer): string[] {
  const m = JSON.parse(manifest.toString('utf8')) as RawManifest;
  return [...new Set([m.config, ...(m.layers ?? []), ...(m.manifests ?? [])].flatMap((d) => (d ? [d.digest] : [])))];
}

/** Monolithic blob push (`POST …/uploads/?digest=` with the body), optionally with credentials. */
export async function pushBlobAs(base: string, repository: string, bytes: Buffer, headers: Record<string, string> = {}): Promise<void> {
  const digest = sha256(bytes);
  const response = await http('POST', `${base}/v2/${repository}/blobs/uploads/?digest=${digest}`, {
    headers: { ...headers, 'content-type': 'application/octet-stream' },
    body: bytes,
  });
  assert.equal(response.status, 201, `blob push ${repository}@${digest}: ${response.status} ${response.text()}`);
}

export async function putManifestAs(
  base: string,
  repository: string,
  reference: string,
  bytes: Buffer,
  mediaType: string,
  headers: Record<string, string> = {},
): Promise<TestResponse> {
  return http('PUT', `${base}/v2/${repository}/manifests/${reference}`, { headers: { ...headers, 'content-type': mediaType }, body: bytes });
}

/**
 * Pushes a manifest's blobs (from `blobs`, else from the fixture pool) and then the manifest, asserting 201 and
 * the digest Cairn answers with.
 */
export async function pushManifest(
  base: string,
  repository: string,
  tag: string,
  manifest: Buffer,
  mediaType: string,
  options: { blobs?: Map<string, Buffer>; headers?: Record<string, string> } = {},
): Promise<string> {
  for (const digest of referencedDigests(manifest)) {
    const bytes = options.blobs?.get(digest) ?? pool().get(hexOf(digest));
    if (!bytes) continue; // a descriptor the test means to leave dangling (the server decides)
    await pushBlobAs(base, repository, bytes, options.headers);
  }
  const response = await putManifestAs(base, repository, tag, manifest, mediaType, options.headers);
  assert.equal(response.status, 201, `PUT ${repository}:${tag}: ${response.status} ${response.text()}`);
  assert.equal(response.headers['docker-content-digest'], sha256(manifest));
  return sha256(manifest);
}

export async function pushFixture(base: string, m: FixtureManifest, repository = m.repository, tag = m.tag): Promise<string> {
  return pushManifest(base, repository, tag, m.bytes, m.mediaType);
}

// ---------------------------------------------------------------------------------------------------------------
// Expectations, from the raw JSON only.

export interface ExpectedLayer {
  digest: string;
  parent: number;
  size: number | null;
  mediaType: string | null;
  createdAt: string | null;
}

export interface ExpectedRecord {
  digest: string;
  results: string[][];
  chains: string[][];
  inputs: Array<Array<{ record: string | null; selector: string | null }>>;
}

export interface ExpectedCache {
  format: 'image-manifest' | 'index' | 'inline';
  manifestDigest: string;
  manifestBytes: number;
  configDigest: string;
  configBytes: number;
  records: number;
  layers: number;
  totalBytes: number;
  /** Distinct layer digests of the cacheconfig (what unique/shared bytes are about) with their sizes. */
  layerSizes: Map<string, number>;
  layerRows: ExpectedLayer[];
  recordRows: ExpectedRecord[];
  recordsWithoutResults: number;
  /** Layers whose `parent` field is absent in the JSON (the parent-index trap: absent = 0). */
  absentParents: number;
}

interface RawConfig {
  layers?: Array<{ blob: string; parent?: number }>;
  records?: RawRecord[];
}

interface RawRecord {
  digest: string;
  layers?: Array<{ layer: number; createdAt?: string }>;
  chains?: Array<{ layers: number[] }>;
  inputs?: Array<Array<{ link: number; selector?: string }>>;
}

/**
 * What the cache API should say about a manifest, computed from the JSON alone. `blobs` supplies bytes not in
 * the fixture pool (hand-built caches).
 */
export function expectCache(manifest: Buffer, blobs?: Map<string, Buffer>): ExpectedCache {
  const read = (digest: string) => {
    const bytes = blobs?.get(digest) ?? pool().get(hexOf(digest));
    assert.ok(bytes, `no bytes for ${digest}`);
    return bytes;
  };
  const m = JSON.parse(manifest.toString('utf8')) as RawManifest;
  let format: ExpectedCache['format'];
  let config: RawDescriptor;
  let descriptors: RawDescriptor[];
  let raw: RawConfig;
  let createdAt: (d: RawDescriptor, index: number) => string | null = (d) => d.annotations?.['buildkit/createdat'] ?? null;
  if (m.manifests) {
    format = 'index';
    const configs = m.manifests.filter((d) => d.mediaType === CACHECONFIG);
    config = configs[configs.length - 1]!;
    descriptors = m.manifests.filter((d) => d.mediaType !== CACHECONFIG);
    raw = JSON.parse(read(config.digest).toString('utf8')) as RawConfig;
  } else if (m.config!.mediaType === CACHECONFIG) {
    format = 'image-manifest';
    config = m.config!;
    descriptors = m.layers ?? [];
    raw = JSON.parse(read(config.digest).toString('utf8')) as RawConfig;
  } else {
    format = 'inline';
    config = m.config!;
    descriptors = m.layers ?? [];
    const image = JSON.parse(read(config.digest).toString('utf8')) as Record<string, unknown>;
    const records = JSON.parse(Buffer.from(image[INLINE_KEY] as string, 'base64').toString('utf8')) as RawRecord[];
    // Inline: the chain is the image's layers in order, each on the previous one.
    raw = { layers: descriptors.map((d, i) => ({ blob: d.digest, parent: i - 1 })), records };
    const history = ((image.history ?? []) as Array<{ created?: string; empty_layer?: boolean }>).filter((h) => !h.empty_layer);
    createdAt = (_d, i) => history[i]?.created ?? null;
  }
  const byDigest = new Map(descriptors.map((d) => [d.digest, d]));
  const rawLayers = raw.layers ?? [];
  const rawRecords = raw.records ?? [];
  const layerRows = rawLayers.map((l, i): ExpectedLayer => {
    const d = byDigest.get(l.blob);
    return { digest: l.blob, parent: l.parent ?? 0, size: d?.size ?? null, mediaType: d?.mediaType ?? null, createdAt: d ? createdAt(d, i) : null };
  });
  const chain = (start: number) => {
    const out: string[] = [];
    for (let i = start; i >= 0; i = layerRows[i]!.parent) {
      out.unshift(layerRows[i]!.digest);
      assert.ok(out.length <= layerRows.length, 'loop in fixture layers');
    }
    return out;
  };
  const recordRows = rawRecords.map(
    (r): ExpectedRecord => ({
      digest: r.digest,
      results: (r.layers ?? []).map((x) => chain(x.layer)),
      chains: (r.chains ?? []).map((c) => c.layers.map((i) => layerRows[i]!.digest)),
      inputs: (r.inputs ?? []).map((alternatives) =>
        alternatives.map((a) => ({ record: rawRecords[a.link]?.digest ?? null, selector: a.selector ? a.selector : null })),
      ),
    }),
  );
  const layerSizes = new Map(layerRows.map((l) => [l.digest, l.size ?? 0]));
  const distinctDescriptorBytes = [...byDigest.values()].reduce((sum, d) => sum + d.size, 0);
  return {
    format,
    manifestDigest: sha256(manifest),
    manifestBytes: manifest.length,
    configDigest: config.digest,
    configBytes: config.size,
    records: rawRecords.length,
    layers: rawLayers.length,
    totalBytes: config.size + distinctDescriptorBytes,
    layerSizes,
    layerRows,
    recordRows,
    recordsWithoutResults: rawRecords.filter((r) => !(r.layers?.length || r.chains?.length)).length,
    absentParents: rawLayers.filter((l) => l.parent === undefined).length,
  };
}

/** Compares a detail answer with the expectation, field by field, so a failure names what differs. */
export function assertDetail(detail: any, want: ExpectedCache, what: string): void {
  assert.equal(detail.format, want.format, `${what}: format`);
  assert.equal(detail.parsed, true, `${what}: parsed (reason: ${detail.reason})`);
  assert.equal(detail.reason, null, `${what}: reason`);
  assert.equal(detail.manifestDigest, want.manifestDigest, `${what}: manifestDigest`);
  assert.equal(detail.manifestBytes, want.manifestBytes, `${what}: manifestBytes`);
  assert.equal(detail.configDigest, want.configDigest, `${what}: configDigest`);
  assert.equal(detail.configBytes, want.configBytes, `${what}: configBytes`);
  // In the detail, `layers` and `records` are the rows (the list's counts of the same names are shadowed).
  assert.equal(detail.layers.length, want.layers, `${what}: layer count`);
  assert.equal(detail.records.length, want.records, `${what}: record count`);
  assert.equal(detail.totalBytes, want.totalBytes, `${what}: totalBytes`);
  assert.deepEqual(detail.warnings, [], `${what}: warnings`);
  assert.deepEqual(detail.layers, want.layerRows, `${what}: layers (document order, parent resolved, size/mediaType/createdAt)`);
  assert.equal(detail.records.length, want.recordRows.length, `${what}: record rows`);
  want.recordRows.forEach((r, i) => assert.deepEqual(detail.records[i], r, `${what}: records[${i}] (${r.digest})`));
}

// ---------------------------------------------------------------------------------------------------------------
// The API, metrics, polling.

export async function api(base: string, path: string, headers: Record<string, string> = {}): Promise<TestResponse> {
  return http('GET', `${base}/api/v1${path}`, { headers });
}

export async function apiJson<T = any>(base: string, path: string, headers: Record<string, string> = {}): Promise<T> {
  const response = await api(base, path, headers);
  assert.equal(response.status, 200, `GET /api/v1${path}: ${response.status} ${response.text()}`);
  return response.json<T>();
}

export async function putSettings(base: string, repository: string, body: unknown, headers: Record<string, string> = {}): Promise<TestResponse> {
  return http('PUT', `${base}/api/v1/repositories/${repository}/cache-settings`, {
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

/** The value of one sample in Prometheus text (labels matched exactly, any order); undefined if absent. */
export function metricValue(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const match = /^([^{\s]+)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const got = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
    const keys = Object.keys(labels);
    if (keys.length !== Object.keys(got).length || keys.some((k) => got[k] !== labels[k])) continue;
    return Number(match[3]);
  }
  return undefined;
}

export async function metrics(base: string): Promise<string> {
  const response = await http('GET', `${base}/metrics`);
  assert.equal(response.status, 200, `/metrics: ${response.status}`);
  return response.text();
}

/** Polls `check` until it returns without throwing, up to `timeoutMs`; rethrows its last failure. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 12_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}

/** Unique and shared bytes of a set of tagged caches (tag → expectation), as the API should compute them. */
export function expectedSharing(tagged: Map<string, ExpectedCache>) {
  // Caches are identified by manifest: two tags on one manifest are one cache.
  const byManifest = new Map<string, ExpectedCache>();
  for (const c of tagged.values()) byManifest.set(c.manifestDigest, c);
  const unique = (c: ExpectedCache) =>
    [...c.layerSizes].filter(([d]) => ![...byManifest.values()].some((o) => o.manifestDigest !== c.manifestDigest && o.layerSizes.has(d))).reduce((s, [, n]) => s + n, 0);
  const shared = (a: ExpectedCache, b: ExpectedCache) => {
    const common = [...a.layerSizes].filter(([d]) => b.layerSizes.has(d));
    return { layers: common.length, bytes: common.reduce((s, [, n]) => s + n, 0) };
  };
  return { unique, shared };
}
