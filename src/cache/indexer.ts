/**
 * Indexes BuildKit caches as they are pushed: every stored manifest is checked for the three
 * cache forms, and a cache gets an entry with its layers, records, sizes and warnings.
 * Indexing never rejects a push: a cache BuildKit could not use is stored as pushed and marked
 * with the reason.
 */
import type { Logger } from 'pino';
import type { Metadata } from '../metadata/stores/index.js';
import type { NewCacheEntry } from '../metadata/stores/caches.js';
import type { Metrics } from '../metrics.js';
import type { BlobService } from '../registry/blobs.js';
import type { ManifestPushListener } from '../registry/manifests.js';
import {
  BUILDKIT_IMPORT_LIMIT,
  DEFAULT_LIMITS,
  detectCache,
  layerCreatedAt,
  layerDiffId,
  parseCacheConfig,
  parseInlineCache,
  type CacheDetection,
  type Descriptor,
  type ParseResult,
} from './buildkit/index.js';
import { TtlCache } from '../registry/ttl-cache.js';

/** Image configs are small; a larger one is not read to look for inline cache. */
const IMAGE_CONFIG_LIMIT = 4 * 1024 * 1024;
/**
 * Image configs known to carry no inline cache. A config is content-addressed, so the answer
 * never goes stale; remembering it spares a read and a parse of the same config when it is
 * pushed again under other tags, platforms or repositories (CI does this all the time).
 */
const PLAIN_CONFIGS = { ttlMs: 60 * 60 * 1000, maxEntries: 10_000 };

type PushEvent = Parameters<ManifestPushListener>[0];
type Detected = Extract<CacheDetection, { kind: 'image-manifest' | 'index' | 'inline' }>;

export class CacheIndexer {
  private readonly plainConfigs = new TtlCache<string, true>(PLAIN_CONFIGS);

  constructor(
    private readonly metadata: Metadata,
    private readonly blobs: BlobService,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    /** Told about every indexed cacheconfig, so imports of it can be recognised. */
    private readonly onIndexed: (repositoryId: number, configDigest: string) => void,
  ) {}

  /** The push listener: indexes the manifest if it is a cache, logging (never throwing) failures. */
  readonly onPush: ManifestPushListener = async (event) => {
    try {
      await this.index(event);
    } catch (err) {
      this.logger.warn({ err, repository: event.repository, digest: event.digest }, 'cache indexing failed');
    }
  };

  private async index(event: PushEvent): Promise<void> {
    const detection = await this.detect(event);
    if (detection.kind === 'not-cache' || detection.kind === 'needs-image-config') return;
    const manifestId = event.manifestId;
    const entry =
      detection.kind === 'invalid'
        ? unparseable(event, manifestId, detection.form, detection.reason)
        : await this.describe(event, manifestId, detection);
    const inserted = await this.metadata.transaction((stores) => stores.caches.insert(entry));
    // Already indexed (a re-push or a re-tag of the same manifest): nothing new to report.
    if (inserted === undefined) return;
    this.report(event, entry);
    if (entry.configDigest) this.onIndexed(event.repositoryId, entry.configDigest);
  }

  private async detect(event: PushEvent): Promise<CacheDetection> {
    const manifest = JSON.parse(Buffer.from(event.payload).toString('utf8')) as unknown;
    const first = detectCache({ mediaType: event.manifest.mediaType, manifest });
    if (first.kind !== 'needs-image-config') return first;
    if (this.plainConfigs.get(first.config.digest)) return { kind: 'not-cache', reason: 'image config has no inline cache' };
    const bytes = await this.blobs.readSmall(event.repositoryId, first.config.digest, IMAGE_CONFIG_LIMIT);
    if (!bytes) return { kind: 'not-cache', reason: 'image config unavailable' };
    let imageConfig: unknown;
    try {
      imageConfig = JSON.parse(bytes.toString('utf8'));
    } catch {
      return { kind: 'not-cache', reason: 'image config is not JSON' };
    }
    const detection = detectCache({ mediaType: event.manifest.mediaType, manifest, imageConfig });
    // Past 'needs-image-config', only the image config itself can make a manifest 'not-cache'.
    if (detection.kind === 'not-cache') this.plainConfigs.set(first.config.digest, true);
    return detection;
  }

