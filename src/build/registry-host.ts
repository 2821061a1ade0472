/**
 * The BuildHost over the registry's own services and metadata stores: what a build worker uses
 * when it runs next to the database (`cairn worker` on PostgreSQL), and what `cairn serve` answers
 * the IPC channel of its worker processes with. Written once; the IPC transport only carries it.
 *
 * Nothing here goes through HTTP: a cache lookup is one metadata query, a layer is a storage read,
 * and a manifest is stored through ManifestService.put, so cache indexing, merges and tag policies
 * apply exactly as to a push.
 */
import type { Readable } from 'node:stream';
import { DEFAULT_BRANCH } from '../cache/branches.js';
import type { CacheService } from '../cache/service.js';
import type { Metadata } from '../metadata/stores/index.js';
import { requireDigest } from '../registry/blobs.js';
import { ManifestNotFoundError } from '../registry/errors.js';
import type { Registry } from '../registry/index.js';
import type { BlobStore } from '../storage/blob-store.js';
import { BlobNotFoundError } from '../storage/errors.js';
import type { BuildHost, CacheRecordHit, StepInputsRecord, StoredManifest } from './host.js';
import type { BuildActor } from './job.js';

/** Layer media type assumed for a cache layer whose descriptor named none (BuildKit always does). */
const DEFAULT_LAYER_TYPE = 'application/vnd.oci.image.layer.v1.tar+gzip';

export class RegistryBuildHost implements BuildHost {
  constructor(
    private readonly deps: {
      readonly metadata: Metadata;
      readonly registry: Registry;
      readonly storage: BlobStore;
      readonly caches: CacheService;
      /** Pull permission of a build's actor on its base images (the registry's AccessControl). */
      readonly pulls: { mayPullAs(actor: BuildActor, repository: string): Promise<boolean> };
    },
  ) {}

  async manifestAs(actor: BuildActor, repository: string, reference: string): Promise<StoredManifest | undefined | 'denied'> {
    if (!(await this.deps.pulls.mayPullAs(actor, repository))) return 'denied';
    return this.manifest(repository, reference);
  }

  async manifest(repository: string, reference: string) {
    try {
      const found = await this.deps.registry.manifests.resolve(repository, reference);
      return { digest: found.digest, mediaType: found.mediaType, payload: Buffer.from(found.payload) };
    } catch (error) {
      if (error instanceof ManifestNotFoundError) return undefined;
      throw error;
    }
  }

  async openBlob(repository: string, digest: string): Promise<Readable> {
    const info = await this.deps.registry.blobs.stat(repository, digest);
    return this.deps.registry.blobs.open(info);
  }

  /**
   * Records a blob whose bytes the worker has committed to the store, and links it to the
   * repository. As an upload's publish does: the bytes are held against the garbage collector
   * while the row is written, and checked to be there (a sweep could have taken bytes that no row
   * named yet, had they been older than its review delay).
   */
  async linkBlob(repository: string, digest: string, size: number): Promise<void> {
    const parsed = requireDigest(digest);
    const repositoryId = await this.deps.registry.repositories.findOrCreate(repository);
    await this.deps.metadata.transaction(async (stores) => {
      await stores.gc.holdBlobForLink(parsed.value);
      if ((await this.deps.storage.stat(parsed)) !== size) throw new BlobNotFoundError(parsed.value);
      await stores.blobs.addToRepository(repositoryId, parsed.value, size);
    });
  }

  async putManifest(repository: string, reference: string, mediaType: string, payload: Buffer) {
    const pushed = await this.deps.registry.manifests.put(repository, reference, mediaType, payload);
    return { digest: pushed.digest };
  }

