// Which of BuildKit's three cache shapes (if any) a pushed manifest is:
//   image-manifest  OCI image manifest whose config.mediaType is the cacheconfig type (v0.21+ default)
//   index           OCI index / Docker manifest list whose manifests[] are the cache BLOBS (layers,
//                   then the cacheconfig); BuildKit's importer takes the LAST cacheconfig entry and
//                   every other entry as a layer, de-duplicated by digest (a map; later entries win)
//   inline          an ordinary image whose config JSON has `moby.buildkit.cache.v0`
// Only the manifest is needed for the first two; inline needs the image config, so without it an
// image manifest answers 'needs-image-config'. A multi-platform image index is 'not-cache' here:
// inline cache lives in its child manifests, which the caller must inspect one by one.
import { toDescriptor } from './descriptors.js';
import { isObject, own } from './guards.js';
import { DEFAULT_LIMITS } from './limits.js';
import { inlineLayers } from './detect-inline.js';
import {
  CACHE_CONFIG_MEDIA_TYPE, INLINE_CACHE_KEY, MEDIA_TYPE_DOCKER_IMAGE_CONFIG, MEDIA_TYPE_DOCKER_LIST,
  MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_OCI_IMAGE_CONFIG, MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST,
  type Descriptor,
} from './types.js';

export type CacheForm = 'image-manifest' | 'index' | 'inline';

export type CacheDetection =
  /** `config` is the cacheconfig blob; `layers` the cache blobs, as listed. */
  | { kind: 'image-manifest' | 'index'; mediaType: string; config: Descriptor; layers: Descriptor[] }
  /** `config` is the image config; `layers` carry createdat/uncompressed annotations from it. */
  | { kind: 'inline'; mediaType: string; config: Descriptor; layers: Descriptor[]; cache: string }
  /** An image manifest: call again with its parsed config to learn whether it has inline cache. */
  | { kind: 'needs-image-config'; mediaType: string; config: Descriptor }
  | { kind: 'not-cache'; reason: string }
  /** Looks like a cache but BuildKit could not use it. */
  | { kind: 'invalid'; form: CacheForm; reason: string };

export interface DetectInput {
  /** The manifest's media type (Content-Type); falls back to its `mediaType` field, then its shape. */
  mediaType?: string | undefined;
  /** The parsed manifest JSON. */
  manifest: unknown;
  /** The parsed image config JSON, for inline cache. */
  imageConfig?: unknown;
  /** Most descriptors accepted in one manifest. */
  maxLayers?: number;
}

const IMAGE_CONFIG_TYPES = new Set([MEDIA_TYPE_DOCKER_IMAGE_CONFIG, MEDIA_TYPE_OCI_IMAGE_CONFIG]);

export function detectCache(input: DetectInput): CacheDetection {
  const { manifest } = input;
  if (!isObject(manifest)) return notCache('manifest is not a JSON object');
  const mediaType = manifestType(input.mediaType, manifest);
  const maxLayers = input.maxLayers ?? DEFAULT_LIMITS.maxLayers;
  if (mediaType === MEDIA_TYPE_OCI_INDEX || mediaType === MEDIA_TYPE_DOCKER_LIST) {
    return detectIndex(mediaType, manifest, maxLayers);
  }
  if (mediaType === MEDIA_TYPE_OCI_MANIFEST || mediaType === MEDIA_TYPE_DOCKER_MANIFEST) {
    return detectManifest(mediaType, manifest, input.imageConfig, maxLayers);
  }
  return notCache(`media type ${mediaType ?? '(none)'} is not an image manifest or index`);
}

function manifestType(declared: string | undefined, manifest: Record<string, unknown>): string | undefined {
  if (declared) return declared;
  const field = own(manifest, 'mediaType');
  if (typeof field === 'string' && field !== '') return field;
  if (Array.isArray(own(manifest, 'manifests'))) return MEDIA_TYPE_OCI_INDEX;
  if (isObject(own(manifest, 'config'))) return MEDIA_TYPE_OCI_MANIFEST;
  return undefined;
}

