/**
 * Read side of the BuildKit cache index for the REST API: caches per repository and
 * registry-wide, one cache in detail (layers, records and how they chain, bytes shared with the
 * other caches), the diff of two caches, and per-repository settings.
 */
import type { Metadata } from '../metadata/stores/index.js';
import type { CacheEntryRow, CacheSettingsRow } from '../metadata/stores/caches.js';
import { branchOf, validateBranchPattern } from './branches.js';
import { TtlCache } from '../registry/ttl-cache.js';

export class CacheNotFoundError extends Error {}
export class CacheSettingsError extends Error {}

export interface CacheSummary {
  repository: string;
  tag: string;
  branch: string | null;
  manifestDigest: string;
  format: string;
  mode: string | null;
  parsed: boolean;
  reason: string | null;
  records: number;
  layers: number;
  totalBytes: number;
  uniqueBytes: number;
  configDigest: string | null;
  configBytes: number | null;
  manifestBytes: number;
  pushedAt: Date;
  lastImportedAt: Date | null;
  importCount: number;
  lastImporter: string | null;
  warnings: string[];
}

export interface CacheSettings {
  branchPattern: string | null;
  mergeTags: string[];
  fallbackTags: string[];
}

/**
 * Settings are read on every push to and every miss of a tag, so they are cached briefly; a
 * change made through another replica takes effect within this time.
 */
const SETTINGS_CACHE_MS = 5_000;

export class CacheService {
  private readonly settingsCache = new TtlCache<number, CacheSettings>({ ttlMs: SETTINGS_CACHE_MS, maxEntries: 10_000 });

  constructor(private readonly metadata: Metadata) {}

  async list(repositoryId?: number): Promise<CacheSummary[]> {
    const rows = await this.metadata.stores.caches.listTagged(repositoryId);
    const byRepository = groupBy(rows, (r) => r.repository_id);
    const out: CacheSummary[] = [];
    for (const [id, entries] of byRepository) {
      const settings = await this.settings(id);
      const layers = await this.metadata.stores.caches.taggedLayers(id);
      const unique = uniqueBytes(layers);
      for (const e of entries) out.push(summary(e, settings, unique.get(e.id) ?? 0));
    }
    return out;
  }

  async detail(repositoryId: number, tag: string) {
    const entry = await this.require(repositoryId, tag);
    const settings = await this.settings(repositoryId);
    const [layers, records, tagged, all] = await Promise.all([
      this.metadata.stores.caches.layers(entry.id),
      this.metadata.stores.caches.records(entry.id),
      this.metadata.stores.caches.taggedLayers(repositoryId),
      this.metadata.stores.caches.listTagged(repositoryId),
    ]);
    const unique = uniqueBytes(tagged);
    const layerDigests = layers.map((l) => l.digest);
    return {
      ...summary(entry, settings, unique.get(entry.id) ?? 0),
      layers: layers.map((l) => ({ digest: l.digest, parent: l.parent, size: l.size, mediaType: l.media_type, createdAt: l.created_at })),
      records: records.map((r) => ({
        digest: r.digest,
        // Each result is a layer with its parents: spelled out as digests, base first.
        results: r.results.map((layer) => chainOf(layers, layer).map((i) => layerDigests[i]!)),
        chains: r.chains.map((chain) => chain.map((i) => layerDigests[i]!)),
        inputs: r.inputs.map((sources) => sources.map((s) => ({ record: records[s.link]?.digest ?? null, selector: s.selector ?? null }))),
      })),
      sharedWith: sharedBytes(entry.id, tagged, all),
    };
  }

  async diff(repositoryId: number, tagA: string, tagB: string) {
    const [a, b] = await Promise.all([this.require(repositoryId, tagA), this.require(repositoryId, tagB)]);
    const [la, lb, ra, rb] = await Promise.all([
      this.metadata.stores.caches.layers(a.id),
      this.metadata.stores.caches.layers(b.id),
      this.metadata.stores.caches.records(a.id),
      this.metadata.stores.caches.records(b.id),
    ]);
    const sizes = new Map([...la, ...lb].map((l) => [l.digest, l.size ?? 0]));
    const layers = split(la.map((l) => l.digest), lb.map((l) => l.digest));
    const recs = split(ra.map((r) => r.digest), rb.map((r) => r.digest));
    const bytes = (digests: string[]) => digests.reduce((sum, d) => sum + (sizes.get(d) ?? 0), 0);
    return {
      a: tagA,
      b: tagB,
      records: { onlyInA: recs.onlyA, onlyInB: recs.onlyB, common: recs.common.length },
      layers: { onlyInA: layers.onlyA, onlyInB: layers.onlyB, common: layers.common.length },
      bytes: { onlyInA: bytes(layers.onlyA), onlyInB: bytes(layers.onlyB), common: bytes(layers.common) },
    };
  }

