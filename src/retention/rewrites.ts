/**
 * The pruning rule at the edges: reads each cache a plan rewrites and computes the rewrite with the
 * pure core (src/cache/buildkit/prune.ts), and applies one through the registry's services — the
 * new cacheconfig uploaded and the new manifest stored like any push (verified, linked, indexed),
 * then the tag moved only while it still points at the planned manifest. The old manifest is left
 * untagged; the run deletes it and the garbage collector frees the bytes no one else uses.
 */
import { Readable } from 'node:stream';
import { DEFAULT_LIMITS, detectCache, pruneCacheManifest } from '../cache/buildkit/index.js';
import type { Metadata } from '../metadata/stores/index.js';
import type { BlobService } from '../registry/blobs.js';
import type { ManifestService } from '../registry/manifests.js';
import type { Repositories } from '../registry/repositories.js';
import type { UploadService } from '../registry/uploads.js';
import type { Decision } from './planner.js';

export interface Rewrite {
  readonly repository: string;
  readonly tag: string;
  /** The manifest the tag points at now. */
  readonly from: string;
  /** The rewritten manifest's digest. */
  readonly to: string;
  readonly mediaType: string;
  readonly manifest: Uint8Array;
  readonly config: Uint8Array;
  readonly configDigest: string;
  /** Layer blobs the rewritten manifest names (all already stored). */
  readonly kept: readonly string[];
  /** Layer blobs the cache no longer names. */
  readonly blobsDropped: readonly string[];
  readonly records: { readonly before: number; readonly after: number };
  readonly rule: string;
  readonly reason: string;
}

export class CacheRewriter {
  constructor(
    private readonly deps: {
      metadata: Metadata;
      manifests: ManifestService;
      blobs: BlobService;
      uploads: UploadService;
      repositories: Repositories;
    },
  ) {}

  /** The rewrite a decision asks for, or why there is none (the cache is then kept as it is). */
  async prepare(d: Decision & { tag: string }): Promise<Rewrite | string> {
    const found = await this.deps.manifests.resolve(d.repository, d.digest).catch(() => undefined);
    if (!found) return 'the manifest is gone';
    let json: unknown;
    try {
      json = JSON.parse(Buffer.from(found.payload).toString('utf8'));
    } catch {
      return 'the manifest is not JSON';
    }
    const cache = detectCache({ mediaType: found.mediaType, manifest: json });
    if (cache.kind !== 'image-manifest') return 'not an image-manifest cache';
    const config = await this.deps.blobs.readSmall(found.repositoryId, cache.config.digest, DEFAULT_LIMITS.maxBytes);
    if (!config) return `its cacheconfig ${cache.config.digest} is missing or too large`;
    const pruned = pruneCacheManifest({ manifest: found.payload, mediaType: found.mediaType, config }, new Set(d.unusedLayers ?? []));
    if (!pruned.ok) return pruned.reason;
    if (pruned.manifestDigest === d.digest) return 'nothing to drop';
    return {
      repository: d.repository,
      tag: d.tag,
      from: d.digest,
      to: pruned.manifestDigest,
      mediaType: pruned.mediaType,
      manifest: pruned.manifest,
      config: pruned.config,
      configDigest: pruned.configDescriptor.digest,
      kept: pruned.layers.map((l) => l.digest),
      blobsDropped: pruned.summary.blobsDropped,
      records: { before: pruned.summary.recordsBefore, after: pruned.summary.recordsAfter },
      rule: d.rule,
      reason: d.reason,
    };
  }

  /** Stores the rewritten cache and moves the tag to it; false when the tag moved since the plan. */
  async apply(r: Rewrite): Promise<boolean> {
    const { uploads, manifests, metadata, repositories } = this.deps;
    await uploads.uploadWhole(r.repository, r.configDigest, Readable.from([Buffer.from(r.config)]), { contentLength: r.config.byteLength });
    await manifests.put(r.repository, r.to, r.mediaType, r.manifest);
    if (!(await manifests.retag(r.repository, r.tag, r.from, r.to))) {
      // A push won the tag: the rewrite is moot, and nothing should keep it.
      await manifests.deleteOrphaned(r.repository, r.to);
      return false;
    }
    await metadata.stores.cacheUsage.inherit(await repositories.require(r.repository), r.from, r.to);
    return true;
  }
}
