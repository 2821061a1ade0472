// Shape validation: untrusted parsed JSON → CacheConfig with every optional field made explicit.
// Follows what BuildKit's Go decoder accepts (null behaves like absent, absent ints are 0) and the
// rules BuildKit's importer enforces (indexes in range, no empty input list), but checks every
// entry rather than only those a build happens to reach, so a registry can reject a broken cache
// when it is pushed instead of letting every later build silently run uncached. Graph rules (loops, depth)
// live in graph-check.ts.
import { clip, isCacheKey, isDigest, isInt, isObject, jsonType, MAX_CACHE_KEY_LENGTH, own } from './guards.js';
import type { ParseLimits } from './limits.js';
import { isRfc3339 } from './time.js';
import type {
  CacheConfig, CacheInput, CacheLayer, CacheRecord, CacheResult, ChainedResult, LayerAnnotations,
} from './types.js';

/** Thrown inside this module only; `toCacheConfig` turns it into a reason. */
class Invalid extends Error {}

function fail(path: string, message: string): never {
  throw new Invalid(`${path}: ${message}`);
}

/** Counters shared by the whole document so that limits apply to totals, not per entry. */
interface Budget { limits: ParseLimits; links: number; results: number }

/** Validate a parsed cacheconfig document. */
export function toCacheConfig(
  value: unknown, limits: ParseLimits,
): { ok: true; config: CacheConfig } | { ok: false; reason: string } {
  try {
    if (!isObject(value)) fail('document', `expected a JSON object, got ${jsonType(value)}`);
    const budget: Budget = { limits, links: 0, results: 0 };
    const rawLayers = list(own(value, 'layers'), 'layers', limits.maxLayers);
    const rawRecords = list(own(value, 'records'), 'records', limits.maxRecords);
    const layers = rawLayers.map((l, i) => toLayer(l, `layers[${i}]`, rawLayers.length));
    const ctx = { layerCount: layers.length, recordCount: rawRecords.length, budget };
    const records = rawRecords.map((r, i) => toRecord(r, `records[${i}]`, ctx));
    return { ok: true, config: { layers, records } };
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, reason: err.message };
    throw err;
  }
}

/** An array field; absent or null means empty, like a nil Go slice. */
function list(value: unknown, path: string, max: number): unknown[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(path, `expected an array, got ${jsonType(value)}`);
  if (value.length > max) fail(path, `${value.length} entries exceed the limit of ${max}`);
  return value;
}

/** An index field: absent or null means 0 (Go zero value), otherwise an integer in [min, count). */
function index(value: unknown, path: string, min: number, count: number, what: string): number {
  const n = value === undefined || value === null ? 0 : value;
  if (!isInt(n)) fail(path, `expected an integer, got ${jsonType(n)}`);
  if (n < min || n >= count) {
    const range = count === 0 ? `${what} is empty` : `valid: ${min}…${count - 1}`;
    fail(path, `index ${n} is out of range (${range})`);
  }
  return n;
}

function optionalString(value: unknown, path: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') fail(path, `expected a string, got ${jsonType(value)}`);
  return value;
}

function optionalTime(value: unknown, path: string): string | undefined {
  const text = optionalString(value, path);
  if (text !== undefined && !isRfc3339(text)) fail(path, `not an RFC 3339 time: "${clip(text)}"`);
  return text;
}

function digest(value: unknown, path: string): string {
  if (!isDigest(value)) {
    fail(path, typeof value === 'string' ? `not a digest: "${clip(value)}"` : `expected a digest string, got ${jsonType(value)}`);
  }
  return value;
}

/** A record key: opaque to BuildKit (see `isCacheKey`), so any short visible-ASCII string. */
function cacheKey(value: unknown, path: string): string {
  if (isCacheKey(value)) return value;
  if (typeof value !== 'string') fail(path, `expected a cache key string, got ${jsonType(value)}`);
  if (value.length === 0) fail(path, 'empty cache key');
  if (value.length > MAX_CACHE_KEY_LENGTH) fail(path, `cache key of ${value.length} characters exceeds the limit of ${MAX_CACHE_KEY_LENGTH}`);
  fail(path, `cache key "${clip(value)}" has characters other than visible ASCII`);
}

function toLayer(value: unknown, path: string, count: number): CacheLayer {
  if (!isObject(value)) fail(path, `expected an object, got ${jsonType(value)}`);
  const blob = digest(own(value, 'blob'), `${path}.blob`);
  // The trap: BuildKit omits `parent` when it is 0, so absent means "on top of layer 0".
  const parent = index(own(value, 'parent'), `${path}.parent`, -1, count, 'layers');
  const annotations = toAnnotations(own(value, 'annotations'), `${path}.annotations`);
  return annotations ? { blob, parent, annotations } : { blob, parent };
}

