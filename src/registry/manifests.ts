/**
 * Manifests: push (validated, references checked, stored byte-exact), pull by tag or digest,
 * delete. Tags are pointers kept beside manifests.
 */
import { digestOf, isDigestReference } from '../oci/digest.js';
import { parseManifest, type Descriptor, type ParsedManifest } from '../oci/manifest.js';
import { isValidTag } from '../oci/name.js';
import { isForeignKeyViolation } from '../metadata/errors.js';
import type { Metadata } from '../metadata/stores/index.js';
import { ReferencesMissingError, type ManifestRow } from '../metadata/stores/manifests.js';
import { requireDigest } from './blobs.js';
import {
  DeletesDisabledError,
  DigestInvalidError,
  ManifestBlobUnknownError,
  ManifestInUseError,
  ManifestInvalidError,
  ManifestNotFoundError,
  TagInvalidError,
} from './errors.js';
import type { PullRecorder } from './pull-recorder.js';
import type { Repositories } from './repositories.js';
import { repositoryKey, TtlCache } from './ttl-cache.js';

/**
 * Manifests fetched by digest (BuildKit's cache import, every platform of a multi-arch pull) are
 * kept this long. A digest names immutable content, so an entry can only be wrong by existing
 * after a delete: local deletes evict at once, a delete through another replica shows here after
 * at most this long. Tags move, so a tag is always resolved in the database.
 */
const BY_DIGEST_TTL_MS = 5_000;
const BY_DIGEST_ENTRIES = 10_000;
const BY_DIGEST_BYTES = 64 * 1024 * 1024;

export interface StoredManifest {
  readonly digest: string;
  readonly mediaType: string;
  readonly payload: Uint8Array;
}

export interface ResolvedManifest extends StoredManifest {
  readonly id: number;
  readonly repositoryId: number;
  /** Set when a fallback tag was served in place of the requested, missing one. */
  readonly servedTag?: string;
}

export interface PushedManifest {
  readonly digest: string;
  readonly manifest: ParsedManifest;
  /** The digest the tag now points at, when the tag policy redirected it (e.g. a cache merge). */
  readonly taggedDigest?: string;
}

/** Layers that clients may legitimately not push (foreign / non-distributable layers). */
const NON_DISTRIBUTABLE = /(\.foreign\.|\.nondistributable\.)/;

/** Observers told about every stored manifest (e.g. the BuildKit cache indexer). */
export type ManifestPushListener = (event: {
  repository: string;
  repositoryId: number;
  /** The stored manifest's row id. */
  manifestId: number;
  tag?: string;
  digest: string;
  manifest: ParsedManifest;
  payload: Uint8Array;
}) => Promise<void>;

/**
 * Lets another module steer tags without the registry knowing why (the BuildKit cache module uses
 * it for server-side merges and branch fallback).
 */
export interface TagPolicy {
  /** Cheap check before a push: may `pushTarget` redirect this tag? */
  steersPush(repository: string, repositoryId: number, tag: string): Promise<boolean>;
  /** After the pushed manifest is stored: the digest of a stored manifest the tag should point at instead. */
  pushTarget(event: Parameters<ManifestPushListener>[0] & { tag: string }): Promise<string | undefined>;
  /** For a tag that does not exist: other tags to serve instead, in order. */
  fallbackTags(repository: string, repositoryId: number, tag: string): Promise<string[]>;
}

export interface ManifestServiceOptions {
  /** false: manifest and tag deletes are refused (`DeletesDisabledError`). */
  readonly deletes: boolean;
}

export class ManifestService {
  private readonly listeners: ManifestPushListener[] = [];
  private tagPolicy: TagPolicy | undefined;
  /** Recently read or pushed manifests, by repository id and digest. */
  private readonly byDigest = new TtlCache<string, ManifestRow>({
    ttlMs: BY_DIGEST_TTL_MS,
    maxEntries: BY_DIGEST_ENTRIES,
    maxWeight: BY_DIGEST_BYTES,
    weigh: (row) => row.payload.byteLength,
  });

  constructor(
    private readonly metadata: Metadata,
    private readonly repositories: Repositories,
    private readonly pulls: PullRecorder,
    private readonly options: ManifestServiceOptions = { deletes: true },
  ) {}

  onPush(listener: ManifestPushListener): void {
    this.listeners.push(listener);
  }

  setTagPolicy(policy: TagPolicy): void {
    this.tagPolicy = policy;
  }

  /**
   * Resolves a tag or digest; does not count as a pull (HEAD and GET both use it). A missing tag
   * may be served by a fallback tag of the tag policy; `servedTag` then names it.
   */
  async resolve(name: string, reference: string): Promise<ResolvedManifest> {
    const repositoryId = await this.repositories.find(name);
    if (repositoryId === undefined) throw new ManifestNotFoundError(reference);
    const row = await this.lookup(repositoryId, reference);
    if (row) return { id: row.id, repositoryId, digest: row.digest, mediaType: row.media_type, payload: toBuffer(row.payload) };
    if (this.tagPolicy && !isDigestReference(reference) && isValidTag(reference)) {
      for (const tag of await this.tagPolicy.fallbackTags(name, repositoryId, reference)) {
        const other = await this.metadata.stores.tags.findManifest(repositoryId, tag);
        if (other) return { id: other.id, repositoryId, digest: other.digest, mediaType: other.media_type, payload: toBuffer(other.payload), servedTag: tag };
      }
    }
    throw new ManifestNotFoundError(reference);
  }

