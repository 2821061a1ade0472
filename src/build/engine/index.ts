/**
 * The build engine: a Dockerfile solved against a cache that is the registry itself.
 *
 *   context tar ──extract──► Dockerfile ─parse/plan─► stages (dependencies first, run concurrently)
 *   each stage: base (image manifest + config │ scratch │ earlier stage)
 *               → steps resolved with the base's config → chain keys (./keys.ts)
 *               → ONE cache lookup for all its keys (BuildHost.lookupCache)
 *               → hits: layer descriptors only (nothing read, nothing extracted)
 *                 misses: snapshots acquired, RUN under the executor / COPY / WORKDIR, layer
 *                 written straight into the blob store and linked
 *   result: image config + manifest to every tag, the cache as a BuildKit cacheconfig under the
 *           branch's cache tag, the inputs of new steps for later cache reports.
 *
 * Progress is emitted as BuildKit's vertices. The BuildEvent of type `result` is the caller's to
 * emit with the returned BuildResult (the worker adds what it knows, e.g. queue time).
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join, normalize, posix } from 'node:path';
import { Readable } from 'node:stream';
import { parseDigest } from '../../oci/digest.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { sha256Digest } from '../../cache/buildkit/index.js';
import type { Ast, BuildOptions, ImageConfigState, StageBase, StageHeader, StagePlan, Step } from '../dockerfile/model.js';
import type { ExecLimits } from '../executor/executor.js';
import type { BuildHost, CacheRecordHit, StepInputsRecord } from '../host.js';
import type { BuildEvent, BuildJob, BuildResult, CacheReportEntry } from '../job.js';
import type { BlobSource, Compression } from '../layers/layers.js';
import { loadBaseImage, parseImageReference, type BaseImage } from './base.js';
import { BlobStoreSink, BlobStoreSource } from '../layers/blob-sink.js';
import { buildCacheExport, type ExportRecord } from './cache-export.js';
import { CacheMounts } from './cache-mounts.js';
import { defaultParts } from './default-parts.js';
import {
  configState,
  historyEntry,
  hostPlatform,
  imageConfig,
  imageManifest,
  MEDIA_TYPES,
  parsePlatform,
  type HistoryEntry,
  type ImageConfigJson,
  type Layer,
  type Platform,
} from './image.js';
import { InFlight } from './inflight.js';
import { imageKey, SCRATCH_KEY, stepKey, type StepSources } from './keys.js';
import type { BuildParts, SourceDigest } from './parts.js';
import { missReason, type StepInputs } from './report.js';
import { executeStep, StepFailedError, type StepContext } from './steps.js';
import { Vertices } from './vertices.js';

export { StepFailedError } from './steps.js';
export type { BuildParts } from './parts.js';

export interface EngineDeps {
  readonly host: BuildHost;
  /** The registry's blob store: layers are written into it and snapshots read from it. */
  readonly store: BlobStore;
  /** DATA_DIR/worker: snapshots, cache mounts and per-build scratch space live under it. */
  readonly workDir: string;
  /**
   * This process's snapshot cache directory (default workDir/snapshots). A SnapshotCache owns its
   * directory, so each worker process of `cairn serve` has its own (DATA_DIR/worker/<slot>/snapshots).
   */
  readonly snapshotDir?: string;
  /** Default: the real parts for `workDir` (./default-parts.ts). */
  readonly parts?: BuildParts;
  /** What `RUN --network=default` gets (a server setting): no network, or outbound only. */
  readonly network?: 'none' | 'outbound';
  readonly limits?: ExecLimits;
  /** Unix seconds: layer times clamped to it (reproducible builds). */
  readonly sourceDateEpoch?: number;
  readonly now?: () => Date;
}

export const DEFAULT_LIMITS: ExecLimits = { memoryBytes: 2 * 1024 ** 3, pids: 1024, timeoutMs: 30 * 60_000, diskBytes: 10 * 1024 ** 3 };

/** Results of steps keyed by chain key, shared by every build in this process (see InFlight). */
const inFlight = new InFlight<readonly Layer[]>();
const cacheMountsByRoot = new Map<string, CacheMounts>();