function toAnnotations(value: unknown, path: string): LayerAnnotations | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) fail(path, `expected an object, got ${jsonType(value)}`);
  const out: LayerAnnotations = {};
  const mediaType = optionalString(own(value, 'mediaType'), `${path}.mediaType`);
  if (mediaType) out.mediaType = mediaType;
  const diffID = optionalString(own(value, 'diffID'), `${path}.diffID`);
  if (diffID) out.diffID = diffID;
  const size = own(value, 'size');
  if (size !== undefined && size !== null) {
    if (!isInt(size) || size < 0) fail(`${path}.size`, 'expected a non-negative integer');
    if (size > 0) out.size = size;
  }
  const createdAt = optionalTime(own(value, 'createdAt'), `${path}.createdAt`);
  if (createdAt !== undefined) out.createdAt = createdAt;
  const additional = toStringMap(own(value, 'additional'), `${path}.additional`);
  if (additional) out.additional = additional;
  return out;
}

function toStringMap(value: unknown, path: string): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) fail(path, `expected an object, got ${jsonType(value)}`);
  const entries = Object.entries(value);
  for (const [key, v] of entries) {
    if (typeof v !== 'string') fail(`${path}["${clip(key, 40)}"]`, `expected a string, got ${jsonType(v)}`);
  }
  // fromEntries defines own properties, so a "__proto__" key stays data and never a prototype.
  return entries.length > 0 ? (Object.fromEntries(entries) as Record<string, string>) : undefined;
}

interface RecordContext { layerCount: number; recordCount: number; budget: Budget }

function toRecord(value: unknown, path: string, ctx: RecordContext): CacheRecord {
  if (!isObject(value)) fail(path, `expected an object, got ${jsonType(value)}`);
  const d = cacheKey(own(value, 'digest'), `${path}.digest`);
  // BuildKit never exports random: keys (they are not reproducible), so one here is forged.
  if (d.startsWith('random:')) fail(`${path}.digest`, 'random: keys are never exported by BuildKit');
  const results = toResults(own(value, 'layers'), `${path}.layers`, ctx);
  const chains = toChains(own(value, 'chains'), `${path}.chains`, ctx);
  const inputs = toInputs(own(value, 'inputs'), `${path}.inputs`, ctx);
  return { digest: d, results, chains, inputs };
}

function spend(budget: Budget, kind: 'links' | 'results', n: number, path: string): void {
  budget[kind] += n;
  const max = kind === 'links' ? budget.limits.maxLinks : budget.limits.maxResults;
  if (budget[kind] > max) fail(path, `more than ${max} ${kind} in the document`);
}

function toResults(value: unknown, path: string, ctx: RecordContext): CacheResult[] {
  const raw = list(value, path, ctx.budget.limits.maxResults);
  spend(ctx.budget, 'results', raw.length, path);
  return raw.map((r, i) => {
    const p = `${path}[${i}]`;
    if (!isObject(r)) fail(p, `expected an object, got ${jsonType(r)}`);
    const layer = index(own(r, 'layer'), `${p}.layer`, 0, ctx.layerCount, 'layers');
    const createdAt = optionalTime(own(r, 'createdAt'), `${p}.createdAt`);
    return createdAt === undefined ? { layer } : { layer, createdAt };
  });
}

function toChains(value: unknown, path: string, ctx: RecordContext): ChainedResult[] {
  const raw = list(value, path, ctx.budget.limits.maxResults);
  return raw.map((c, i) => {
    const p = `${path}[${i}]`;
    if (!isObject(c)) fail(p, `expected an object, got ${jsonType(c)}`);
    const rawLayers = list(own(c, 'layers'), `${p}.layers`, ctx.budget.limits.maxChainDepth);
    spend(ctx.budget, 'results', Math.max(1, rawLayers.length), p);
    const layers = rawLayers.map((l, j) => index(l, `${p}.layers[${j}]`, 0, ctx.layerCount, 'layers'));
    const createdAt = optionalTime(own(c, 'createdAt'), `${p}.createdAt`);
    return createdAt === undefined ? { layers } : { layers, createdAt };
  });
}

function toInputs(value: unknown, path: string, ctx: RecordContext): CacheInput[][] {
  const raw = list(value, path, ctx.budget.limits.maxLinks);
  return raw.map((alternatives, k) => {
    const p = `${path}[${k}]`;
    const alts = list(alternatives, p, ctx.budget.limits.maxLinks);
    // BuildKit: "invalid empty input" — a dependency with no acceptable source can never match.
    if (alts.length === 0) fail(p, 'empty list of alternatives (every input needs at least one source)');
    spend(ctx.budget, 'links', alts.length, p);
    return alts.map((a, j) => toInput(a, `${p}[${j}]`, ctx.recordCount));
  });
}

function toInput(value: unknown, path: string, recordCount: number): CacheInput {
  if (!isObject(value)) fail(path, `expected an object, got ${jsonType(value)}`);
  const link = index(own(value, 'link'), `${path}.link`, 0, recordCount, 'records');
  const selector = optionalString(own(value, 'selector'), `${path}.selector`);
  return selector ? { selector, link } : { link };
}
