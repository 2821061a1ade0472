// Serialisation exactly as BuildKit's Go code writes it, so a config we produce from a BuildKit
// config has the same bytes and therefore the same digest:
//   - compact JSON, no trailing newline (json.Marshal);
//   - struct fields in Go declaration order; `omitempty` fields left out when empty/zero
//     (`parent` 0 is omitted — the reason an absent parent means 0);
//   - map keys sorted (Go sorts map keys), which matters for annotations;
//   - <, >, & and U+2028/U+2029 escaped as \u00XX like Go's HTML-safe encoder.
import { createHash } from 'node:crypto';
import type { CacheConfig, CacheLayer, CacheRecord, Descriptor, LayerAnnotations } from './types.js';

const encoder = new TextEncoder();

/** JSON.stringify plus Go's HTML-safe escaping; the characters only ever occur inside strings. */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** The cacheconfig bytes BuildKit would write for `config`. */
export function serializeCacheConfig(config: CacheConfig): Uint8Array {
  return encoder.encode(cacheConfigJson(config));
}

/** The cacheconfig as a JSON string (see `serializeCacheConfig`). */
export function cacheConfigJson(config: CacheConfig): string {
  const out: Record<string, unknown> = {};
  if (config.layers.length > 0) out.layers = config.layers.map(layerWire);
  if (config.records.length > 0) out.records = config.records.map(recordWire);
  return goJson(out);
}

/** `sha256:<hex>` of some bytes. */
export function sha256Digest(bytes: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** A descriptor in Go's field order with sorted annotations. */
export function descriptorWire(d: Descriptor): Record<string, unknown> {
  const out: Record<string, unknown> = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.annotations && Object.keys(d.annotations).length > 0) out.annotations = sortedMap(d.annotations);
  return out;
}

/** A copy of a string map with sorted keys, built without assigning untrusted keys one by one. */
export function sortedMap(map: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function layerWire(layer: CacheLayer): Record<string, unknown> {
  const out: Record<string, unknown> = { blob: layer.blob };
  if (layer.parent !== 0) out.parent = layer.parent;
  if (layer.annotations) {
    const annotations = annotationsWire(layer.annotations);
    if (Object.keys(annotations).length > 0) out.annotations = annotations;
  }
  return out;
}

function annotationsWire(a: LayerAnnotations): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (a.mediaType) out.mediaType = a.mediaType;
  if (a.diffID) out.diffID = a.diffID;
  if (a.size) out.size = a.size;
  if (a.createdAt !== undefined) out.createdAt = a.createdAt;
  if (a.additional && Object.keys(a.additional).length > 0) out.additional = sortedMap(a.additional);
  return out;
}

function recordWire(record: CacheRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (record.results.length > 0) {
    out.layers = record.results.map((r) => withTime({ layer: r.layer }, r.createdAt));
  }
  if (record.chains.length > 0) {
    out.chains = record.chains.map((c) => withTime({ layers: c.layers }, c.createdAt));
  }
  out.digest = record.digest;
  if (record.inputs.length > 0) {
    out.inputs = record.inputs.map((alternatives) =>
      alternatives.map((i) => (i.selector ? { selector: i.selector, link: i.link } : { link: i.link })),
    );
  }
  return out;
}

function withTime(base: Record<string, unknown>, createdAt: string | undefined): Record<string, unknown> {
  if (createdAt !== undefined) base.createdAt = createdAt;
  return base;
}
