/**
 * A build as the builds API queues it, as the worker runs it, and as its events stream back to
 * the client. Shared by src/build/engine (which emits events), src/build/worker (which runs jobs)
 * and src/http/admin/builds (which serves them); the CLI client has its own copy of the event
 * shape (src/cli/build) so that it never loads server code.
 */

/** Who asked for a build, as the builds API recorded them (an account, or a caller of an open registry). */
export interface BuildActor {
  readonly name: string;
  readonly kind: 'account' | 'anonymous' | 'open' | 'system';
}

export interface BuildRequest {
  /** Target references (`repo:tag`), at least one; the first names the cache repository. */
  readonly tags: readonly string[];
  /** Path of the Dockerfile inside the context (default `Dockerfile`). */
  readonly dockerfile: string;
  readonly target?: string;
  readonly buildArgs: Readonly<Record<string, string>>;
  /** The branch whose cache is read and written (default: the repository's default branch). */
  readonly cacheBranch?: string;
  readonly noCache: boolean;
  /** Media types of the result: OCI (default) or Docker schema 2. */
  readonly format: 'oci' | 'docker';
  readonly compression: 'gzip' | 'zstd';
  /** Secrets for `RUN --mount=type=secret`, by id (never logged, never stored in the queue). */
  readonly secretIds?: readonly string[];
}

/** One build job: the request plus where its context is (a tar the API stored). */
export interface BuildJob {
  readonly id: string;
  readonly request: BuildRequest;
  /** Digest of the context tar in the blob store (uploaded by the client, linked nowhere). */
  readonly contextDigest: string;
  /** Who asked: audit and permission checks (pull on base images, judged as this actor). */
  readonly actor: BuildActor;
}

/**
 * Progress, modelled on BuildKit's vertices so `--progress plain` prints what BuildKit prints:
 * `#N [stage i/n] INSTRUCTION`, `#N CACHED`, output lines, `#N DONE 0.3s`, `#N ERROR …`.
 */
export type BuildEvent =
  | { readonly type: 'vertex'; readonly id: number; readonly name: string; readonly stage?: string; readonly step?: { readonly index: number; readonly count: number } }
  | { readonly type: 'cached'; readonly id: number }
  | { readonly type: 'log'; readonly id: number; readonly stream: 'stdout' | 'stderr'; readonly text: string }
  | { readonly type: 'done'; readonly id: number; readonly durationMs: number }
  | { readonly type: 'error'; readonly id: number; readonly message: string }
  | { readonly type: 'result'; readonly result: BuildResult };

/** Why a step missed the cache: the first input that differs from the nearest cached record. */
export type MissReason =
  | { readonly kind: 'no-cache' }
  | { readonly kind: 'instruction'; readonly detail: string }
  | { readonly kind: 'build-arg'; readonly name: string }
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'parent' }
  | { readonly kind: 'new' };

export interface CacheReportEntry {
  readonly step: string;
  readonly hit: boolean;
  readonly reason?: MissReason;
}

export interface BuildResult {
  readonly status: 'succeeded' | 'failed' | 'cancelled';
  readonly error?: string;
  /** Pushed references with the image digest. */
  readonly images: ReadonlyArray<{ readonly reference: string; readonly digest: string }>;
  readonly cache: readonly CacheReportEntry[];
  /** Server-side build time (worker took the job → result). */
  readonly durationMs: number;
}