  /** Counts a pull of the manifest (and of the tag, when pulled by tag). */
  recordPull(found: { id: number; repositoryId: number }, reference: string): void {
    this.pulls.record(found.id, isDigestReference(reference) ? undefined : { repositoryId: found.repositoryId, tag: reference });
  }

  async put(name: string, reference: string, contentType: string, payload: Uint8Array): Promise<PushedManifest> {
    const byDigest = isDigestReference(reference);
    if (!byDigest && !isValidTag(reference)) throw new TagInvalidError(reference);
    const digest = byDigest ? this.checkedDigest(reference, payload) : digestOf(payload).value;
    const parsed = parseManifest(payload, contentType);
    if (!parsed.ok) throw new ManifestInvalidError(parsed.reason, parsed.field === undefined ? undefined : { field: parsed.field });
    const manifest = parsed.manifest;
    const repositoryId = await this.repositories.findOrCreate(name);
    const tag = byDigest ? undefined : reference;
    const steered = tag !== undefined && this.tagPolicy !== undefined && (await this.tagPolicy.steersPush(name, repositoryId, tag));
    // The references are checked, then the manifest stored. The store locks the blob links and
    // child manifests it records and stores nothing if one went in between (a concurrent delete),
    // so a stored manifest never names something its repository has lost. Garbage collection may
    // also delete this very manifest (untagged and old) or a blob row between the two; a foreign
    // key then refuses the statement (src/gc/index.ts) and one more check tells what is missing.
    const store = async () => {
      const refs = await this.resolveReferences(repositoryId, manifest);
      return this.metadata.stores.manifests.insert(
        {
          repositoryId,
          digest,
          mediaType: manifest.mediaType,
          artifactType: manifest.artifactType ?? null,
          configDigest: manifest.config?.digest.value ?? null,
          configMediaType: manifest.config?.mediaType ?? null,
          subjectDigest: manifest.subject?.digest.value ?? null,
          annotations: manifest.annotations ?? null,
          payload,
          blobDigests: refs.blobs,
          childManifestIds: refs.manifests,
        },
        // A tag the policy may steer is written after the policy has spoken.
        steered ? undefined : tag,
      ).catch((error: unknown) => {
        if (!(error instanceof ReferencesMissingError)) throw error;
        const gone = error.blobs[0] ?? refs.digestOfManifest.get(error.manifestIds[0]!);
        throw new ManifestBlobUnknownError(gone ?? 'a reference deleted during the push');
      });
    };
    let id: number;
    try {
      id = await store();
    } catch (error) {
      if (!isForeignKeyViolation(error)) throw error;
      id = await store().catch((again: unknown) => {
        throw isForeignKeyViolation(again) ? new ManifestBlobUnknownError(digest) : again;
      });
    }
    this.remember(repositoryId, { id, digest, media_type: manifest.mediaType, size: payload.byteLength, payload });
    const event = { repository: name, repositoryId, manifestId: id, tag, digest, manifest, payload };
    for (const listener of this.listeners) await listener(event);
    if (!tag || !steered) return { digest, manifest };
    const target = (await this.tagPolicy!.pushTarget({ ...event, tag })) ?? digest;
    const targetId = target === digest ? id : (await this.findByDigest(repositoryId, target))?.id;
    await this.metadata.stores.tags.upsert(repositoryId, tag, targetId ?? id);
    return { digest, manifest, ...(targetId !== undefined && target !== digest ? { taggedDigest: target } : {}) };
  }

  /**
   * Deleting a tag removes only the tag; deleting a digest removes the manifest and all its tags,
   * unless an index of the repository lists it (`ManifestInUseError`: delete the index first).
   */
  async delete(name: string, reference: string): Promise<void> {
    if (!this.options.deletes) throw new DeletesDisabledError(isDigestReference(reference) ? 'manifest' : 'tag');
    const repositoryId = await this.repositories.find(name);
    if (repositoryId === undefined) throw new ManifestNotFoundError(reference);
    if (!isDigestReference(reference)) {
      if (!isValidTag(reference)) throw new TagInvalidError(reference);
      if (!(await this.metadata.stores.tags.delete(repositoryId, reference))) throw new ManifestNotFoundError(reference);
      return;
    }
    const digest = requireDigest(reference);
    const row = await this.metadata.stores.manifests.findByDigest(repositoryId, digest.value);
    if (!row) throw new ManifestNotFoundError(reference);
    const outcome = await this.metadata.stores.manifests.deleteUnreferenced(row.id);
    if (outcome.kind === 'referenced') throw new ManifestInUseError(digest.value, outcome);
    this.byDigest.delete(repositoryKey(repositoryId, digest.value));
    if (outcome.kind === 'absent') throw new ManifestNotFoundError(reference);
  }