  async lookupCache(repository: string, tags: readonly string[], keys: readonly string[]): Promise<Map<string, CacheRecordHit>> {
    const hits = new Map<string, CacheRecordHit>();
    const repositoryId = await this.deps.registry.repositories.find(repository);
    if (repositoryId === undefined) return hits;
    for (const found of await this.deps.metadata.stores.caches.findRecords(repositoryId, tags, keys)) {
      // A layer without its diff ID cannot go into an image config: treat the record as a miss.
      if (found.layers.some((l) => l.diffId === null || l.size === null)) continue;
      hits.set(found.key, {
        key: found.key,
        layers: found.layers.map((l) => ({
          digest: l.digest,
          size: l.size!,
          mediaType: l.mediaType ?? DEFAULT_LAYER_TYPE,
          diffId: l.diffId!,
          ...(l.createdAt ? { createdAt: l.createdAt } : {}),
        })),
        repository,
        tag: found.tag,
        createdAt: found.layers.at(-1)?.createdAt ?? found.pushedAt.toISOString(),
      });
    }
    return hits;
  }

  async cacheTags(repository: string, branch: string | undefined): Promise<string[]> {
    const repositoryId = await this.deps.registry.repositories.find(repository);
    const settings = repositoryId === undefined ? undefined : await this.deps.caches.settings(repositoryId);
    return cacheTagsFor(branch, settings?.branchPattern ?? null, settings?.fallbackTags ?? []);
  }

  async saveSteps(repository: string, steps: readonly StepInputsRecord[]): Promise<void> {
    const repositoryId = await this.deps.registry.repositories.findOrCreate(repository);
    await this.deps.metadata.stores.buildSteps.save(
      repositoryId,
      steps.map((s) => ({ chainKey: s.key, position: s.position, inputs: { ...s.inputs } })),
    );
  }

  async latestSteps(repository: string, positions: readonly string[]): Promise<StepInputsRecord[]> {
    const repositoryId = await this.deps.registry.repositories.find(repository);
    if (repositoryId === undefined) return [];
    const rows = await this.deps.metadata.stores.buildSteps.latest(repositoryId, positions);
    return rows.map((r) => ({ key: r.chainKey, position: r.position, inputs: r.inputs }));
  }
}

/**
 * The cache tags a build of `branch` reads, in order: the branch's own tag, the repository's
 * fallback tags, then the default branch's tag. The first is also the tag the build writes.
 */
export function cacheTagsFor(branch: string | undefined, branchPattern: string | null, fallbackTags: readonly string[]): string[] {
  const own = cacheTagOf(branch, branchPattern);
  const base = cacheTagOf(undefined, branchPattern);
  return [...new Set([own, ...fallbackTags, base])];
}

/**
 * The tag that holds a branch's cache: `cache` for the default branch and `cache-<branch>` for
 * the others (src/cache/branches.ts reads both back), or the repository's own pattern with the
 * branch put in its `(?<branch>…)` group when the rest of the pattern is literal text.
 */
export function cacheTagOf(branch: string | undefined, branchPattern: string | null): string {
  const name = branch === undefined || branch === DEFAULT_BRANCH ? undefined : sanitizeBranch(branch);
  const custom = branchPattern ? fromPattern(branchPattern, name ?? DEFAULT_BRANCH) : undefined;
  if (custom) return custom;
  return name === undefined ? 'cache' : `cache-${name}`;
}

/** CI's sanitising of branch names into tag text (`feature/x` → `feature-x`), within tag rules. */
function sanitizeBranch(branch: string): string {
  const text = branch.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^[.-]+/, '');
  return text.slice(0, 100) || DEFAULT_BRANCH;
}

function fromPattern(pattern: string, branch: string): string | undefined {
  const group = /\(\?<branch>(?:[^()\\]|\\.)*\)/.exec(pattern);
  if (!group) return undefined;
  const before = pattern.slice(0, group.index).replace(/^\^/, '');
  const after = pattern.slice(group.index + group[0].length).replace(/\$$/, '');
  const literal = (text: string) => (/^(?:[A-Za-z0-9_-]|\\[.\-_])*$/.test(text) ? text.replace(/\\/g, '') : undefined);
  const prefix = literal(before);
  const suffix = literal(after);
  if (prefix === undefined || suffix === undefined) return undefined;
  const tag = `${prefix}${branch}${suffix}`;
  return new RegExp(pattern).test(tag) ? tag : undefined;
}
