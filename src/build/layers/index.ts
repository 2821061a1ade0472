/**
 * The layers part of the build worker, as the engine uses it (contract in layers.ts):
 *
 * - `new TarLayerWriter().fromUpperDir(upperDir, new BlobStoreSink(store), { compression, sourceDateEpoch })`
 *   after a RUN or a COPY; undefined means an empty layer.
 * - `new SnapshotCache({ root: DATA_DIR/worker/snapshots, budgetBytes }).acquire(layer, new BlobStoreSource(store))`
 *   for each lower of a step that must run; release() when the step is done.
 * - COPY/ADD: `copyToUpper(op, { upperDir, rootfs: layeredRootfs(lowerDirs) })`, where `op` is the
 *   Step's fields: `{ root: contextDir (or the --from stage's merged rootfs), sources, dest, workdir:
 *   config.workingDir ?? '/', add, chown, chmod, exclude, heredocs, ignore: dockerignore.ignores }`.
 *   With `--link` pass `EMPTY_ROOTFS` (the copy must not depend on what is below).
 * - `COPY --from`: `withMergedRootfs(stageLowerDirs, (root) => copyToUpper({ root, ... }, target))`.
 * - Cache keys: `contentDigest({ root, sources, exclude, ignore, heredocs })` over the same plan.
 * - Build contexts: src/build/context (extractContext, parseDockerignore).
 */
export * from './layers.js';
export { TarLayerWriter } from './writer.js';
export { SnapshotCache, type SnapshotCacheOptions, type SnapshotStats } from './snapshots.js';
export { BlobStoreSink, BlobStoreSource } from './blob-sink.js';
export { copyToUpper, type CopyOperation, type CopyTarget } from './copy.js';
export { contentDigest, type ContentDigest, type FileDigest } from './content-digest.js';
export { layeredRootfs, EMPTY_ROOTFS, type RootfsView } from './rootfs.js';
export { withMergedRootfs } from './merged.js';
export { checkCompression, LAYER_MEDIA_TYPES } from './compression.js';
export * from './errors.js';