  private async describe(event: PushEvent, manifestId: number, detection: Detected): Promise<NewCacheEntry> {
    const warnings = sizeWarnings(event.payload.byteLength, detection);
    const parsed = await this.parse(event.repositoryId, detection);
    if (!parsed.ok) {
      // Still name the cacheconfig (index form included), so imports of it are recognised.
      const entry = unparseable(event, manifestId, detection.kind, parsed.reason);
      return { ...entry, configDigest: detection.config.digest, configSize: detection.config.size, warnings: [...warnings, ...entry.warnings] };
    }
    const descriptors = new Map(detection.layers.map((d) => [d.digest, d]));
    const missing = parsed.config.layers.filter((l) => !descriptors.has(l.blob)).length;
    if (missing > 0) warnings.push(`missing blobs: ${missing} layer(s) of the cacheconfig are not in the manifest; BuildKit skips their results`);
    const layerBytes = [...descriptors.values()].reduce((sum, d) => sum + d.size, 0);
    return {
      manifestId,
      repositoryId: event.repositoryId,
      format: detection.kind,
      mode: detection.kind === 'inline' ? 'min' : parsed.stats.mode,
      parsed: true,
      reason: null,
      configDigest: detection.config.digest,
      configSize: detection.config.size,
      manifestSize: event.payload.byteLength,
      recordCount: parsed.stats.records,
      layerCount: parsed.stats.layers,
      totalBytes: detection.config.size + layerBytes,
      warnings,
      layers: parsed.config.layers.map((l) => layerRow(l.blob, l.parent, descriptors.get(l.blob))),
      records: parsed.config.records.map((r) => ({
        digest: r.digest,
        results: r.results.map((x) => x.layer),
        chains: r.chains.map((c) => c.layers),
        inputs: r.inputs,
      })),
    };
  }

  private async parse(repositoryId: number, detection: Detected): Promise<ParseResult> {
    if (detection.kind === 'inline') return parseInlineCache(detection.cache, detection.layers);
    const bytes = await this.blobs.readSmall(repositoryId, detection.config.digest, DEFAULT_LIMITS.maxBytes);
    if (!bytes) return { ok: false, reason: `cacheconfig blob ${detection.config.digest} is missing or over ${DEFAULT_LIMITS.maxBytes} bytes` };
    return parseCacheConfig(bytes);
  }

  private report(event: PushEvent, entry: NewCacheEntry): void {
    const repository = event.repository;
    this.metrics.cachePushes.inc({ repository, format: entry.format });
    this.metrics.cacheBytes.set({ repository }, entry.totalBytes);
    for (const warning of entry.warnings) this.metrics.cacheWarnings.inc({ repository, kind: warning.split(':')[0]! });
    const summary = { repository, tag: event.tag, digest: event.digest, format: entry.format, mode: entry.mode, records: entry.recordCount, layers: entry.layerCount };
    if (entry.warnings.length > 0) this.logger.warn({ ...summary, warnings: entry.warnings }, 'cache pushed with warnings');
    else this.logger.info(summary, 'cache indexed');
  }
}

function sizeWarnings(manifestBytes: number, detection: Detected): string[] {
  const warnings: string[] = [];
  if (manifestBytes > BUILDKIT_IMPORT_LIMIT) {
    warnings.push(`oversize: the cache manifest is ${manifestBytes} bytes; BuildKit ignores caches over ${BUILDKIT_IMPORT_LIMIT} bytes`);
  }
  if (detection.kind !== 'inline' && detection.config.size > BUILDKIT_IMPORT_LIMIT) {
    warnings.push(`oversize: the cacheconfig is ${detection.config.size} bytes; BuildKit ignores cacheconfigs over ${BUILDKIT_IMPORT_LIMIT} bytes`);
  }
  return warnings;
}

function unparseable(event: PushEvent, manifestId: number, format: NewCacheEntry['format'], reason: string): NewCacheEntry {
  const config = event.manifest.config;
  return {
    manifestId,
    repositoryId: event.repositoryId,
    format,
    mode: null,
    parsed: false,
    reason,
    configDigest: config?.digest.value ?? null,
    configSize: config?.size ?? null,
    manifestSize: event.payload.byteLength,
    recordCount: 0,
    layerCount: 0,
    totalBytes: 0,
    warnings: [`unparseable: ${reason}`],
    layers: [],
    records: [],
  };
}

function layerRow(digest: string, parent: number, d: Descriptor | undefined) {
  return { digest, parent, size: d?.size ?? null, mediaType: d?.mediaType ?? null, createdAt: d ? (layerCreatedAt(d) ?? null) : null, diffId: d ? (layerDiffId(d) ?? null) : null };
}
