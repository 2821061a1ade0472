/**
 * Parses manifests as clients push them: OCI image manifest and index, Docker schema 2 manifest
 * and manifest list. Extracts what the registry must check and index — referenced descriptors,
 * subject, config, artifact type — and leaves the bytes untouched (they are stored as sent).
 *
 * BuildKit's legacy cache index lists *blobs* in `manifests[]`; nothing here assumes index
 * entries are manifests. The registry decides per entry (see registry/manifests.ts).
 */
import { parseDigest, type Digest } from './digest.js';
import { isIndexMediaType, MANIFEST_MEDIA_TYPES, MediaType, SCHEMA1_MEDIA_TYPES } from './media-types.js';
import { findTextFault } from './text.js';

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
}

export interface ParsedManifest {
  readonly mediaType: string;
  readonly kind: 'image' | 'index';
  /** Image manifests only. */
  readonly config?: Descriptor;
  /** Image manifests: layers (blobs). */
  readonly layers: readonly Descriptor[];
  /** Indexes: entries (manifests, or blobs in BuildKit's legacy cache index). */
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor;
  /** `artifactType`, else the config media type: what the referrers API reports. */
  readonly artifactType?: string;
  readonly annotations?: Record<string, string>;
}

export type ManifestParseResult =
  | { ok: true; manifest: ParsedManifest }
  /** `field`: where in the document, when one field is to blame. */
  | { ok: false; reason: string; field?: string };

// ignoreBOM keeps a byte-order mark in the text, where JSON.parse refuses it, as before.
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Refuses what could not be stored or served back as sent: bytes that are not UTF-8 (JSON's
 * encoding between systems, RFC 8259), and strings that are not text (see text.ts) anywhere in
 * the document — indexed fields (artifactType, annotations, media types) reach the database, and
 * listings serve them back.
 *
 * @param contentType the request's Content-Type (without parameters), may be empty
 */
export function parseManifest(bytes: Uint8Array, contentType: string): ManifestParseResult {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return { ok: false, reason: 'manifest is not valid UTF-8' };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'manifest is not valid JSON' };
  }
  if (!isObject(json)) return { ok: false, reason: 'manifest must be a JSON object' };
  const fault = findTextFault(json);
  if (fault) return { ok: false, reason: `${fault.path} ${fault.fault}, which the registry cannot store`, field: fault.path };
  try {
    return { ok: true, manifest: parseObject(json, contentType) };
  } catch (error) {
    if (error instanceof ManifestShapeError) return { ok: false, reason: error.message };
    throw error;
  }
}

class ManifestShapeError extends Error {}

function fail(message: string): never {
  throw new ManifestShapeError(message);
}

function parseObject(json: Record<string, unknown>, contentType: string): ParsedManifest {
  const mediaType = resolveMediaType(json, contentType);
  if (json.schemaVersion !== 2) fail('schemaVersion must be 2');
  const annotations = optionalAnnotations(json.annotations, 'annotations');
  const subject = json.subject === undefined ? undefined : descriptor(json.subject, 'subject');
  const artifactType = optionalString(json.artifactType, 'artifactType');
  if (isIndexMediaType(mediaType)) {
    if (!Array.isArray(json.manifests)) fail('manifests must be an array');
    const manifests = json.manifests.map((d, i) => descriptor(d, `manifests[${i}]`));
    return { mediaType, kind: 'index', layers: [], manifests, subject, artifactType, annotations };
  }
  const config = descriptor(json.config, 'config');
  if (!Array.isArray(json.layers)) fail('layers must be an array');
  const layers = json.layers.map((d, i) => descriptor(d, `layers[${i}]`));
  return {
    mediaType,
    kind: 'image',
    config,
    layers,
    manifests: [],
    subject,
    artifactType: artifactType ?? config.mediaType,
    annotations,
  };
}

/** The body's mediaType wins when present; it must agree with a specific Content-Type. */
function resolveMediaType(json: Record<string, unknown>, contentType: string): string {
  const declared = optionalString(json.mediaType, 'mediaType');
  if (declared && SCHEMA1_MEDIA_TYPES.has(declared)) fail(schema1Message);
  if (SCHEMA1_MEDIA_TYPES.has(contentType)) fail(schema1Message);
  if (json.schemaVersion === 1) fail(schema1Message);
  const specific = MANIFEST_MEDIA_TYPES.has(contentType) ? contentType : undefined;
  if (declared && specific && declared !== specific) {
    fail(`mediaType "${declared}" does not match Content-Type "${specific}"`);
  }
  const mediaType = declared ?? specific ?? inferMediaType(json);
  if (!MANIFEST_MEDIA_TYPES.has(mediaType)) fail(`unsupported manifest media type "${mediaType}"`);
  return mediaType;
}

const schema1Message = 'Docker schema 1 manifests are not supported; push Docker schema 2 or OCI';

/** OCI allows mediaType to be absent: tell an index from an image manifest by its fields. */
function inferMediaType(json: Record<string, unknown>): string {
  if (Array.isArray(json.manifests)) return MediaType.ociIndex;
  if (json.config !== undefined) return MediaType.ociManifest;
  return fail('cannot determine manifest media type: no mediaType, Content-Type, config or manifests');
}

function descriptor(value: unknown, where: string): Descriptor {
  if (!isObject(value)) fail(`${where} must be a descriptor object`);
  const mediaType = value.mediaType;
  if (typeof mediaType !== 'string' || mediaType.length === 0) fail(`${where}.mediaType must be a string`);
  if (typeof value.digest !== 'string') fail(`${where}.digest must be a string`);
  const parsed = parseDigest(value.digest);
  if (!parsed.ok) fail(`${where}.digest: ${parsed.message}`);
  const size = value.size;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    fail(`${where}.size must be a non-negative integer`);
  }
  return {
    mediaType,
    digest: parsed.digest,
    size,
    artifactType: optionalString(value.artifactType, `${where}.artifactType`),
    annotations: optionalAnnotations(value.annotations, `${where}.annotations`),
  };
}

function optionalString(value: unknown, where: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') fail(`${where} must be a string`);
  return value;
}

function optionalAnnotations(value: unknown, where: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) fail(`${where} must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== 'string') fail(`${where}["${k}"] must be a string`);
    out[k] = v;
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
