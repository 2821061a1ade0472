// Entry points for untrusted cache documents: bytes in, a validated CacheConfig (or a reason) out.
// Never throws on hostile input; cost is bounded by ParseLimits (size is checked before decoding).
import { checkGraph, type GraphFacts } from './graph-check.js';
import { clip, jsonType } from './guards.js';
import { resolveLimits, type ParseLimits } from './limits.js';
import { computeStats, type CacheStats } from './stats.js';
import type { CacheConfig, Descriptor } from './types.js';
import { toCacheConfig } from './validate.js';
import { serializeCacheConfig } from './wire.js';

export type ParseResult =
  | { ok: true; config: CacheConfig; stats: CacheStats }
  | { ok: false; reason: string };

/**
 * Parse and validate a cacheconfig blob. The returned config keeps the document's order and
 * indexes; optional fields are explicit (`parent` absent → 0, `selector` absent → none).
 */
export function parseCacheConfig(input: Uint8Array | string, limits?: Partial<ParseLimits>): ParseResult {
  const l = resolveLimits(limits);
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
  if (size > l.maxBytes) return failed(`cacheconfig is ${size} bytes, over the limit of ${l.maxBytes}`);
  const json = decodeJson(input);
  if (!json.ok) return failed(`cacheconfig ${json.reason}`);
  return validateParsed(json.value, l, false);
}

/**
 * Parse inline cache: `cache` is the image config's `moby.buildkit.cache.v0` value (base64 of a
 * JSON array of records) and `layers` the image manifest's layers. As in BuildKit's importer, the
 * layer chain is the image's layers in order, each on top of the previous one.
 */
export function parseInlineCache(
  cache: unknown, layers: readonly Descriptor[], limits?: Partial<ParseLimits>,
): ParseResult {
  const l = resolveLimits(limits);
  if (typeof cache !== 'string') return failed(`inline cache: expected a base64 string, got ${jsonType(cache)}`);
  if (cache.length > Math.ceil(l.maxBytes / 3) * 4) return failed(`inline cache: over the limit of ${l.maxBytes} bytes`);
  // Go decodes []byte with strict standard base64; Buffer would silently skip bad characters.
  if (cache.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(cache)) return failed('inline cache: not valid base64');
  const json = decodeJson(Buffer.from(cache, 'base64'));
  if (!json.ok) return failed(`inline cache ${json.reason}`);
  if (json.value !== null && !Array.isArray(json.value)) {
    return failed(`inline cache: expected a JSON array of records, got ${jsonType(json.value)}`);
  }
  if (layers.length > l.maxLayers) return failed(`inline cache: ${layers.length} layers exceed the limit of ${l.maxLayers}`);
  const chain = layers.map((d, i) => ({ blob: d.digest, parent: i - 1 }));
  return validateParsed({ layers: chain, records: json.value }, l, true);
}

/**
 * Re-validate an in-memory config (e.g. one a caller built or edited) with exactly the rules
 * applied to pushed bytes, by serialising it and parsing it back. Also returns the graph facts.
 */
export function checkCacheConfig(
  config: CacheConfig, limits?: Partial<ParseLimits>,
): { ok: true; config: CacheConfig; stats: CacheStats; facts: GraphFacts } | { ok: false; reason: string } {
  let bytes: Uint8Array;
  try {
    bytes = serializeCacheConfig(config);
  } catch {
    return failed('cacheconfig cannot be serialised');
  }
  return analyze(decodeJson(bytes), resolveLimits(limits), false);
}

function validateParsed(value: unknown, limits: ParseLimits, inline: boolean): ParseResult {
  const result = analyze({ ok: true, value }, limits, inline);
  return result.ok ? { ok: true, config: result.config, stats: result.stats } : result;
}

function analyze(
  json: ReturnType<typeof decodeJson>, limits: ParseLimits, inline: boolean,
): { ok: true; config: CacheConfig; stats: CacheStats; facts: GraphFacts } | { ok: false; reason: string } {
  const what = inline ? 'inline cache' : 'cacheconfig';
  if (!json.ok) return failed(`${what} ${json.reason}`);
  const shaped = toCacheConfig(json.value, limits);
  if (!shaped.ok) return failed(`${what} ${shaped.reason}`);
  const graph = checkGraph(shaped.config, limits.maxChainDepth);
  if (!graph.ok) return failed(`${what} ${graph.reason}`);
  const stats = computeStats(shaped.config, graph.facts);
  if (inline && stats.mode === 'max') stats.mode = 'min'; // inline cache only exists in min mode
  return { ok: true, config: shaped.config, stats, facts: graph.facts };
}

// ignoreBOM keeps a byte-order mark in the text so JSON.parse rejects it, as Go's decoder does.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** UTF-8 decode and JSON.parse without throwing (V8's JSON.parse is iterative: deep nesting is safe). */
export function decodeJson(input: Uint8Array | string): { ok: true; value: unknown } | { ok: false; reason: string } {
  let text: string;
  try {
    text = typeof input === 'string' ? input : utf8.decode(input);
  } catch {
    return { ok: false, reason: 'is not valid UTF-8' };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, reason: `is not JSON: ${clip(err instanceof Error ? err.message : String(err))}` };
  }
}

function failed(reason: string): { ok: false; reason: string } {
  return { ok: false, reason };
}