  async settings(repositoryId: number): Promise<CacheSettings> {
    const hit = this.settingsCache.get(repositoryId);
    if (hit) return hit;
    const row = await this.metadata.stores.caches.settings(repositoryId);
    const settings = { branchPattern: row?.branch_pattern ?? null, mergeTags: row?.merge_tags ?? [], fallbackTags: row?.fallback_tags ?? [] };
    this.settingsCache.set(repositoryId, settings);
    return settings;
  }

  async saveSettings(repositoryId: number, settings: CacheSettings): Promise<CacheSettings> {
    if (settings.branchPattern) {
      const problem = validateBranchPattern(settings.branchPattern);
      if (problem) throw new CacheSettingsError(problem);
    }
    const row: CacheSettingsRow = { branch_pattern: settings.branchPattern, merge_tags: settings.mergeTags, fallback_tags: settings.fallbackTags };
    await this.metadata.stores.caches.saveSettings(repositoryId, row);
    this.settingsCache.delete(repositoryId);
    return settings;
  }

  private async require(repositoryId: number, tag: string): Promise<CacheEntryRow> {
    const entry = await this.metadata.stores.caches.findByTag(repositoryId, tag);
    if (!entry) throw new CacheNotFoundError(`no cache tagged "${tag}"`);
    return entry;
  }
}

function summary(e: CacheEntryRow, settings: CacheSettings, unique: number): CacheSummary {
  const tag = e.tag ?? '';
  return {
    repository: e.repository,
    tag,
    branch: branchOf(tag, settings.branchPattern) ?? null,
    manifestDigest: e.manifest_digest,
    format: e.format,
    mode: e.mode,
    parsed: e.parsed,
    reason: e.reason,
    records: e.record_count,
    layers: e.layer_count,
    totalBytes: e.total_bytes,
    uniqueBytes: unique,
    configDigest: e.config_digest,
    configBytes: e.config_size,
    manifestBytes: e.manifest_size,
    pushedAt: e.tag_pushed_at ?? e.pushed_at,
    lastImportedAt: e.last_imported_at,
    importCount: e.import_count,
    lastImporter: e.last_importer,
    warnings: e.warnings,
  };
}

type TaggedLayer = { cache_id: number; digest: string; size: number | null };

/** Bytes of layers no other tagged cache of the repository holds, per cache. */
function uniqueBytes(layers: TaggedLayer[]): Map<number, number> {
  const holders = new Map<string, Set<number>>();
  for (const l of layers) (holders.get(l.digest) ?? holders.set(l.digest, new Set()).get(l.digest)!).add(l.cache_id);
  const out = new Map<number, number>();
  const seen = new Set<string>();
  for (const l of layers) {
    const k = `${l.cache_id}\u0000${l.digest}`;
    if (seen.has(k) || holders.get(l.digest)!.size > 1) continue;
    seen.add(k);
    out.set(l.cache_id, (out.get(l.cache_id) ?? 0) + (l.size ?? 0));
  }
  return out;
}

/** For each other tagged cache: bytes of the layers it shares with `cacheId`. */
function sharedBytes(cacheId: number, layers: TaggedLayer[], all: CacheEntryRow[]) {
  const mine = new Map(layers.filter((l) => l.cache_id === cacheId).map((l) => [l.digest, l.size ?? 0]));
  return all
    .filter((e) => e.id !== cacheId)
    .map((e) => {
      const theirs = new Set(layers.filter((l) => l.cache_id === e.id).map((l) => l.digest));
      const shared = [...mine].filter(([d]) => theirs.has(d));
      return { tag: e.tag, layers: shared.length, bytes: shared.reduce((s, [, size]) => s + size, 0) };
    });
}

/** Layer indexes of a result: the layer and its parents, base first (bounded against loops). */
function chainOf(layers: Array<{ parent: number }>, start: number): number[] {
  const chain: number[] = [];
  for (let i = start; i >= 0 && i < layers.length && chain.length <= layers.length; i = layers[i]!.parent) chain.push(i);
  return chain.reverse();
}

function split(a: string[], b: string[]) {
  const setA = new Set(a);
  const setB = new Set(b);
  return {
    onlyA: [...setA].filter((x) => !setB.has(x)).sort(),
    onlyB: [...setB].filter((x) => !setA.has(x)).sort(),
    common: [...setA].filter((x) => setB.has(x)),
  };
}

function groupBy<T, K>(items: T[], key: (t: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const item of items) (out.get(key(item)) ?? out.set(key(item), []).get(key(item))!).push(item);
  return out;
}
