// Merge two registry caches (image-manifest or legacy index form) into one image-manifest-form
// cache: the new cacheconfig bytes, its descriptor, the layers[] list and the manifest bytes. Pure:
// the caller stores the blobs and moves the tag.
//
// Layers[] follow the merged cacheconfig's layers[] order (blob digest order), one entry per
// blob — exactly how BuildKit's exporter lists them. Where both inputs describe a blob, annotations
// are united with `next` winning (it is normally the newer export, with the fresher createdat and
// source ref). Docker layer media types become their OCI equivalents, as BuildKit does for an OCI
// cache. Results whose blobs neither manifest lists are dropped first: BuildKit would skip them on
// import, and a manifest cannot list a blob it has no descriptor for.
import { compact, topologicalOrder } from './compact.js';
import { detectCache } from './detect.js';
import { layerCreatedAt } from './descriptors.js';
import { checkGraph } from './graph-check.js';
import type { ParseLimits } from './limits.js';
import { mergeCacheConfigs, type MergeResult } from './merge.js';
import { parseCacheConfig } from './parse.js';
import {
  BUILDKIT_IMPORT_LIMIT, CACHE_CONFIG_MEDIA_TYPE, MEDIA_TYPE_OCI_MANIFEST, type CacheConfig, type Descriptor,
} from './types.js';
import { descriptorWire, goJson, sha256Digest } from './wire.js';

export interface CacheManifestInput {
  /** The parsed manifest JSON. */
  manifest: unknown;
  /** The manifest's media type, if known (else its mediaType field or shape decides). */
  mediaType?: string;
  /** Bytes of the cacheconfig blob its config descriptor names (checked against the digest). */
  config: Uint8Array;
}

export interface ManifestMergeOptions {
  /** Budget for both the cacheconfig and the manifest; default BuildKit's 1 MiB import limit. */
  maxBytes?: number;
  limits?: Partial<ParseLimits>;
}

export type ManifestMergeResult =
  | {
    ok: true;
    manifest: Uint8Array;
    manifestDigest: string;
    config: Uint8Array;
    configDescriptor: Descriptor;
    layers: Descriptor[];
    stats: Extract<MergeResult, { ok: true }>['stats'];
    dropped: Extract<MergeResult, { ok: true }>['dropped'];
    loops: Extract<MergeResult, { ok: true }>['loops'];
  }
  | { ok: false; reason: string };

export function mergeCacheManifests(
  previous: CacheManifestInput, next: CacheManifestInput, options: ManifestMergeOptions = {},
): ManifestMergeResult {
  const maxBytes = options.maxBytes ?? BUILDKIT_IMPORT_LIMIT;
  const a = readCache(previous, 'previous', options.limits);
  if (!a.ok) return a;
  const b = readCache(next, 'next', options.limits);
  if (!b.ok) return b;
  const descriptors = uniteDescriptors(a.layers, b.layers);
  const createdAt = new Map<string, string>();
  for (const [digest, d] of descriptors) {
    const at = layerCreatedAt(d);
    if (at !== undefined) createdAt.set(digest, at);
  }
  const merged = mergeCacheConfigs(a.config, b.config, {
    maxBytes,
    layerCreatedAt: createdAt,
    limits: options.limits,
    fits: (bytes, config) => buildManifest(bytes, config, descriptors).manifest.byteLength <= maxBytes,
  });
  if (!merged.ok) return merged;
  return { ok: true, ...buildManifest(merged.bytes, merged.config, descriptors), stats: merged.stats, dropped: merged.dropped, loops: merged.loops };
}

type ReadCache = { ok: true; config: CacheConfig; layers: Descriptor[] } | { ok: false; reason: string };

function readCache(input: CacheManifestInput, name: string, limits: Partial<ParseLimits> | undefined): ReadCache {
  const found = detectCache({ mediaType: input.mediaType, manifest: input.manifest, maxLayers: limits?.maxLayers });
  if (found.kind !== 'image-manifest' && found.kind !== 'index') {
    const why = found.kind === 'not-cache' || found.kind === 'invalid' ? found.reason : `a ${found.kind} cache`;
    return { ok: false, reason: `${name}: not a registry cache manifest (${why})` };
  }
  if (found.config.size !== input.config.byteLength || found.config.digest !== sha256Digest(input.config)) {
    return { ok: false, reason: `${name}: cacheconfig bytes do not match ${found.config.digest}` };
  }
  const parsed = parseCacheConfig(input.config, limits);
  if (!parsed.ok) return { ok: false, reason: `${name}: ${parsed.reason}` };
  const config = dropUnlisted(parsed.config, new Set(found.layers.map((d) => d.digest)));
  return typeof config === 'string' ? { ok: false, reason: `${name}: ${config}` } : { ok: true, config, layers: found.layers };
}

/** Without results whose chain needs a blob the manifest does not list (and layers left unused). */
function dropUnlisted(config: CacheConfig, listed: Set<string>): CacheConfig | string {
  const graph = checkGraph(config, Number.MAX_SAFE_INTEGER);
  if (!graph.ok) return graph.reason;
  const usable = (layer: number, followParents: boolean): boolean => {
    for (let at = layer; at !== -1; at = followParents ? config.layers[at]!.parent : -1) {
      if (!listed.has(config.layers[at]!.blob)) return false;
    }
    return true;
  };
  const records = config.records.map((r) => ({
    ...r,
    results: r.results.filter((res) => usable(res.layer, true)),
    chains: r.chains.filter((c) => c.layers.every((l) => usable(l, false))),
  }));
  const keep = new Uint8Array(records.length).fill(1);
  return compact({ layers: config.layers, records }, keep, topologicalOrder(graph.facts.recordLevel), false);
}

const DOCKER_TO_OCI: Readonly<Record<string, string>> = {
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar.zstd': 'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.docker.image.rootfs.diff.tar': 'application/vnd.oci.image.layer.v1.tar',
};

function uniteDescriptors(previous: Descriptor[], next: Descriptor[]): Map<string, Descriptor> {
  const out = new Map<string, Descriptor>();
  for (const d of [...previous, ...next]) {
    const mediaType = Object.hasOwn(DOCKER_TO_OCI, d.mediaType) ? DOCKER_TO_OCI[d.mediaType]! : d.mediaType;
    const entries = [...Object.entries(out.get(d.digest)?.annotations ?? {}), ...Object.entries(d.annotations ?? {})];
    const united: Descriptor = { mediaType, digest: d.digest, size: d.size };
    if (entries.length > 0) united.annotations = Object.fromEntries(entries);
    out.set(d.digest, united);
  }
  return out;
}

function buildManifest(configBytes: Uint8Array, config: CacheConfig, descriptors: Map<string, Descriptor>) {
  const configDescriptor: Descriptor = {
    mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: sha256Digest(configBytes), size: configBytes.byteLength,
  };
  const layers = [...new Set(config.layers.map((l) => l.blob))].map((blob) => descriptors.get(blob)!);
  const manifest = new TextEncoder().encode(goJson({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_OCI_MANIFEST,
    config: descriptorWire(configDescriptor),
    layers: layers.map(descriptorWire),
  }));
  return { manifest, manifestDigest: sha256Digest(manifest), config: configBytes, configDescriptor, layers };
}
