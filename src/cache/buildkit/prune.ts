// Pruning inside a cache: the same cache without the layers nobody fetched. Pure.
//
// Given the blobs to drop, a cacheconfig loses
//   - every layer entry whose blob is dropped, and every entry whose parent chain includes one
//     (a layer is only usable on top of its parents);
//   - every result (`layers[]`) and chained result (`chains[]`) that names a dropped entry;
//   - every record left without results that no kept record links to as an input, repeatedly
//     (a key-only record that still leads to a kept record stays: it is how BuildKit finds it);
//   - every layer entry no kept result reaches any more;
// and `parent`, `layer`, `chains[].layers` and `inputs[].link` are re-indexed. A kept record's
// inputs only link to kept records, so no input list becomes empty (BuildKit refuses one).
//
// Entries keep their document order. BuildKit's exporter sorts layers by blob then parent and
// records by digest then inputs (emit.ts); removing entries and re-indexing monotonically keeps
// that order, so the result is sorted as BuildKit would sort it and equal inputs give equal bytes.
//
// Only the image-manifest form is rewritten (pruneCacheManifest). The legacy index form is
// skipped: its entries are blobs masquerading as manifests, kept for old clients, and a rewrite
// would either re-emit that form or silently change it. Inline cache is skipped: it lives in an
// image's config, and rewriting it would change the image itself, not a cache.
import { compact, topologicalOrder } from './compact.js';
import { detectCache } from './detect.js';
import { checkGraph } from './graph-check.js';
import { DEFAULT_LIMITS, type ParseLimits } from './limits.js';
import { parseCacheConfig } from './parse.js';
import type { CacheConfig, CacheRecord, Descriptor } from './types.js';
import { goJson, serializeCacheConfig, sha256Digest } from './wire.js';

export interface PruneSummary {
  /** Distinct blobs the config named before and no longer names. */
  readonly blobsDropped: readonly string[];
  readonly layersBefore: number;
  readonly layersAfter: number;
  readonly recordsBefore: number;
  readonly recordsAfter: number;
}

export type PruneResult = { ok: true; config: CacheConfig; summary: PruneSummary } | { ok: false; reason: string };

/** `config` must be valid (as parseCacheConfig returns it); `drop` names blobs by digest. */
export function pruneCacheConfig(config: CacheConfig, drop: ReadonlySet<string>): PruneResult {
  const graph = checkGraph(config, Number.MAX_SAFE_INTEGER);
  if (!graph.ok) return { ok: false, reason: graph.reason };
  const dead = deadLayers(config, drop, graph.facts.layerDepth);
  const records = config.records.map((r): CacheRecord => ({
    ...r,
    results: r.results.filter((res) => !dead[res.layer]),
    chains: r.chains.filter((c) => c.layers.every((l) => !dead[l])),
  }));
  const keep = new Uint8Array(records.length).fill(1);
  // pruneKeyOnly: records without results and without kept dependents go, dependents first.
  const pruned = compact({ layers: config.layers, records }, keep, topologicalOrder(graph.facts.recordLevel), true);
  const after = new Set(pruned.layers.map((l) => l.blob));
  return {
    ok: true,
    config: pruned,
    summary: {
      blobsDropped: [...new Set(config.layers.map((l) => l.blob))].filter((b) => !after.has(b)),
      layersBefore: config.layers.length,
      layersAfter: pruned.layers.length,
      recordsBefore: config.records.length,
      recordsAfter: pruned.records.length,
    },
  };
}

/** Layer entries whose blob is dropped or whose parent chain includes one; parents before children. */
function deadLayers(config: CacheConfig, drop: ReadonlySet<string>, depth: Int32Array): Uint8Array {
  const dead = new Uint8Array(config.layers.length);
  const order = [...depth.keys()].sort((a, b) => depth[a]! - depth[b]!);
  for (const i of order) {
    const layer = config.layers[i]!;
    dead[i] = drop.has(layer.blob) || (layer.parent !== -1 && dead[layer.parent] === 1) ? 1 : 0;
  }
  return dead;
}

export interface PruneManifestInput {
  /** The manifest's bytes, as stored. */
  readonly manifest: Uint8Array;
  /** Its media type (Content-Type). */
  readonly mediaType: string;
  /** The cacheconfig blob its config descriptor names (checked against the digest). */
  readonly config: Uint8Array;
}

export type PruneManifestResult =
  | {
    ok: true;
    manifest: Uint8Array;
    manifestDigest: string;
    /** The manifest's media type, unchanged. */
    mediaType: string;
    config: Uint8Array;
    configDescriptor: Descriptor;
    /** The layer descriptors kept, as the original listed them (annotations included). */
    layers: Descriptor[];
    summary: PruneSummary;
  }
  | { ok: false; reason: string };

/**
 * An image-manifest cache rewritten without `drop` (see the top of this file): the new cacheconfig
 * bytes and the new manifest bytes. The manifest keeps every field of the original — media types,
 * annotations, the config descriptor's own fields — with the config's digest and size replaced and
 * only the layer descriptors the new cacheconfig names, verbatim and in their original order.
 */
export function pruneCacheManifest(input: PruneManifestInput, drop: ReadonlySet<string>, limits?: Partial<ParseLimits>): PruneManifestResult {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(input.manifest).toString('utf8'));
  } catch {
    return { ok: false, reason: 'the manifest is not JSON' };
  }
  const found = detectCache({ mediaType: input.mediaType, manifest: json, maxLayers: limits?.maxLayers ?? DEFAULT_LIMITS.maxLayers });
  if (found.kind !== 'image-manifest') {
    const form = found.kind === 'index' ? 'a legacy index-form cache' : found.kind === 'inline' ? 'an inline cache' : 'not a cache manifest';
    return { ok: false, reason: `${form}: only image-manifest caches are rewritten` };
  }
  if (found.config.size !== input.config.byteLength || found.config.digest !== sha256Digest(input.config)) {
    return { ok: false, reason: `the cacheconfig bytes do not match ${found.config.digest}` };
  }
  const parsed = parseCacheConfig(input.config, limits);
  if (!parsed.ok) return { ok: false, reason: parsed.reason };
  const pruned = pruneCacheConfig(parsed.config, drop);
  if (!pruned.ok) return pruned;
  const config = serializeCacheConfig(pruned.config);
  const configDescriptor: Descriptor = { ...found.config, digest: sha256Digest(config), size: config.byteLength };
  const named = new Set(pruned.config.layers.map((l) => l.blob));
  const original = json as Record<string, unknown> & { config: Record<string, unknown>; layers: Array<Record<string, unknown>> };
  const keptRaw = original.layers.filter((d) => named.has(d.digest as string));
  // Spread keeps the original key order, so an unchanged field is written as it was.
  const rewritten = { ...original, config: { ...original.config, digest: configDescriptor.digest, size: configDescriptor.size }, layers: keptRaw };
  const manifest = new TextEncoder().encode(goJson(rewritten));
  return {
    ok: true,
    manifest,
    manifestDigest: sha256Digest(manifest),
    mediaType: found.mediaType,
    config,
    configDescriptor,
    layers: found.layers.filter((d) => named.has(d.digest)),
    summary: pruned.summary,
  };
}
