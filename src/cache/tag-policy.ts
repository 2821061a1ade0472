/**
 * Server-side cache merge and branch fallback, plugged into the registry as its TagPolicy.
 *
 * Merge (opt-in by tag glob, per repository or registry-wide): when an image-manifest cache is
 * pushed to a merge-enabled tag that already holds a cache, the tag moves to a new image-manifest
 * cache whose cacheconfig is the union of both (see buildkit/merge.ts: records joined as BuildKit
 * joins them, sorted as BuildKit sorts, trimmed oldest-first to BuildKit's 1 MiB import limit).
 * The pushed manifest stays stored under its own digest, and the PUT still answers with that
 * digest; `Cairn-Cache-Merged` names the manifest the tag now points at. Merging is idempotent:
 * pushing the same cache again yields the same merged digest.
 *
 * Fallback (opt-in per repository): a GET/HEAD of a missing tag that maps to a branch is answered
 * with the first existing tag of the repository's fallback list (`Cairn-Cache-Fallback` names it),
 * so a branch's first build imports the default branch's cache.
 */
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Metadata } from '../metadata/stores/index.js';
import type { Metrics } from '../metrics.js';
import type { BlobService } from '../registry/blobs.js';
import type { ManifestService, TagPolicy } from '../registry/manifests.js';
import type { UploadService } from '../registry/uploads.js';
import { KeyedMutex } from '../util/keyed-mutex.js';
import { branchOf, globMatches } from './branches.js';
import { DEFAULT_LIMITS, MEDIA_TYPE_OCI_MANIFEST, detectCache, mergeCacheManifests } from './buildkit/index.js';
import type { CacheService, CacheSettings } from './service.js';

type PushEvent = Parameters<TagPolicy['pushTarget']>[0];

export class CacheTagPolicy implements TagPolicy {
  private readonly locks = new KeyedMutex();

  constructor(
    private readonly deps: {
      metadata: Metadata;
      blobs: BlobService;
      uploads: UploadService;
      manifests: ManifestService;
      caches: CacheService;
      metrics: Metrics;
      logger: Logger;
      /** Registry-wide merge globs, matched against `<repository>:<tag>` (CAIRN_CACHE_MERGE). */
      mergePatterns: readonly string[];
    },
  ) {}

  async steersPush(repository: string, repositoryId: number, tag: string): Promise<boolean> {
    if (this.deps.mergePatterns.some((glob) => globMatches(glob, `${repository}:${tag}`))) return true;
    return (await this.settings(repositoryId)).mergeTags.some((glob) => globMatches(glob, tag));
  }

  async pushTarget(event: PushEvent): Promise<string | undefined> {
    // One merge per tag at a time in this process, so two pushes cannot both merge into the same base.
    return this.locks.run(`${event.repositoryId}\u0000${event.tag}`, () => this.merge(event));
  }

  async fallbackTags(_repository: string, repositoryId: number, tag: string): Promise<string[]> {
    const settings = await this.settings(repositoryId);
    if (settings.fallbackTags.length === 0 || branchOf(tag, settings.branchPattern) === undefined) return [];
    return settings.fallbackTags.filter((t) => t !== tag);
  }

  private async merge(event: PushEvent): Promise<string | undefined> {
    const { metadata, blobs, metrics, logger } = this.deps;
    const repository = event.repository;
    const nextJson = JSON.parse(Buffer.from(event.payload).toString('utf8')) as unknown;
    const next = detectCache({ mediaType: event.manifest.mediaType, manifest: nextJson });
    if (next.kind !== 'image-manifest') return undefined;
    const current = await metadata.stores.tags.findManifest(event.repositoryId, event.tag);
    if (!current || current.digest === event.digest) return undefined;
    const previousJson = JSON.parse(Buffer.from(current.payload).toString('utf8')) as unknown;
    const previous = detectCache({ mediaType: current.media_type, manifest: previousJson });
    if (previous.kind !== 'image-manifest' && previous.kind !== 'index') return undefined;
    const [previousConfig, nextConfig] = await Promise.all([
      blobs.readSmall(event.repositoryId, previous.config.digest, DEFAULT_LIMITS.maxBytes),
      blobs.readSmall(event.repositoryId, next.config.digest, DEFAULT_LIMITS.maxBytes),
    ]);
    if (!previousConfig || !nextConfig) return undefined;
    const merged = mergeCacheManifests(
      { manifest: previousJson, mediaType: current.media_type, config: previousConfig },
      { manifest: nextJson, mediaType: event.manifest.mediaType, config: nextConfig },
    );
    if (!merged.ok) {
      metrics.cacheMerges.inc({ repository, outcome: 'failed' });
      logger.warn({ repository, tag: event.tag, reason: merged.reason }, 'cache merge failed; the pushed cache replaces the tag');
      return undefined;
    }
    await this.store(repository, merged.config, merged.configDescriptor.digest, merged.manifest, merged.manifestDigest);
    metrics.cacheMerges.inc({ repository, outcome: merged.manifestDigest === current.digest ? 'unchanged' : 'merged' });
    logger.info(
      { repository, tag: event.tag, pushed: event.digest, merged: merged.manifestDigest, records: merged.stats.records, dropped: merged.dropped },
      'cache merged',
    );
    return merged.manifestDigest;
  }

  /** Stores the merged cacheconfig and manifest like any push (verified digests, indexed). */
  private async store(repository: string, config: Uint8Array, configDigest: string, manifest: Uint8Array, manifestDigest: string): Promise<void> {
    const body = Readable.from([Buffer.from(config)]);
    await this.deps.uploads.uploadWhole(repository, configDigest, body, { contentLength: config.byteLength });
    await this.deps.manifests.put(repository, manifestDigest, MEDIA_TYPE_OCI_MANIFEST, manifest);
  }

  private settings(repositoryId: number): Promise<CacheSettings> {
    return this.deps.caches.settings(repositoryId);
  }
}