export async function runBuild(job: BuildJob, deps: EngineDeps, emit: (event: BuildEvent) => void, signal: AbortSignal): Promise<BuildResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  let build: Build | undefined;
  try {
    const parts = deps.parts ?? defaultParts(deps.workDir, { ...(deps.snapshotDir ? { snapshotDir: deps.snapshotDir } : {}), ...(deps.network === 'outbound' ? { outbound: true } : {}) });
    build = new Build(job, { ...deps, parts }, emit, signal);
    const images = await build.run();
    return { status: 'succeeded', images, cache: build.finalReport ?? (await build.report()), durationMs: elapsed() };
  } catch (error) {
    // A failed build is an answer, never a rejection: the worker records it as the job's result.
    const cancelled = signal.aborted;
    const message = cancelled ? 'build cancelled' : (error as Error).message;
    build?.vertices.failOpen(message);
    const cache = build ? await build.report().catch(() => []) : [];
    return { status: cancelled ? 'cancelled' : 'failed', error: message, images: [], cache, durationMs: elapsed() };
  } finally {
    await build?.cleanup();
  }
}

interface StageResult {
  readonly key: string;
  /** The key of the last step that has a cache record (the parent link of the next stage's records). */
  readonly recordKey: string;
  readonly layers: readonly Layer[];
  readonly history: readonly HistoryEntry[];
  readonly state: ImageConfigState;
  readonly base: ImageConfigJson | undefined;
  readonly platform: Platform;
}

type PlannedBase =
  | { readonly kind: 'scratch'; readonly key: string; readonly recordKey: string; readonly state: ImageConfigState; readonly config: undefined }
  | { readonly kind: 'stage'; readonly index: number; readonly key: string; readonly recordKey: string; readonly state: ImageConfigState; readonly config: ImageConfigJson | undefined }
  | { readonly kind: 'image'; readonly image: BaseImage; readonly key: string; readonly recordKey: string; readonly state: ImageConfigState; readonly config: ImageConfigJson };

interface KeyedStep {
  readonly step: Step;
  readonly key: string;
  readonly sources: StepSources;
  readonly digest?: SourceDigest;
}

interface PlannedStage {
  readonly header: StageHeader;
  readonly platform: Platform;
  readonly base: PlannedBase;
  readonly keyed: readonly KeyedStep[];
  /** The key of the stage's result, and of its last step that has a cache record. */
  readonly key: string;
  readonly recordKey: string;
  readonly state: ImageConfigState;
  readonly label: (index: number, text: string) => string;
}

interface Miss {
  readonly index: number;
  readonly record: StepInputsRecord;
  readonly inputs: StepInputs;
}

class Build {
  readonly vertices: Vertices;
  private readonly id: string;
  private readonly dir: string;
  private readonly contextDir: string;
  private readonly repository: string;
  private readonly options: BuildOptions;
  private readonly stages = new Map<number, Promise<StageResult>>();
  private readonly planned = new Map<number, Promise<PlannedStage>>();
  private hits = new Map<string, CacheRecordHit>();
  private readonly images = new Map<string, Promise<BaseImage>>();
  private readonly exports: ExportRecord[] = [];
  /** Report entries with their place in build order (stages run concurrently). */
  private readonly entries: Array<CacheReportEntry & { miss?: Miss; order: [number, number] }> = [];
  private cacheTags: string[] = [];
  finalReport: CacheReportEntry[] | undefined;
  private ast: Ast | undefined;
  private plan: StagePlan | undefined;
  private readonly now: () => Date;

  constructor(
    private readonly job: BuildJob,
    private readonly deps: EngineDeps & { readonly parts: BuildParts },
    emit: (event: BuildEvent) => void,
    private readonly signal: AbortSignal,
  ) {
    this.vertices = new Vertices(emit);
    this.id = /^[A-Za-z0-9_-]{1,64}$/.test(job.id) ? job.id : sha256Digest(job.id).slice(7, 39);
    this.dir = join(deps.workDir, 'builds', this.id);
    this.contextDir = join(this.dir, 'context');
    const first = job.request.tags[0];
    if (!first) throw new Error('a build needs at least one tag');
    this.repository = parseImageReference(first).repository;
    const host = hostPlatform();
    this.options = {
      buildArgs: job.request.buildArgs,
      platform: `${host.os}/${host.architecture}${host.variant ? `/${host.variant}` : ''}`,
      ...(job.request.target ? { target: job.request.target } : {}),
    };
    this.now = deps.now ?? (() => new Date());
  }

