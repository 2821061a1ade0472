// Hard bounds for untrusted cache documents. BuildKit itself never reads a cacheconfig over 1 MiB,
// so real configs sit far below these; the bounds exist so a hostile push costs bounded time and
// memory (every pass over a config is linear in these numbers).

export interface ParseLimits {
  /** Largest accepted cacheconfig (or decoded inline cache) in bytes. */
  maxBytes: number;
  /** Largest `layers[]`. */
  maxLayers: number;
  /** Largest `records[]`. */
  maxRecords: number;
  /** Most input alternatives (`inputs[k][j]` entries) over all records. */
  maxLinks: number;
  /** Most results plus chained-result layer references over all records. */
  maxResults: number;
  /** Longest layer parent chain, and longest path through record inputs. */
  maxChainDepth: number;
}

export const DEFAULT_LIMITS: Readonly<ParseLimits> = Object.freeze({
  maxBytes: 16 * 1024 * 1024,
  maxLayers: 100_000,
  maxRecords: 100_000,
  maxLinks: 1_000_000,
  maxResults: 1_000_000,
  maxChainDepth: 4096,
});

/** Defaults overridden by whatever the caller gave. */
export function resolveLimits(partial: Partial<ParseLimits> | undefined): ParseLimits {
  return { ...DEFAULT_LIMITS, ...partial };
}