  /** Drops a manifest deleted behind the service's back (garbage collection) from its cache. */
  forget(repositoryId: number, digest: string): void {
    this.byDigest.delete(repositoryKey(repositoryId, digest));
  }

  /**
   * Retention's deletes: the tag only while it still points at `digest`, so a push between a plan
   * and its run is never undone. False when the tag has moved or gone.
   */
  async untag(name: string, tag: string, digest: string): Promise<boolean> {
    const repositoryId = await this.repositories.find(name);
    if (repositoryId === undefined) return false;
    const row = await this.findByDigest(repositoryId, digest);
    return row !== undefined && (await this.metadata.stores.tags.deleteIfAt(repositoryId, tag, row.id));
  }

  /**
   * Retention's rewrites: points the tag at the stored manifest `to` only while it still points
   * at `from`, keeping its push time (a rewrite is not a push). False when the tag has moved or
   * gone, or either manifest is missing.
   */
  async retag(name: string, tag: string, from: string, to: string): Promise<boolean> {
    const repositoryId = await this.repositories.find(name);
    if (repositoryId === undefined) return false;
    const [a, b] = await Promise.all([this.findByDigest(repositoryId, from), this.findByDigest(repositoryId, to)]);
    return a !== undefined && b !== undefined && (await this.metadata.stores.tags.moveIfAt(repositoryId, tag, a.id, b.id));
  }

  /** Deletes a manifest only while it is orphaned (no tag, no index lists it). False when it is referenced or gone. */
  async deleteOrphaned(name: string, digest: string): Promise<boolean> {
    const repositoryId = await this.repositories.find(name);
    if (repositoryId === undefined) return false;
    const row = await this.metadata.stores.manifests.findByDigest(repositoryId, digest);
    if (!row || !(await this.metadata.stores.manifests.deleteIfOrphaned(row.id))) return false;
    this.byDigest.delete(repositoryKey(repositoryId, digest));
    return true;
  }

  private async lookup(repositoryId: number, reference: string): Promise<ManifestRow | undefined> {
    if (isDigestReference(reference)) return this.findByDigest(repositoryId, requireDigest(reference).value);
    // A tag that cannot exist is simply not found (404), as the conformance suite expects.
    if (!isValidTag(reference)) return undefined;
    const row = await this.metadata.stores.tags.findManifest(repositoryId, reference);
    if (row) this.remember(repositoryId, row);
    return row;
  }

  private async findByDigest(repositoryId: number, digest: string): Promise<ManifestRow | undefined> {
    const cached = this.byDigest.get(repositoryKey(repositoryId, digest));
    if (cached) return cached;
    const row = await this.metadata.stores.manifests.findByDigest(repositoryId, digest);
    if (row) this.remember(repositoryId, row);
    return row;
  }

  private remember(repositoryId: number, row: ManifestRow): void {
    this.byDigest.set(repositoryKey(repositoryId, row.digest), row);
  }

  private checkedDigest(reference: string, payload: Uint8Array): string {
    const expected = requireDigest(reference);
    const actual = digestOf(payload, expected.algorithm);
    if (actual.value !== expected.value) {
      throw new DigestInvalidError('manifest digest does not match the reference', {
        expected: expected.value,
        actual: actual.value,
      });
    }
    return expected.value;
  }

  /**
   * Every descriptor a manifest names must exist in the repository. Image manifests name blobs;
   * index entries are usually manifests, but BuildKit's legacy cache index lists blobs there, so
   * an entry may be either.
   */
  private async resolveReferences(
    repositoryId: number,
    manifest: ParsedManifest,
  ): Promise<{ blobs: string[]; manifests: number[]; digestOfManifest: Map<number, string> }> {
    const { stores } = this.metadata;
    const wanted: Descriptor[] = manifest.kind === 'image' ? [manifest.config!, ...manifest.layers] : [...manifest.manifests];
    const digests = [...new Set(wanted.map((d) => d.digest.value))];
    const linked = await stores.blobs.linkedAmong(repositoryId, digests);
    const manifestIds =
      manifest.kind === 'index' ? await stores.manifests.idsByDigest(repositoryId, digests) : new Map<string, number>();
    for (const d of wanted) {
      const known = linked.has(d.digest.value) || manifestIds.has(d.digest.value);
      if (!known && !NON_DISTRIBUTABLE.test(d.mediaType)) throw new ManifestBlobUnknownError(d.digest.value);
    }
    return {
      blobs: digests.filter((d) => linked.has(d) && !manifestIds.has(d)),
      manifests: [...manifestIds.values()],
      digestOfManifest: new Map([...manifestIds].map(([digest, id]) => [id, digest])),
    };
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
