/**
 * Unpacks an uploaded build context (a tar, plain or compressed) into the build's directory,
 * refusing what could reach outside it: absolute paths, `..`, symlinks that point out of the
 * context, writes through symlinks. Each refusal names the entry. The context's size and entry
 * count are limited while reading, before anything past the limit is written.
 */
import type { Readable } from 'node:stream';
import { openDecompressed } from '../layers/compression.js';
import { extractTar, type ExtractResult } from '../layers/extract.js';

export interface ContextLimits {
  /** Total bytes of the files in the context (uncompressed). */
  readonly maxBytes: number;
  readonly maxEntries: number;
}

export const DEFAULT_CONTEXT_LIMITS: ContextLimits = { maxBytes: 2 * 1024 ** 3, maxEntries: 1_000_000 };

/** Extracts the context tar into `dir` (an empty directory). Files are owned by the worker. */
export async function extractContext(tar: Readable, dir: string, limits: ContextLimits = DEFAULT_CONTEXT_LIMITS): Promise<ExtractResult> {
  const { stream } = await openDecompressed(tar);
  return extractTar(stream, dir, { whiteouts: 'plain', confineSymlinks: true, owners: 'none', limits });
}
