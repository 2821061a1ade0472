/**
 * A step that missed the cache, run for real: snapshots of its layer chain acquired (extracted on
 * first use), the step's changes made in a fresh upper directory (RUN under the executor, COPY/ADD
 * and WORKDIR as file operations without a container), turned into a layer written straight into
 * the blob store, and linked to the repository. Returns the new layer chain; a step that changed
 * nothing returns its parent's (an empty layer in history).
 */
import { chown, mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { RunMount, StageBase, Step } from '../dockerfile/model.js';
import type { ExecLimits, ExecMount } from '../executor/executor.js';
import type { BlobSink, BlobSource, Compression } from '../layers/layers.js';
import { resolveChown } from '../layers/copy.js';
import { layeredRootfs } from '../layers/rootfs.js';
import type { CacheMounts } from './cache-mounts.js';
import type { Layer } from './image.js';
import type { BuildParts, CopyStep } from './parts.js';
import { acquireLowers, mergedView } from './rootfs.js';
import type { LogSink } from './vertices.js';

/** A step's process failed or was refused; the message is BuildKit's where it has one. */
export class StepFailedError extends Error {}

export interface StepContext {
  readonly parts: BuildParts;
  readonly source: BlobSource;
  readonly sink: BlobSink;
  link(digest: string, size: number): Promise<void>;
  /** The build's scratch directory (upper directories and views are made under it). */
  readonly scratch: string;
  readonly contextDir: string;
  readonly repository: string;
  readonly cacheMounts: CacheMounts;
  readonly network: 'none' | 'outbound';
  readonly limits: ExecLimits;
  readonly compression: Compression;
  readonly sourceDateEpoch?: number;
  readonly hostname: string;
  readonly now: () => Date;
  readonly signal: AbortSignal;
  readonly onLog: LogSink;
}

type RunStep = Extract<Step, { kind: 'run' }>;
type WorkdirStep = Extract<Step, { kind: 'workdir' }>;

export async function executeStep(
  ctx: StepContext,
  step: Step,
  chain: readonly Layer[],
  chainOf: (base: StageBase) => Promise<readonly Layer[]>,
): Promise<readonly Layer[]> {
  const upper = await mkdtemp(join(ctx.scratch, 'upper-'));
  const lowers = await acquireLowers(ctx.parts.snapshots, ctx.source, chain);
  try {
    if (step.kind === 'run') await runProcess(ctx, step, lowers.dirs, upper, chainOf);
    else if (step.kind === 'copy') await copyFiles(ctx, step, lowers.dirs, upper, chainOf);
    else if (step.kind === 'workdir') await makeWorkdir(ctx, step, lowers.dirs, upper);
    else return chain;
    const layer = await ctx.parts.layerWriter.fromUpperDir(upper, ctx.sink, {
      compression: ctx.compression,
      ...(ctx.sourceDateEpoch !== undefined ? { sourceDateEpoch: ctx.sourceDateEpoch } : {}),
    });
    if (!layer) return chain;
    await ctx.link(layer.digest, layer.size);
    return [...chain, { ...layer, createdAt: ctx.now().toISOString() }];
  } finally {
    lowers.release();
    await rm(upper, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function runProcess(
  ctx: StepContext,
  step: RunStep,
  lowerDirs: readonly string[],
  upperDir: string,
  chainOf: (base: StageBase) => Promise<readonly Layer[]>,
): Promise<void> {
  if (step.network === 'host') throw new StepFailedError('RUN --network=host is not allowed: build steps never share the host network');
  const mounts: ExecMount[] = [];
  const caches: Array<Extract<RunMount, { type: 'cache' }>> = [];
  const views: Array<{ close(): Promise<void>; release(): void }> = [];
  try {
    for (const mount of step.mounts) {
      if (mount.type === 'cache') {
        if (mount.from) throw new StepFailedError('RUN --mount=type=cache,from=… is not supported yet');
        caches.push(mount);
      } else if (mount.type === 'tmpfs') mounts.push({ kind: 'tmpfs', target: mount.target, ...(mount.size !== undefined ? { sizeBytes: mount.size } : {}) });
      else if (mount.type === 'bind') {
        // Bind mounts are read-only here: a `rw` bind's writes are discarded by BuildKit anyway.
        let root = ctx.contextDir;
        if (mount.from) {
          const held = await acquireLowers(ctx.parts.snapshots, ctx.source, await chainOf(mount.from));
          const view = await mergedView(held.dirs, ctx.scratch);
          views.push({ close: view.close, release: held.release });
          root = view.dir;
        }
        mounts.push({ kind: 'bind', source: insideDir(root, mount.source, true), target: mount.target, readonly: true });
      } else if (mount.required) throw new StepFailedError(`secret "${mount.id}" was not provided to this build`);
    }
    await execute(ctx, step, lowerDirs, upperDir, mounts, caches);
  } finally {
    for (const view of views) {
      await view.close();
      view.release();
    }
  }
}

async function execute(
  ctx: StepContext,
  step: RunStep,
  lowerDirs: readonly string[],
  upperDir: string,
  mounts: ExecMount[],
  caches: ReadonlyArray<Extract<RunMount, { type: 'cache' }>>,
): Promise<void> {
  if (step.heredocs.length > 0) {
    const pipes = await mkdtemp(join(ctx.scratch, 'heredocs-'));
    for (const doc of step.heredocs) await writeFile(insideDir(pipes, doc.name), doc.content, { mode: 0o755 });
    mounts.push({ kind: 'bind', source: pipes, target: '/dev/pipes', readonly: true });
  }
  const result = await withCacheMounts(ctx, caches, mounts, (all) =>
    ctx.parts.executor.run({
      lowerDirs,
      upperDir,
      argv: step.argv,
      env: [...step.env, ...step.proxyEnv],
      cwd: step.config.workingDir ?? '/',
      user: step.config.user ?? '0:0',
      mounts: all,
      network: step.network === 'none' ? 'none' : ctx.network,
      limits: ctx.limits,
      hostname: ctx.hostname,
      signal: ctx.signal,
      onOutput: (chunk, stream) => ctx.onLog(stream, chunk),
    }),
  );
  if (result.exitCode !== 0 || result.killedBy) {
    const why = result.killedBy ? ` (stopped by the ${result.killedBy} limit)` : '';
    throw new StepFailedError(`process "${step.argv.join(' ')}" did not complete successfully: exit code: ${result.exitCode}${why}`);
  }
}

/** Holds every cache mount of the step (each in its sharing mode) while the process runs. */
function withCacheMounts<T>(
  ctx: StepContext,
  caches: ReadonlyArray<Extract<RunMount, { type: 'cache' }>>,
  mounts: readonly ExecMount[],
  work: (mounts: readonly ExecMount[]) => Promise<T>,
): Promise<T> {
  const [first, ...rest] = caches;
  if (!first) return work(mounts);
  return ctx.cacheMounts.use(ctx.repository, first, (dir) =>
    withCacheMounts(ctx, rest, [...mounts, { kind: 'bind', source: dir, target: first.target, readonly: first.readonly }], work),
  );
}

async function copyFiles(
  ctx: StepContext,
  step: CopyStep,
  lowerDirs: readonly string[],
  upperDir: string,
  chainOf: (base: StageBase) => Promise<readonly Layer[]>,
): Promise<void> {
  if (step.parents) throw new StepFailedError(`${step.add ? 'ADD' : 'COPY'} --parents is not supported yet`);
  const chain = step.from ? await chainOf(step.from) : undefined;
  const fromLowers = chain ? await acquireLowers(ctx.parts.snapshots, ctx.source, chain) : undefined;
  const sourceView = fromLowers ? await mergedView(fromLowers.dirs, ctx.scratch) : undefined;
  try {
    await ctx.parts.context.copy(sourceView?.dir ?? ctx.contextDir, step, upperDir, lowerDirs, sourceView === undefined);
  } finally {
    await sourceView?.close();
    fromLowers?.release();
  }
}

/**
 * WORKDIR creates its directory (and missing parents, 0755) as BuildKit does, owned by a numeric
 * USER when one is set. Existing parents are copied up with their own metadata, as overlayfs
 * would, so the layer carries them unchanged.
 */
async function makeWorkdir(ctx: StepContext, step: WorkdirStep, lowerDirs: readonly string[], upperDir: string): Promise<void> {
  const view = layeredRootfs(lowerDirs);
  {
    const parts = posix.resolve('/', step.path).split('/').filter(Boolean);
    const { uid, gid } = await resolveChown(step.config.user, view).catch(() => ({ uid: 0, gid: 0 }));
    let created = false;
    for (let i = 1; i <= parts.length; i++) {
      const relative = parts.slice(0, i).join('/');
      const existing = await view.stat(`/${relative}`);
      if (existing && !existing.isDirectory()) throw new StepFailedError(`WORKDIR ${step.path}: /${relative} exists and is not a directory`);
      const target = join(upperDir, relative);
      if (existing) {
        if (i === parts.length) break;
        await mkdir(target, { mode: existing.mode & 0o7777 });
        await chown(target, existing.uid, existing.gid);
        await utimes(target, existing.atime, existing.mtime);
      } else {
        await mkdir(target, { mode: 0o755 });
        await chown(target, uid, gid);
        created = true;
      }
    }
    // Nothing new: the parents copied up would only be noise in an otherwise empty layer.
    if (!created) {
      await rm(upperDir, { recursive: true, force: true });
      await mkdir(upperDir);
    }
  }
}

/** `name` under `dir`, refusing anything that would leave it. */
function insideDir(dir: string, name: string, rootAllowed = false): string {
  const clean = posix.normalize(`/${name}`).replace(/^\/+/, '');
  if (clean === '' && rootAllowed) return dir;
  if (clean === '' || clean.split('/').includes('..')) throw new StepFailedError(`path "${name}" leaves its directory`);
  return join(dir, clean);
}
