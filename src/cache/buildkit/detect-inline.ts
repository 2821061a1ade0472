// Inline cache layers: BuildKit's importer annotates each image layer the way a cache manifest
// would have — `buildkit/createdat` from the image history (entries that are not empty_layer, in
// order) and `containerd.io/uncompressed` from rootfs.diff_ids — and it ignores the image's cache
// when diff_ids and layers disagree in number. We do the same, so inline layers look like any
// other cache layers to the rest of the code.
import { withAnnotations } from './descriptors.js';
import { isDigest, isObject, own } from './guards.js';
import { isRfc3339 } from './time.js';
import { ANNOTATION_CREATED_AT, ANNOTATION_UNCOMPRESSED, type Descriptor } from './types.js';

/** The image layers with BuildKit's import-time annotations, or why the cache is unusable. */
export function inlineLayers(layers: readonly Descriptor[], imageConfig: Record<string, unknown>): Descriptor[] | string {
  const rootfs = own(imageConfig, 'rootfs');
  const diffIds = isObject(rootfs) ? own(rootfs, 'diff_ids') : undefined;
  if (!Array.isArray(diffIds) || diffIds.length !== layers.length) {
    const n = Array.isArray(diffIds) ? diffIds.length : 0;
    return `rootfs.diff_ids has ${n} entries for ${layers.length} layers (BuildKit ignores this cache)`;
  }
  const badDiffId = diffIds.findIndex((d) => !isDigest(d));
  if (badDiffId !== -1) return `rootfs.diff_ids[${badDiffId}]: not a digest`;
  const created = layerCreationTimes(own(imageConfig, 'history'));
  return layers.map((layer, i) => {
    const extra: Array<[string, string]> = [];
    const at = created[i];
    if (at !== undefined) extra.push([ANNOTATION_CREATED_AT, at]);
    extra.push([ANNOTATION_UNCOMPRESSED, diffIds[i] as string]);
    return withAnnotations(layer, extra);
  });
}

/** Creation time of each non-empty layer, from history; undefined where history has none. */
function layerCreationTimes(history: unknown): Array<string | undefined> {
  if (!Array.isArray(history)) return [];
  const out: Array<string | undefined> = [];
  for (const entry of history) {
    if (!isObject(entry) || own(entry, 'empty_layer') === true) continue;
    const created = own(entry, 'created');
    out.push(typeof created === 'string' && isRfc3339(created) ? created : undefined);
  }
  return out;
}
