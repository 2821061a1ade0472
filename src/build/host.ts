/**
 * What a build worker needs from the registry, and nothing more: the worker is a client of the
 * registry's services, never of its HTTP API. In `cairn serve` on the embedded default (PGlite:
 * one process per data directory) the worker process reaches these through the server process
 * over a local channel (IPC); `cairn worker` over PostgreSQL opens the services itself. Blob bytes
 * never cross the channel: the worker opens the same blob store (filesystem or S3) and calls
 * `linkBlob` once a blob it wrote is committed.
 */
import type { Readable } from 'node:stream';
import type { BuildActor } from './job.js';

export interface CacheRecordHit {
  /** The chain key that was found. */
  readonly key: string;
  /** Layers of the step's result, lowest first (the whole chain down to the base). */
  readonly layers: ReadonlyArray<{ readonly digest: string; readonly size: number; readonly mediaType: string; readonly diffId: string; readonly createdAt?: string }>;
  /** Where it was found (repository and cache tag), for the cache report. */
  readonly repository: string;
  readonly tag: string;
  readonly createdAt: string;
}

/** What one step was made of, kept by chain key so a later miss can name what changed. */
export interface StepInputsRecord {
  readonly key: string;
  /** Stage (name or index) and step index: `deps#2`. */
  readonly position: string;
  readonly inputs: Readonly<Record<string, unknown>>;
}

export interface StoredManifest {
  readonly digest: string;
  readonly mediaType: string;
  readonly payload: Buffer;
}

export interface BuildHost {
  /** The stored manifest of `repository:reference` (tag or digest), or undefined. */
  manifest(repository: string, reference: string): Promise<StoredManifest | undefined>;
  /**
   * A base image's manifest (FROM, `COPY --from`, `RUN --mount=from=`) resolved as `actor`:
   * 'denied' when they may not pull `repository`, judged before it is looked up, so a denial says
   * nothing about whether it exists.
   */
  manifestAs(actor: BuildActor, repository: string, reference: string): Promise<StoredManifest | undefined | 'denied'>;
  /** Blob bytes of a blob linked in `repository` (config or layer). */
  openBlob(repository: string, digest: string): Promise<Readable>;
  /** Records that `repository` holds a committed blob (the bytes are already in the store). */
  linkBlob(repository: string, digest: string, size: number): Promise<void>;
  /** Stores a manifest under a tag or digest, as a push would (cache indexing and policies apply). */
  putManifest(repository: string, reference: string, mediaType: string, payload: Buffer): Promise<{ digest: string }>;
  /**
   * All of a stage's chain keys in one query: the first hit per key, searched in the target
   * repository's cache tags in `tags` order (the build's cache branch, then its fallbacks).
   */
  lookupCache(repository: string, tags: readonly string[], keys: readonly string[]): Promise<Map<string, CacheRecordHit>>;
  /** The cache tags to search for a branch: its own, then the repository's fallback chain. */
  cacheTags(repository: string, branch: string | undefined): Promise<string[]>;
  /** Records the inputs of steps this build ran (first writer of a key wins). */
  saveSteps(repository: string, steps: readonly StepInputsRecord[]): Promise<void>;
  /** The newest recorded step at each of `positions` (for the cache report of misses). */
  latestSteps(repository: string, positions: readonly string[]): Promise<StepInputsRecord[]>;
}
