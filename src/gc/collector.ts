/**
 * The garbage collector of one process: passes on a timer (every replica runs one; the queues'
 * row locks share the work out), on demand (POST /api/v1/gc/runs, `cairn gc`), and the figures
 * of GET /api/v1/gc. A pass reviews every due manifest, then every due blob, following chains
 * (a deleted manifest's blobs, child manifests and referrers are reviewed at once, by the same
 * rules), then sweeps storage when a sweep is due. Each pass is recorded in gc_runs.
 */
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import type { Metadata } from '../metadata/stores/index.js';
import type { BlobStore } from '../storage/blob-store.js';
import { freeBytes, reviewBlob, reviewManifest, type BlobTarget, type ManifestTarget, type ReviewContext } from './reviews.js';
import { sweepOrphans } from './sweep.js';

export type Clock = () => Date;
export type PassTrigger = 'schedule' | 'api' | 'cli';

export interface GcOptions {
  readonly reviewDelayMs: number;
  /** 0: no background passes. */
  readonly intervalMs: number;
  readonly sweepIntervalMs: number;
}

export interface PassRequest {
  readonly trigger: PassTrigger;
  readonly actor?: string | null;
  readonly dryRun?: boolean;
  /** Sweep storage in this pass whatever the sweep interval says (on-demand passes do). */
  readonly sweep?: boolean;
}

/** At most this many deleted objects of each kind are listed in a report (all are counted). */
const REPORT_LIST_LIMIT = 1000;
/** A pass stops after this many reviews; the next pass continues. */
const MAX_REVIEWS_PER_PASS = 100_000;

export interface PassReport {
  readonly id: number;
  readonly trigger: PassTrigger;
  readonly actor: string | null;
  readonly dryRun: boolean;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly manifestsDeleted: number;
  readonly blobsDeleted: number;
  readonly orphansDeleted: number;
  /** Blob-store bytes freed (blobs and orphans); for a dry run, what would be freed. */
  readonly bytesFreed: number;
  /** Reviews that kept their object (referenced, or not old enough yet). */
  readonly kept: number;
  /** Objects a push or another worker held: left for a later pass. */
  readonly busy: number;
  readonly swept: boolean;
  readonly deleted: {
    readonly manifests: Array<{ repository: string; digest: string }>;
    readonly blobs: Array<{ digest: string; size: number }>;
    readonly orphans: Array<{ digest: string; size: number }>;
    /** More were deleted than listed (REPORT_LIST_LIMIT per kind). */
    readonly truncated: boolean;
  };
}

export interface GcStatus {
  readonly queued: number;
  readonly due: number;
  readonly nextDueAt: string | null;
  /** Blob-store bytes freed by every pass ever recorded in this database (dry runs excluded). */
  readonly bytesFreed: number;
  readonly queues: Record<'manifests' | 'blobs', { queued: number; due: number; nextDueAt: string | null }>;
  readonly totals: { runs: number; manifestsDeleted: number; blobsDeleted: number; orphansDeleted: number; lastRunAt: string | null };
  readonly settings: { reviewDelaySeconds: number; intervalSeconds: number; sweepIntervalSeconds: number };
}

/** Told about each manifest a pass deleted (e.g. to drop it from a cache). */
export type ManifestDeletedListener = (manifest: { repositoryId: number; digest: string }) => void;

export class GarbageCollector {
  private timer: NodeJS.Timeout | undefined;
  private readonly deletedListeners: ManifestDeletedListener[] = [];
  /** Passes of this process run one after another. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly metadata: Metadata,
    private readonly storage: BlobStore,
    private readonly options: GcOptions,
    private readonly metrics: Metrics | undefined,
    private readonly logger: Logger,
    private readonly clock: Clock = () => new Date(),
  ) {}

  onManifestDeleted(listener: ManifestDeletedListener): void {
    this.deletedListeners.push(listener);
  }

  /** Makes the enqueue triggers use the configured delay. Call once at start-up. */
  async applySettings(): Promise<void> {
    await this.metadata.stores.gc.setReviewDelay(this.options.reviewDelayMs);
  }

