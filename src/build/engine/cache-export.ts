/**
 * The build's cache as BuildKit writes a registry cache (mode=max, image-manifest form): an OCI
 * image manifest whose config is a cacheconfig v0 and whose layers are every layer any record
 * hands out, each with `buildkit/createdat` and `containerd.io/uncompressed`. One record per
 * chain key (a step, or a stage's base), its result the top of its layer chain, its input the
 * parent's record. Put in BuildKit's normal form by the cache module, so the same build writes
 * the same bytes and inspection, merge and retention treat it like any BuildKit cache. Pure.
 */
import {
  CACHE_CONFIG_MEDIA_TYPE,
  MEDIA_TYPE_OCI_MANIFEST,
  normalizeCacheConfig,
  serializeCacheConfig,
  sha256Digest,
  type CacheConfig,
  type CacheRecord,
} from '../../cache/buildkit/index.js';
import { layerMediaType, type Layer } from './image.js';

export interface ExportRecord {
  readonly key: string;
  /** The record this one was built on (a step's parent step, or its stage's base). */
  readonly parent?: string;
  /** The full layer chain of the result, base first (empty for a scratch-only result). */
  readonly layers: readonly Layer[];
  readonly createdAt: string;
}

export interface CacheExport {
  readonly config: Buffer;
  readonly configDigest: string;
  readonly manifest: Buffer;
  /** Layers the manifest names (for linking in the cache repository). */
  readonly layers: readonly Layer[];
}

export function buildCacheExport(records: readonly ExportRecord[], fallbackTime: string): CacheExport | undefined {
  const layers: CacheConfig['layers'] = [];
  const chainIndex = new Map<string, number>();
  const facts = new Map<string, Layer>();
  const top = (chain: readonly Layer[]): number => {
    let parent = -1;
    let path = '';
    for (const layer of chain) {
      path += `${layer.digest};`;
      let index = chainIndex.get(path);
      if (index === undefined) {
        index = layers.push({ blob: layer.digest, parent }) - 1;
        chainIndex.set(path, index);
      }
      if (!facts.has(layer.digest)) facts.set(layer.digest, layer);
      parent = index;
    }
    return parent;
  };
  const unique = [...new Map(records.map((r) => [r.key, r])).values()];
  const position = new Map(unique.map((r, i) => [r.key, i]));
  const out: CacheRecord[] = unique.map((r) => {
    const layer = top(r.layers);
    const parent = r.parent === undefined ? undefined : position.get(r.parent);
    return {
      digest: r.key,
      results: layer >= 0 ? [{ layer, createdAt: r.createdAt }] : [],
      chains: [],
      inputs: parent === undefined ? [] : [[{ link: parent }]],
    };
  });
  // BuildKit does not export a cache without layers, nor do we.
  if (layers.length === 0) return undefined;
  const normal = normalizeCacheConfig({ layers, records: out });
  if (!normal.ok) throw new Error(`cache export: ${normal.reason}`);
  const config = Buffer.from(serializeCacheConfig(normal.config));
  const configDigest = sha256Digest(config);
  const blobs = [...new Set(normal.config.layers.map((l) => l.blob))].map((d) => facts.get(d)!);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      config: { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: configDigest, size: config.byteLength },
      layers: blobs.map((l) => ({
        mediaType: layerMediaType(l.mediaType, 'oci'),
        digest: l.digest,
        size: l.size,
        annotations: { 'buildkit/createdat': l.createdAt ?? fallbackTime, 'containerd.io/uncompressed': l.diffId },
      })),
    }),
  );
  return { config, configDigest, manifest, layers: blobs };
}