  async run(): Promise<Array<{ reference: string; digest: string }>> {
    const { parts } = this.deps;
    // The cache tags are read while the context is unpacked.
    const cacheTags = this.deps.host.cacheTags(this.repository, this.job.request.cacheBranch);
    cacheTags.catch(() => undefined);
    const text = await this.vertices.step(`[internal] load build definition from ${this.job.request.dockerfile}`, async () => {
      await rm(this.dir, { recursive: true, force: true });
      await mkdir(this.contextDir, { recursive: true });
      const digest = parseDigest(this.job.contextDigest);
      if (!digest.ok) throw new Error(`context digest: ${digest.message}`);
      await parts.context.extract(await this.deps.store.read(digest.digest), this.contextDir);
      return readFile(this.insideContext(this.job.request.dockerfile), 'utf8');
    });
    this.ast = parts.dockerfile.parse(text);
    this.plan = parts.dockerfile.planStages(this.ast, this.options);
    const plan = this.plan;
    const planned = await Promise.all(plan.needed.map((i) => this.planStage(i)));
    // One query for the whole build's keys (at most one per stage, as the issue asks).
    const keys = planned.flatMap((p) => p.keyed.filter((k) => k.step.kind !== 'config').map((k) => k.key));
    this.cacheTags = await cacheTags;
    if (!this.job.request.noCache && keys.length > 0) this.hits = await this.deps.host.lookupCache(this.repository, this.cacheTags, keys);
    const results = await Promise.all(plan.needed.map((i) => this.stage(i)));
    const target = results[plan.needed.indexOf(plan.target)]!;
    const images = await this.output(target);
    await this.exportCache();
    // The report reads the previous records at each missed position before this build's join them.
    this.finalReport = await this.report();
    await this.saveSteps();
    return images;
  }