  /** Starts background passes (unless the interval is 0). */
  start(): void {
    if (this.options.intervalMs <= 0 || this.timer) return;
    const tick = () => {
      this.run({ trigger: 'schedule' })
        .then((report) => {
          if (report.manifestsDeleted + report.blobsDeleted + report.orphansDeleted > 0) {
            this.logger.info({ gc: summary(report) }, 'garbage collected');
          }
        })
        .catch((err: unknown) => this.logger.warn({ err }, 'garbage collection pass failed'))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.options.intervalMs).unref();
        });
    };
    this.timer = setTimeout(tick, this.options.intervalMs).unref();
  }

  /** Stops the timer and waits for a pass in progress. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.queue.catch(() => undefined);
  }

  /** Runs one pass after any pass of this process in progress. */
  run(request: PassRequest): Promise<PassReport> {
    const pass = this.queue.catch(() => undefined).then(() => this.pass(request));
    this.queue = pass;
    return pass;
  }

  async status(): Promise<GcStatus> {
    const now = this.clock();
    const { gc } = this.metadata.stores;
    const [queues, totals] = await Promise.all([gc.queueFigures(now), gc.totals()]);
    const next = [queues.manifests.nextDueAt, queues.blobs.nextDueAt].filter((d): d is Date => d !== null).sort((a, b) => a.getTime() - b.getTime())[0];
    const view = (q: typeof queues.blobs) => ({ queued: q.queued, due: q.due, nextDueAt: q.nextDueAt?.toISOString() ?? null });
    return {
      queued: queues.manifests.queued + queues.blobs.queued,
      due: queues.manifests.due + queues.blobs.due,
      nextDueAt: next?.toISOString() ?? null,
      bytesFreed: totals.bytesFreed,
      queues: { manifests: view(queues.manifests), blobs: view(queues.blobs) },
      totals: {
        runs: totals.runs,
        manifestsDeleted: totals.manifestsDeleted,
        blobsDeleted: totals.blobsDeleted,
        orphansDeleted: totals.orphansDeleted,
        lastRunAt: totals.lastRunAt?.toISOString() ?? null,
      },
      settings: {
        reviewDelaySeconds: this.options.reviewDelayMs / 1000,
        intervalSeconds: this.options.intervalMs / 1000,
        sweepIntervalSeconds: this.options.sweepIntervalMs / 1000,
      },
    };
  }

  private async pass(request: PassRequest): Promise<PassReport> {
    const startedAt = this.clock();
    const dryRun = request.dryRun ?? false;
    const ctx: ReviewContext = { metadata: this.metadata, now: startedAt, reviewDelayMs: this.options.reviewDelayMs, dryRun };
    const tally = new Tally();
    await this.reviewManifests(ctx, tally);
    await this.reviewBlobs(ctx, tally);
    const swept = request.sweep ?? (await this.sweepDue(startedAt));
    if (swept) {
      const result = await sweepOrphans(this.metadata, this.storage, startedAt, this.options.reviewDelayMs, dryRun);
      for (const orphan of result.orphans) tally.orphan(orphan.digest, orphan.size);
    }
    const finishedAt = this.clock();
    const record = {
      startedAt,
      finishedAt,
      trigger: request.trigger,
      actor: request.actor ?? null,
      dryRun,
      manifestsDeleted: tally.manifests,
      blobsDeleted: tally.blobs,
      orphansDeleted: tally.orphans,
      swept,
      bytesFreed: tally.bytes,
    };
    // Idle background passes are not worth a row each; everything else is history.
    const worthRecording = request.trigger !== 'schedule' || swept || tally.manifests + tally.blobs + tally.orphans > 0;
    const id = worthRecording ? await this.metadata.stores.gc.recordRun(record) : 0;
    await this.updateMetrics(request.trigger, dryRun, tally);
    return {
      ...record,
      id,
      actor: record.actor,
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      kept: tally.kept,
      busy: tally.busy,
      deleted: tally.lists(),
    };
  }

  private async reviewManifests(ctx: ReviewContext, tally: Tally): Promise<void> {
    const skip: number[] = [];
    const chain: number[] = [];
    const blobChain = new Set<string>();
    for (let n = 0; n < MAX_REVIEWS_PER_PASS; n++) {
      const next = chain.pop();
      const target: ManifestTarget = next !== undefined ? { id: next } : { due: true, skip };
      const review = await this.guarded(() => reviewManifest(ctx, target), target);
      if (review === undefined) {
        if (next === undefined) break; // a due review failed: stop here, the next pass retries
        continue;
      }
      if (review.outcome === 'none') {
        if (next === undefined) break;
        continue;
      }
      if (review.outcome === 'busy') tally.busy++;
      if (review.outcome === 'kept') tally.kept++;
      if (review.outcome === 'deleted') {
        tally.manifest(review.manifest.repository, review.manifest.digest);
        if (!ctx.dryRun) {
          for (const listener of this.deletedListeners) listener(review.manifest);
          chain.push(...review.manifests);
          for (const digest of review.blobs) blobChain.add(digest);
        }
      }
      // A dry run changes nothing, so every due row is seen once; a real pass skips only what it left due.
      const id = review.outcome === 'deleted' ? review.manifest.id : review.id;
      if (ctx.dryRun || review.outcome === 'busy' || review.outcome === 'gone') skip.push(id);
    }
    for (const digest of blobChain) await this.reviewChainedBlob(ctx, tally, digest);
  }

  private async reviewBlobs(ctx: ReviewContext, tally: Tally): Promise<void> {
    const skip: string[] = [];
    for (let n = 0; n < MAX_REVIEWS_PER_PASS; n++) {
      const target: BlobTarget = { due: true, skip };
      const review = await this.guarded(() => reviewBlob(ctx, target), target);
      if (review === undefined || review.outcome === 'none') break;
      await this.account(ctx, tally, review);
      if (ctx.dryRun || review.outcome === 'busy') skip.push(review.digest);
    }
  }

  private async reviewChainedBlob(ctx: ReviewContext, tally: Tally, digest: string): Promise<void> {
    const review = await this.guarded(() => reviewBlob(ctx, { digest }), { digest });
    if (review && review.outcome !== 'none') await this.account(ctx, tally, review);
  }

  private async account(ctx: ReviewContext, tally: Tally, review: Exclude<Awaited<ReturnType<typeof reviewBlob>>, { outcome: 'none' }>): Promise<void> {
    if (review.outcome === 'busy') tally.busy++;
    if (review.outcome === 'kept') tally.kept++;
    if (review.outcome !== 'deleted') return;
    // The row is gone (committed): now the bytes. A failure here leaves bytes for the sweep.
    if (!ctx.dryRun) {
      const freed = await this.guarded(() => freeBytes(this.metadata, this.storage, review.digest), review.digest);
      if (!freed) {
        tally.blob(review.digest, 0);
        return;
      }
    }
    tally.blob(review.digest, review.size);
  }

  /** One failed review (a deadlock victim, storage down) is logged and skipped, not fatal to the pass. */
  private async guarded<T>(work: () => Promise<T>, target: unknown): Promise<T | undefined> {
    try {
      return await work();
    } catch (err) {
      this.logger.warn({ err, target }, 'garbage collection review failed');
      return undefined;
    }
  }

  private async sweepDue(now: Date): Promise<boolean> {
    const last = await this.metadata.stores.gc.lastSweepAt();
    return last === null || now.getTime() - last.getTime() >= this.options.sweepIntervalMs;
  }

  private async updateMetrics(trigger: PassTrigger, dryRun: boolean, tally: Tally): Promise<void> {
    const metrics = this.metrics;
    if (!metrics) return;
    metrics.gcPasses.inc({ trigger, dry_run: String(dryRun) });
    if (!dryRun) {
      metrics.gcDeleted.inc({ kind: 'manifest' }, tally.manifests);
      metrics.gcDeleted.inc({ kind: 'blob' }, tally.blobs);
      metrics.gcDeleted.inc({ kind: 'orphan' }, tally.orphans);
      metrics.gcBytesFreed.inc(tally.bytes);
    }
    const queues = await this.metadata.stores.gc.queueFigures(this.clock());
    for (const queue of ['manifests', 'blobs'] as const) {
      metrics.gcQueueDepth.set({ queue, state: 'queued' }, queues[queue].queued);
      metrics.gcQueueDepth.set({ queue, state: 'due' }, queues[queue].due);
    }
  }
}