function detectIndex(mediaType: string, manifest: Record<string, unknown>, maxLayers: number): CacheDetection {
  const entries = own(manifest, 'manifests');
  if (!Array.isArray(entries)) return notCache('index has no manifests[] array');
  const isConfig = (e: unknown): boolean => isObject(e) && own(e, 'mediaType') === CACHE_CONFIG_MEDIA_TYPE;
  if (!entries.some(isConfig)) return notCache('index lists no cacheconfig blob');
  if (entries.length > maxLayers + 1) return invalid('index', `${entries.length} entries exceed the limit of ${maxLayers}`);
  let config: Descriptor | undefined;
  const layers = new Map<string, Descriptor>();
  for (const [i, entry] of entries.entries()) {
    const d = toDescriptor(entry, `manifests[${i}]`);
    if (typeof d === 'string') return invalid('index', d);
    if (d.mediaType === CACHE_CONFIG_MEDIA_TYPE) config = d;
    else layers.set(d.digest, d);
  }
  return { kind: 'index', mediaType, config: config as Descriptor, layers: [...layers.values()] };
}

function detectManifest(
  mediaType: string, manifest: Record<string, unknown>, imageConfig: unknown, maxLayers: number,
): CacheDetection {
  const rawConfig = own(manifest, 'config');
  const configType = isObject(rawConfig) ? own(rawConfig, 'mediaType') : undefined;
  const form: CacheForm = configType === CACHE_CONFIG_MEDIA_TYPE ? 'image-manifest' : 'inline';
  if (form === 'inline' && !(typeof configType === 'string' && IMAGE_CONFIG_TYPES.has(configType))) {
    return notCache(`config media type ${typeof configType === 'string' ? configType : '(none)'} is neither a cacheconfig nor an image config`);
  }
  const config = toDescriptor(rawConfig, 'config');
  if (typeof config === 'string') return form === 'inline' ? notCache(config) : invalid(form, config);
  const layers = toLayers(own(manifest, 'layers'), maxLayers);
  if (typeof layers === 'string') return form === 'inline' ? notCache(layers) : invalid(form, layers);
  if (form === 'image-manifest') return { kind: 'image-manifest', mediaType, config, layers };
  if (imageConfig === undefined) return { kind: 'needs-image-config', mediaType, config };
  return detectInline(mediaType, config, layers, imageConfig);
}

function detectInline(mediaType: string, config: Descriptor, layers: Descriptor[], imageConfig: unknown): CacheDetection {
  if (!isObject(imageConfig)) return invalid('inline', 'image config is not a JSON object');
  const cache = own(imageConfig, INLINE_CACHE_KEY);
  // Go decodes a JSON null into a nil []byte: BuildKit treats it exactly like a missing key.
  if (cache === undefined || cache === null) return notCache(`image config has no ${INLINE_CACHE_KEY}`);
  if (typeof cache !== 'string') return invalid('inline', `${INLINE_CACHE_KEY}: expected a base64 string`);
  const annotated = inlineLayers(layers, imageConfig);
  if (typeof annotated === 'string') return invalid('inline', annotated);
  return { kind: 'inline', mediaType, config, layers: annotated, cache };
}

function toLayers(value: unknown, maxLayers: number): Descriptor[] | string {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return 'layers: expected an array';
  if (value.length > maxLayers) return `layers: ${value.length} entries exceed the limit of ${maxLayers}`;
  const out: Descriptor[] = [];
  for (const [i, entry] of value.entries()) {
    const d = toDescriptor(entry, `layers[${i}]`);
    if (typeof d === 'string') return d;
    out.push(d);
  }
  return out;
}

function notCache(reason: string): CacheDetection {
  return { kind: 'not-cache', reason };
}

function invalid(form: CacheForm, reason: string): CacheDetection {
  return { kind: 'invalid', form, reason };
}
