// BuildKit remote cache, "cacheconfig v0": the JSON blob BuildKit pushes next to the cache layers.
// Vocabulary and field names follow BuildKit's `cache/remotecache/v1/spec.go`; the wire shape is
// written out in docs/buildkit-cache-format.md. An annotated example:
//
//   { "layers": [ { "blob": "sha256:…", "parent": 8 },      parent = index into layers[]
//                 { "blob": "sha256:70f4…", "parent": -1 },  -1 = base layer
//                 { "blob": "sha256:c30e…" } ],             parent ABSENT means 0 (Go omitempty), not "none"
//     "records": [ { "digest": "sha256:…" },                 a root key (source): no inputs, no results
//                  { "digest": "hzlv04bns7udz5fz7ypvi2189" }, keys are opaque: not always digests
//                  { "layers": [ { "layer": 7, "createdAt": "…" } ],   results: layer + its parents
//                    "digest": "sha256:…",
//                    "inputs": [ [ { "selector": "sha256:…", "link": 5 } ],   alternatives for input 0
//                                [ { "link": 4 }, { "link": 12 } ] ] } ] }   alternatives for input 1
//
// After parsing, every optional wire field is made explicit (see each type), so code never has to
// remember the omitempty rules; `serializeCacheConfig` puts them back exactly as Go writes them.

/** Media type of the cacheconfig blob (BuildKit `CacheConfigMediaTypeV0`). */
export const CACHE_CONFIG_MEDIA_TYPE = 'application/vnd.buildkit.cacheconfig.v0';
/** Image config key that carries inline cache: a base64 string of a JSON array of records. */
export const INLINE_CACHE_KEY = 'moby.buildkit.cache.v0';
/** Layer descriptor annotation: when BuildKit created the layer (RFC 3339, nanoseconds). */
export const ANNOTATION_CREATED_AT = 'buildkit/createdat';
/** Layer descriptor annotation: the layer's diff ID (digest of the uncompressed tar). */
export const ANNOTATION_UNCOMPRESSED = 'containerd.io/uncompressed';
/** Layer descriptor annotation added when a layer imported from a registry cache is re-exported. */
export const ANNOTATION_SOURCE_REF = 'containerd.io/distribution.source.ref';
/** BuildKit's importer refuses a cache manifest or cacheconfig larger than this (`readBlob`). */
export const BUILDKIT_IMPORT_LIMIT = 1024 * 1024;

// Manifest media types the detector understands. Kept here rather than shared so this pure module
// depends on nothing else in the project.
export const MEDIA_TYPE_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const MEDIA_TYPE_OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const MEDIA_TYPE_DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const MEDIA_TYPE_DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const MEDIA_TYPE_OCI_IMAGE_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const MEDIA_TYPE_DOCKER_IMAGE_CONFIG = 'application/vnd.docker.container.image.v1+json';

/** The cacheconfig document. Both arrays may be absent on the wire; here they are always present. */
export interface CacheConfig {
  /** Every blob the cache can hand out, each with the index of the layer it sits on. */
  layers: CacheLayer[];
  /** Cache keys (BuildKit "records"), each with its results and the keys of its inputs. */
  records: CacheRecord[];
}

/** One layer blob in a chain (Go `CacheLayer`). */
export interface CacheLayer {
  /** Digest of the layer blob; the blob is listed in the cache manifest, not in this document. */
  blob: string;
  /** Index of the parent layer in `layers[]`, or -1 for a base layer. Absent on the wire means 0. */
  parent: number;
  /** Filled only by manifest-less backends (gha, s3); registry caches keep this on descriptors. */
  annotations?: LayerAnnotations;
}

/** Go `LayerAnnotations`: descriptor facts for backends that have no manifest. */
export interface LayerAnnotations {
  mediaType?: string;
  diffID?: string;
  size?: number;
  createdAt?: string;
  additional?: Record<string, string>;
}

/** A cache key (Go `CacheRecord`). */
export interface CacheRecord {
  /**
   * The cache key (wire name `digest`, but not a content digest): usually the op's cache-map
   * digest (its definition without its inputs), sometimes an opaque BuildKit ID such as
   * `hzlv04bns7udz5fz7ypvi2189` (a build that also exports an image). Compared, never resolved.
   */
  digest: string;
  /** Results (wire name `layers`): each brings a layer and all of its parents. May be empty. */
  results: CacheResult[];
  /** Alternative results (wire name `chains`): explicit layer lists, parents not followed. */
  chains: ChainedResult[];
  /** `inputs[k]` lists the acceptable sources of dependency k; never empty for a valid config. */
  inputs: CacheInput[][];
}

/** A result (Go `CacheResult`): the layer at `layer` together with its parent chain. */
export interface CacheResult {
  /** Index into `layers[]`. */
  layer: number;
  /** RFC 3339 creation time as written by BuildKit; kept verbatim. Absent means Go's zero time. */
  createdAt?: string;
}

/** A chained result (Go `ChainedResult`): an ordered list of layers, base first. */
export interface ChainedResult {
  layers: number[];
  createdAt?: string;
}

/** One acceptable source for a dependency (Go `CacheInput`). */
export interface CacheInput {
  /** Selector within the source's result, e.g. sha256 of a path. Absent means "". */
  selector?: string;
  /** Index into `records[]`. */
  link: number;
}

/** The part of an OCI descriptor BuildKit writes for cache blobs. Other fields are not kept. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** Either a value or a reason it could not be produced; hostile input never throws. */
export type Outcome<T> = ({ ok: true } & T) | { ok: false; reason: string };