/** Counts of one pass, and the first REPORT_LIST_LIMIT objects of each kind. */
class Tally {
  manifests = 0;
  blobs = 0;
  orphans = 0;
  bytes = 0;
  kept = 0;
  busy = 0;
  private readonly manifestList: Array<{ repository: string; digest: string }> = [];
  private readonly blobList: Array<{ digest: string; size: number }> = [];
  private readonly orphanList: Array<{ digest: string; size: number }> = [];

  manifest(repository: string, digest: string): void {
    this.manifests++;
    if (this.manifestList.length < REPORT_LIST_LIMIT) this.manifestList.push({ repository, digest });
  }

  blob(digest: string, size: number): void {
    this.blobs++;
    this.bytes += size;
    if (this.blobList.length < REPORT_LIST_LIMIT) this.blobList.push({ digest, size });
  }

  orphan(digest: string, size: number): void {
    this.orphans++;
    this.bytes += size;
    if (this.orphanList.length < REPORT_LIST_LIMIT) this.orphanList.push({ digest, size });
  }

  lists(): PassReport['deleted'] {
    const truncated = this.manifests > this.manifestList.length || this.blobs > this.blobList.length || this.orphans > this.orphanList.length;
    return { manifests: this.manifestList, blobs: this.blobList, orphans: this.orphanList, truncated };
  }
}

function summary(report: PassReport) {
  const { deleted: _deleted, ...rest } = report;
  return rest;
}
