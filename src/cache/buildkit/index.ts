// BuildKit remote-cache core: pure functions over cache manifests and cacheconfig documents
// (no I/O, no database, no HTTP). See types.ts for the format, and
// docs/buildkit-cache-format.md for what BuildKit sends.
export * from './types.js';
export { DEFAULT_LIMITS, type ParseLimits } from './limits.js';
export { detectCache, type CacheDetection, type CacheForm, type DetectInput } from './detect.js';
export { layerCreatedAt, layerDiffId } from './descriptors.js';
export { parseCacheConfig, parseInlineCache, checkCacheConfig, type ParseResult } from './parse.js';
export type { CacheMode, CacheStats } from './stats.js';
export {
  mergeCacheConfigs, mergeConfigList, normalizeCacheConfig,
  type BudgetOptions, type LoopRepairs, type MergeOptions, type MergeResult, type TrimReport,
} from './merge.js';
export {
  mergeCacheManifests, type CacheManifestInput, type ManifestMergeOptions, type ManifestMergeResult,
} from './manifest.js';
export {
  allRecordChains, diffConfigs, layerChain, reachableLayerDigests, recordChains, recordsWithoutResults,
  sizeMap, sumBytes, type ConfigDiff, type RecordChains, type SetDiff,
} from './graph.js';
export { serializeCacheConfig, sha256Digest } from './wire.js';
export { parseTimeNs } from './time.js';
export {
  pruneCacheConfig, pruneCacheManifest, type PruneManifestInput, type PruneManifestResult, type PruneResult, type PruneSummary,
} from './prune.js';