  /** The cache report: hits, and for misses the first input that changed (one query for all). */
  async report(): Promise<CacheReportEntry[]> {
    const misses = this.entries.filter((e) => e.miss);
    const positions = misses.map((e) => e.miss!.record.position);
    const before = positions.length > 0 && !this.job.request.noCache ? await this.deps.host.latestSteps(this.repository, positions) : [];
    const byPosition = new Map(before.map((r) => [r.position, r]));
    const ordered = [...this.entries].sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1]);
    return ordered.map(({ miss, order: _order, ...entry }) => {
      if (!miss) return entry;
      if (this.job.request.noCache) return { ...entry, reason: { kind: 'no-cache' } };
      const previous = byPosition.get(miss.record.position);
      const same = previous && previous.key !== miss.record.key ? (previous.inputs as unknown as StepInputs) : undefined;
      return { ...entry, reason: missReason(miss.inputs, same) };
    });
  }

  async cleanup(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }

  private stage(index: number): Promise<StageResult> {
    let result = this.stages.get(index);
    if (!result) {
      result = this.buildStage(index);
      this.stages.set(index, result);
    }
    return result;
  }

  private image(reference: string, platform: Platform): Promise<BaseImage> {
    const key = `${reference}\u0000${platform.os}/${platform.architecture}`;
    let image = this.images.get(key);
    if (!image) {
      image = this.vertices.step(`[internal] load metadata for ${reference}`, () => loadBaseImage(this.deps.host, this.job.actor, reference, platform));
      this.images.set(key, image);
    }
    return image;
  }

  /**
   * A stage's plan: its base, its steps resolved against the base's config, and every step's
   * chain key. Needs other stages' plans (keys and configs), never their results, so the whole
   * build is keyed (and looked up) before anything runs.
   */
  private planStage(index: number): Promise<PlannedStage> {
    let planned = this.planned.get(index);
    if (!planned) {
      planned = this.makePlan(index);
      this.planned.set(index, planned);
    }
    return planned;
  }

  private async makePlan(index: number): Promise<PlannedStage> {
    const plan = this.plan!;
    const header = plan.stages[index]!;
    const platform = (header.platform ? parsePlatform(header.platform) : undefined) ?? hostPlatform();
    const base = await this.planBase(header, platform);
    const steps = this.deps.parts.dockerfile.resolveStage(this.ast!, plan, index, base.state, this.options);
    const keyed: KeyedStep[] = [];
    let parent = base.key;
    let recordKey = base.recordKey;
    for (const step of steps) {
      const { sources, digest } = await this.sourcesOf(step, platform);
      const key = stepKey(parent, step, sources);
      keyed.push({ step, key, sources, ...(digest ? { digest } : {}) });
      parent = key;
      if (step.kind !== 'config') recordKey = key;
    }
    return { header, platform, base, keyed, key: parent, recordKey, state: steps.at(-1)?.config ?? base.state, label: this.labeller(header, steps) };
  }

  private async planBase(header: StageHeader, platform: Platform): Promise<PlannedBase> {
    if (header.base.kind === 'scratch') return { kind: 'scratch', key: SCRATCH_KEY, recordKey: SCRATCH_KEY, state: configState(undefined), config: undefined };
    if (header.base.kind === 'stage') {
      const from = await this.planStage(header.base.index);
      return { kind: 'stage', index: header.base.index, key: from.key, recordKey: from.recordKey, state: from.state, config: from.base.config };
    }
    const image = await this.image(header.base.reference, platform);
    const key = imageKey(image.manifestDigest);
    return { kind: 'image', key, recordKey: key, state: configState(image.config), config: image.config, image };
  }

  /** A stage's result: its steps taken from the build's one cache lookup, or run. */
  private async buildStage(index: number): Promise<StageResult> {
    const planned = await this.planStage(index);
    const { header, platform, base, label } = planned;
    let chain: readonly Layer[] = [];
    let history: HistoryEntry[] = [];
    if (base.kind === 'stage') {
      const from = await this.stage(base.index);
      chain = from.layers;
      history = [...from.history];
    } else if (base.kind === 'image') {
      chain = base.image.layers;
      history = [...base.image.config.history];
      this.exports.push({ key: base.key, layers: chain, createdAt: base.image.config.created ?? this.now().toISOString() });
      this.vertices.instant(label(0, `FROM ${base.image.reference}@${base.image.manifestDigest}`), true);
    }
    let recordKey = base.recordKey;
    let parentKey = base.key;
    let vertex = 0;
    for (const [i, { step, key, sources, digest }] of planned.keyed.entries()) {
      if (step.kind === 'config') {
        history.push(historyEntry(step, chain.at(-1)?.createdAt ?? this.now().toISOString(), true));
        parentKey = key;
        continue;
      }
      vertex++;
      const name = label(vertex, step.display);
      const hit = this.hits.get(key);
      const before = chain;
      if (hit) {
        chain = hit.layers.map((l) => ({ ...l }));
        this.vertices.instant(name, true);
      } else {
        const lowers = chain;
        chain = await this.vertices.step(name, (onLog) =>
          inFlight.run(key, () => executeStep(this.stepContext(onLog), step, lowers, (from) => this.chainOf(from, platform))),
        );
      }
      const added = chain.length > before.length;
      const createdAt = (added ? chain.at(-1)?.createdAt : undefined) ?? this.now().toISOString();
      history.push(historyEntry(step, createdAt, !added));
      this.exports.push({ key, parent: recordKey, layers: chain, createdAt });
      const position = `${header.name ?? header.index}#${i}`;
      const order: [number, number] = [this.plan!.needed.indexOf(index), i];
      const entry: CacheReportEntry & { miss?: Miss; order: [number, number] } = { step: name, hit: hit !== undefined, order };
      if (!hit) {
        const inputs: StepInputs = {
          instruction: step.display,
          args: { ...step.args },
          parent: parentKey,
          ...(digest ? { files: digest.files } : {}),
          ...(sources.fromKey ? { from: sources.fromKey } : {}),
        };
        entry.miss = { index: i, record: { key, position, inputs: { ...inputs } }, inputs };
      }
      this.entries.push(entry);
      recordKey = key;
      parentKey = key;
    }
    return { key: parentKey, recordKey, layers: chain, history, state: planned.state, base: base.config, platform };
  }

  private async sourcesOf(step: Step, platform: Platform): Promise<{ sources: StepSources; digest?: SourceDigest }> {
    if (step.kind === 'run') {
      const binds = step.mounts.filter((m) => m.type === 'bind');
      if (binds.length === 0) return { sources: {} };
      const mounts = await Promise.all(
        binds.map((m) => (m.from ? this.keyOf(m.from, platform) : this.deps.parts.context.pathDigest(this.contextDir, m.source))),
      );
      return { sources: { mounts } };
    }
    if (step.kind !== 'copy') return { sources: {} };
    const from = step.from;
    if (!from) {
      const digest = await this.deps.parts.context.sourceDigest(this.contextDir, step, true);
      return { sources: { contentDigest: digest.digest }, digest };
    }
    return { sources: { fromKey: await this.keyOf(from, platform) } };
  }

  /** The key another stage's result, an image or scratch is known by. */
  private async keyOf(from: StageBase, platform: Platform): Promise<string> {
    if (from.kind === 'stage') return (await this.planStage(from.index)).key;
    if (from.kind === 'image') return imageKey((await this.image(from.reference, platform)).manifestDigest);
    return SCRATCH_KEY;
  }

  /** The layer chain a `COPY --from` or `RUN --mount=…,from=` reads. */
  private async chainOf(from: StageBase, platform: Platform): Promise<readonly Layer[]> {
    if (from.kind === 'stage') return (await this.stage(from.index)).layers;
    if (from.kind === 'image') return (await this.image(from.reference, platform)).layers;
    return [];
  }

  private stepContext(onLog: (stream: 'stdout' | 'stderr', chunk: Buffer) => void): StepContext {
    const { deps } = this;
    const source: BlobSource = new BlobStoreSource(deps.store);
    const mountsRoot = join(deps.workDir, 'cache-mounts');
    let mounts = cacheMountsByRoot.get(mountsRoot);
    if (!mounts) cacheMountsByRoot.set(mountsRoot, (mounts = new CacheMounts(mountsRoot)));
    return {
      parts: deps.parts,
      source,
      sink: new BlobStoreSink(deps.store),
      link: (digest, size) => deps.host.linkBlob(this.repository, digest, size),
      scratch: this.dir,
      contextDir: this.contextDir,
      repository: this.repository,
      cacheMounts: mounts,
      network: deps.network ?? 'none',
      limits: deps.limits ?? DEFAULT_LIMITS,
      compression: this.job.request.compression as Compression,
      ...(deps.sourceDateEpoch !== undefined ? { sourceDateEpoch: deps.sourceDateEpoch } : {}),
      hostname: `buildkitsandbox`,
      now: this.now,
      signal: this.signal,
      onLog,
    };
  }

  /** `[name i/n] TEXT` as BuildKit labels vertices (no name when the build has one stage). */
  private labeller(header: StageHeader, steps: readonly Step[]) {
    const count = 1 + steps.filter((s) => s.kind !== 'config').length;
    const single = this.plan!.needed.length === 1;
    const name = header.name ?? `stage-${header.index}`;
    return (i: number, text: string) => `[${single ? '' : `${name} `}${i + 1}/${count}] ${text}`;
  }

  /** The image config and manifest, written to every tag (skipped where the tag already has it). */
  private async output(target: StageResult): Promise<Array<{ reference: string; digest: string }>> {
    const format = this.job.request.format;
    const config = imageConfig({ base: target.base, platform: target.platform, state: target.state, history: target.history, layers: target.layers });
    const configBytes = Buffer.from(JSON.stringify(config));
    const configRef = { digest: sha256Digest(configBytes), size: configBytes.byteLength };
    const manifest = imageManifest(format, configRef, target.layers);
    const digest = sha256Digest(manifest);
    let configWritten = false;
    const images: Array<{ reference: string; digest: string }> = [];
    for (const tag of this.job.request.tags) {
      const { repository, reference } = parseImageReference(tag);
      const existing = await this.deps.host.manifest(repository, reference);
      if (existing?.digest !== digest) {
        if (!configWritten) {
          await new BlobStoreSink(this.deps.store).write(Readable.from([configBytes]), MEDIA_TYPES[format].config);
          configWritten = true;
        }
        await this.deps.host.linkBlob(repository, configRef.digest, configRef.size);
        for (const layer of target.layers) await this.deps.host.linkBlob(repository, layer.digest, layer.size);
        await this.deps.host.putManifest(repository, reference, MEDIA_TYPES[format].manifest, manifest);
      }
      images.push({ reference: tag, digest });
    }
    return images;
  }

  /** Every record of the build (mode=max) under the branch's cache tag, unless it holds exactly that. */
  private async exportCache(): Promise<void> {
    const tag = this.cacheTags[0];
    const exported = buildCacheExport(this.exports, this.now().toISOString());
    if (!tag || !exported) return;
    const existing = await this.deps.host.manifest(this.repository, tag);
    if (existing?.digest === sha256Digest(exported.manifest)) return;
    await new BlobStoreSink(this.deps.store).write(Readable.from([exported.config]), 'application/vnd.buildkit.cacheconfig.v0');
    await this.deps.host.linkBlob(this.repository, exported.configDigest, exported.config.byteLength);
    for (const layer of exported.layers) await this.deps.host.linkBlob(this.repository, layer.digest, layer.size);
    await this.deps.host.putManifest(this.repository, tag, MEDIA_TYPES.oci.manifest, exported.manifest);
  }

  private async saveSteps(): Promise<void> {
    const records = this.entries.filter((e) => e.miss).map((e) => e.miss!.record);
    if (records.length > 0) await this.deps.host.saveSteps(this.repository, records);
  }

  /** A path inside the extracted context (the Dockerfile's): never outside it. */
  private insideContext(path: string): string {
    const clean = normalize(posix.normalize(`/${path}`)).replace(/^\/+/, '');
    if (clean === '' || clean.split('/').includes('..')) throw new Error(`Dockerfile path "${path}" is outside the context`);
    return join(this.contextDir, clean);
  }
}
