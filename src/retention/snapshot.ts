/**
 * What the planner sees: facts about tags, untagged manifests and branch states, gathered by
 * the retention service in a few queries. Plain data, no I/O.
 */
export interface TagFacts {
  readonly repository: string;
  readonly tag: string;
  readonly manifestId: number;
  readonly digest: string;
  readonly pushedAt: Date;
  readonly lastPulledAt: Date | null;
  /** Set when the tag's manifest is in the BuildKit cache index. */
  readonly cache: { readonly lastImportedAt: Date | null; readonly usage?: CacheUsage } | null;
  /** The branch the tag names (cache settings' pattern or the default ones), if any. */
  readonly branch: string | null;
  /** Digests of every blob the tag holds: its manifest's and its index children's. */
  readonly blobs: readonly string[];
}

/** What the pruning rule judges a cache by: its form, its push, its layer chains and when each blob was last fetched. */
export interface CacheUsage {
  readonly form: 'image-manifest' | 'index' | 'inline';
  /** When the cache (this manifest) was pushed: a layer never fetched counts from here. */
  readonly pushedAt: Date;
  /**
   * The cacheconfig's `layers[]`, in document order: each entry's blob, its parent's index (-1 for
   * a base layer) and when its blob was last fetched from the cache's repository (null: never).
   */
  readonly layers: ReadonlyArray<{ readonly digest: string; readonly parent: number; readonly lastFetchedAt: Date | null }>;
}

export interface UntaggedManifest {
  readonly repository: string;
  readonly manifestId: number;
  readonly digest: string;
  readonly pushedAt: Date;
}

export interface BranchState {
  readonly repository: string;
  readonly branch: string;
  readonly state: 'live' | 'gone';
  readonly changedAt: Date;
}

export interface Snapshot {
  /** Every tag of the repositories some policy selects (selection is the planner's job). */
  readonly tags: readonly TagFacts[];
  /** Manifests with no tag and no parent index. */
  readonly untagged: readonly UntaggedManifest[];
  readonly branches: readonly BranchState[];
  /** Sizes of the blobs named in `tags[].blobs`. */
  readonly blobSizes: ReadonlyMap<string, number>;
}

/** When a tag was last imported (cache) or pulled, whichever is later; null if never. */
export function lastUsed(tag: TagFacts): Date | null {
  const times = [tag.cache?.lastImportedAt ?? null, tag.lastPulledAt].filter((t): t is Date => t !== null);
  return times.length === 0 ? null : new Date(Math.max(...times.map((t) => t.getTime())));
}
