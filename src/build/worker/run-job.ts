/**
 * The one seam between the worker and the build engine (src/build/engine): `runBuild(job, deps,
 * emit, signal)`. The engine is imported lazily so that only worker processes load it.
 */
import type { BuildHost } from '../host.js';
import type { BuildEvent, BuildJob, BuildResult } from '../job.js';
import type { BlobStore } from '../../storage/blob-store.js';

export interface EngineDeps {
  readonly host: BuildHost;
  /** The registry's own blob store (layers are written straight into it, then linked). */
  readonly store: BlobStore;
  /** This worker's directory under DATA_DIR/worker (snapshots, cache mounts, scratch). */
  readonly workDir: string;
  /**
   * This process's snapshot cache directory (default workDir/snapshots). A SnapshotCache owns its
   * directory, so each worker process of `cairn serve` has its own (DATA_DIR/worker/<slot>/snapshots).
   */
  readonly snapshotDir?: string;
}

export type RunBuild = (job: BuildJob, deps: EngineDeps, emit: (event: BuildEvent) => void, signal: AbortSignal) => Promise<BuildResult>;

/** The build engine, loaded only by worker processes. */
export async function loadEngine(): Promise<RunBuild> {
  return (await import('../engine/index.js')).runBuild;
}
