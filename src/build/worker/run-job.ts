/**
 * The one seam between the worker and the build engine. The engine (src/build/engine, built in
 * parallel) exposes `runBuild(job, deps, emit, signal)`; when it lands, `defaultEngine` below
 * becomes `(await import('../engine/index.js')).runBuild` — a one-line change.
 *
 * CAIRN_TEST_BUILD_ENGINE names a module exporting a `runBuild` of the same shape, loaded instead:
 * the tests of the API, queue, workers, IPC and CLI run a small engine of their own through it
 * (test/build/support/test-engine.ts), so they exercise the whole path without runc.
 */
import { pathToFileURL } from 'node:url';
import type { BuildHost } from '../host.js';
import type { BuildEvent, BuildJob, BuildResult } from '../job.js';
import type { BlobStore } from '../../storage/blob-store.js';

export interface EngineDeps {
  readonly host: BuildHost;
  /** The registry's own blob store (layers are written straight into it, then linked). */
  readonly store: BlobStore;
  /** This worker's directory under DATA_DIR/worker (snapshots, cache mounts, scratch). */
  readonly workDir: string;
}

export type RunBuild = (job: BuildJob, deps: EngineDeps, emit: (event: BuildEvent) => void, signal: AbortSignal) => Promise<BuildResult>;

export async function loadEngine(env: NodeJS.ProcessEnv = process.env): Promise<RunBuild> {
  const override = env.CAIRN_TEST_BUILD_ENGINE;
  if (override) return ((await import(pathToFileURL(override).href)) as { runBuild: RunBuild }).runBuild;
  return defaultEngine();
}

/** The build engine (src/build/engine), loaded only by worker processes. */
async function defaultEngine(): Promise<RunBuild> {
  return (await import('../engine/index.js')).runBuild;
}
