/**
 * Runs one RUN step in a sandbox. The engine prepares the root filesystem as a stack of read-only
 * layer directories plus one writable upper directory; the executor mounts them (overlayfs),
 * runs the process under runc with the limits and network given, and returns when it exits. What
 * the step wrote is then in `upperDir` (overlayfs format: whiteouts as 0/0 character devices,
 * opaque directories by xattr), for src/build/layers to turn into a layer.
 */
export interface ExecLimits {
  readonly memoryBytes: number;
  readonly pids: number;
  readonly timeoutMs: number;
  /** Bytes the step may write to its upper directory (disk filler). */
  readonly diskBytes: number;
}

export type ExecMount =
  | { readonly kind: 'bind'; readonly source: string; readonly target: string; readonly readonly: boolean }
  | { readonly kind: 'tmpfs'; readonly target: string; readonly sizeBytes?: number }
  /** A secret's bytes, mounted read-only as a file. */
  | { readonly kind: 'file'; readonly content: Buffer; readonly target: string; readonly mode: number; readonly uid: number; readonly gid: number };

export interface ExecSpec {
  /** Read-only layer directories, lowest first (extracted snapshots). Empty for `scratch`. */
  readonly lowerDirs: readonly string[];
  /** Empty writable directory that receives the step's changes. */
  readonly upperDir: string;
  readonly argv: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  /** `uid[:gid]` or a name resolved against the rootfs's /etc/passwd and /etc/group. */
  readonly user: string;
  readonly mounts: readonly ExecMount[];
  readonly network: 'none' | 'outbound';
  readonly limits: ExecLimits;
  /** Hostname inside the sandbox (BuildKit uses the build's id; stable across runs is fine). */
  readonly hostname: string;
  readonly signal: AbortSignal;
  /** stdout and stderr, interleaved as written. */
  onOutput(chunk: Buffer, stream: 'stdout' | 'stderr'): void;
}

export interface ExecResult {
  readonly exitCode: number;
  /** Set when a limit ended the step, to explain the failure. */
  readonly killedBy?: 'timeout' | 'memory' | 'pids' | 'disk' | 'cancel';
  readonly durationMs: number;
}

export interface Executor {
  /** Fails with ExecutorUnavailableError (naming what to install) when runc or overlayfs is missing. */
  check(): Promise<void>;
  run(spec: ExecSpec): Promise<ExecResult>;
}
