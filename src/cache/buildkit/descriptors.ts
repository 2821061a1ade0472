// Descriptors of cache blobs, read from untrusted manifests. Only mediaType, digest, size and
// annotations are kept: that is all BuildKit writes for cache blobs, and all it reads back.
import { clip, isDigest, isInt, isObject, jsonType, own } from './guards.js';
import { ANNOTATION_CREATED_AT, ANNOTATION_UNCOMPRESSED, type Descriptor } from './types.js';

/** Validate one descriptor; a string return is the reason it is unusable. */
export function toDescriptor(value: unknown, path: string): Descriptor | string {
  if (!isObject(value)) return `${path}: expected an object, got ${jsonType(value)}`;
  const mediaType = own(value, 'mediaType');
  if (typeof mediaType !== 'string') return `${path}.mediaType: expected a string, got ${jsonType(mediaType)}`;
  const digest = own(value, 'digest');
  if (!isDigest(digest)) {
    return `${path}.digest: not a digest${typeof digest === 'string' ? `: "${clip(digest)}"` : ''}`;
  }
  const size = own(value, 'size');
  if (!isInt(size) || size < 0) return `${path}.size: expected a non-negative integer, got ${jsonType(size)}`;
  const annotations = toAnnotations(own(value, 'annotations'), `${path}.annotations`);
  if (typeof annotations === 'string') return annotations;
  return annotations ? { mediaType, digest, size, annotations } : { mediaType, digest, size };
}

function toAnnotations(value: unknown, path: string): Record<string, string> | undefined | string {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) return `${path}: expected an object, got ${jsonType(value)}`;
  const entries = Object.entries(value);
  for (const [key, v] of entries) {
    if (typeof v !== 'string') return `${path}["${clip(key, 40)}"]: expected a string, got ${jsonType(v)}`;
  }
  // fromEntries defines own data properties: a "__proto__" annotation stays an annotation.
  return entries.length > 0 ? (Object.fromEntries(entries) as Record<string, string>) : undefined;
}

/** The layer's `buildkit/createdat` annotation, if any. */
export function layerCreatedAt(d: Descriptor): string | undefined {
  return d.annotations && Object.hasOwn(d.annotations, ANNOTATION_CREATED_AT)
    ? d.annotations[ANNOTATION_CREATED_AT]
    : undefined;
}

/** The layer's diff ID (`containerd.io/uncompressed` annotation), if any. */
export function layerDiffId(d: Descriptor): string | undefined {
  return d.annotations && Object.hasOwn(d.annotations, ANNOTATION_UNCOMPRESSED)
    ? d.annotations[ANNOTATION_UNCOMPRESSED]
    : undefined;
}

/** Descriptor with extra annotations merged over its own (new keys win). */
export function withAnnotations(d: Descriptor, extra: ReadonlyArray<[string, string]>): Descriptor {
  if (extra.length === 0) return d;
  const annotations = Object.fromEntries([...Object.entries(d.annotations ?? {}), ...extra]);
  return { ...d, annotations };
}
