/** The layers part of the build worker: what the engine uses (contract in layers.ts). */
export * from './layers.js';
export { TarLayerWriter } from './writer.js';
export { SnapshotCache, type SnapshotCacheOptions, type SnapshotStats } from './snapshots.js';
export { BlobStoreSink, BlobStoreSource } from './blob-sink.js';
export { copyToUpper, type CopyOperation, type CopyTarget } from './copy.js';
export { contentDigest, type ContentDigest, type FileDigest } from './content-digest.js';
export { layeredRootfs, EMPTY_ROOTFS, type RootfsView } from './rootfs.js';
export { checkCompression, LAYER_MEDIA_TYPES } from './compression.js';
export * from './errors.js';
