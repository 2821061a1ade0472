// Small type guards for untrusted JSON. Every read of a key goes through `own`, so a document that
// carries `__proto__`, `constructor` or `toString` keys can never make us see inherited values, and
// nothing here ever assigns an untrusted key onto a plain object.

/** A JSON object (not null, not an array). */
export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The value of an own property, or undefined when the key is absent or only inherited. */
export function own(obj: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

// OCI digest grammar: algorithm ":" encoded. Registered algorithms get their exact lengths checked.
const DIGEST_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const HEX_LENGTH: Readonly<Record<string, number>> = { sha256: 64, sha512: 128 };
const MAX_DIGEST_LENGTH = 256;

/** True for a syntactically valid digest string (sha256/sha512 must be lowercase hex). */
export function isDigest(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > MAX_DIGEST_LENGTH || !DIGEST_RE.test(value)) {
    return false;
  }
  const colon = value.indexOf(':');
  const algorithm = value.slice(0, colon);
  const hex = value.slice(colon + 1);
  const expected = Object.hasOwn(HEX_LENGTH, algorithm) ? HEX_LENGTH[algorithm] : undefined;
  return expected === undefined || (hex.length === expected && /^[a-f0-9]+$/.test(hex));
}

/**
 * Longest accepted record key. Real keys are a sha256 digest (71 characters) or a 25-character
 * BuildKit ID; the bound keeps what a hostile document can make us store and compare small.
 */
export const MAX_CACHE_KEY_LENGTH = 256;
// Visible ASCII only: no whitespace or control characters (keys reach logs and error messages),
// no NUL (PostgreSQL text cannot hold it, and coalesce.ts joins keys with NUL), and no non-ASCII
// (emit.ts sorts keys by UTF-16 code unit, which equals Go's byte order only for ASCII).
const CACHE_KEY_RE = /^[\x21-\x7e]+$/;

/**
 * True for an acceptable record key. To BuildKit a record's `digest` is an opaque identifier, not
 * a content digest: most are `sha256:…` cache-map digests, but a build that also exports an image
 * writes random IDs such as `hzlv04bns7udz5fz7ypvi2189` — and imports them like any other key.
 * Keys are only ever compared for equality and order, never resolved to content.
 */
export function isCacheKey(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_CACHE_KEY_LENGTH && CACHE_KEY_RE.test(value);
}

/** A JSON number that is an integer a Go `int` and a JS number both hold exactly. */
export function isInt(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value);
}

/** Describe a value's JSON type for error messages ("array", "null", "string", …). */
export function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/** Untrusted text made safe for an error message: short, and control characters escaped (so a
 *  hostile document cannot forge log lines through a reason). */
export function clip(text: string, max = 120): string {
  const short = text.length <= max ? text : `${text.slice(0, max)}…`;
  return short.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
