/** Read-only listings: tags of a repository, the catalog, and referrers of a subject. */
import type { Metadata } from '../metadata/stores/index.js';
import { MediaType } from '../oci/media-types.js';
import { requireDigest } from './blobs.js';
import { paginate, type Page, type PageRequest } from './pagination.js';
import type { Repositories } from './repositories.js';

export interface ReferrersIndex {
  readonly schemaVersion: 2;
  readonly mediaType: string;
  readonly manifests: ReferrerDescriptor[];
}

export interface ReferrerDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export class ListingService {
  constructor(
    private readonly metadata: Metadata,
    private readonly repositories: Repositories,
  ) {}

  async tags(name: string, page: PageRequest): Promise<Page> {
    const repositoryId = await this.repositories.require(name);
    return paginate(page, (limit, last) => this.metadata.stores.tags.listNames(repositoryId, limit, last));
  }

  /** Repositories in byte order; `visible` hides those the caller may not see. */
  async catalog(page: PageRequest, visible: (name: string) => Promise<boolean> = async () => true): Promise<Page> {
    return paginate(page, async (limit, last) => {
      // Read in batches until a page of visible names is filled or the list ends.
      const names: string[] = [];
      let cursor = last;
      for (;;) {
        const batch = await this.metadata.stores.repositories.listNames(limit, cursor);
        for (const name of batch) if (await visible(name)) names.push(name);
        if (names.length >= limit || batch.length < limit) return names.slice(0, limit);
        cursor = batch[batch.length - 1];
      }
    });
  }

  /** Referrers of `digest`; an unknown subject or repository has none (200 with an empty index). */
  async referrers(name: string, digestText: string, artifactType?: string): Promise<ReferrersIndex> {
    const digest = requireDigest(digestText);
    const repositoryId = await this.repositories.find(name);
    const rows =
      repositoryId === undefined ? [] : await this.metadata.stores.manifests.referrers(repositoryId, digest.value, artifactType);
    return {
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: rows.map((r) => ({
        mediaType: r.media_type,
        digest: r.digest,
        size: r.size,
        ...(r.artifact_type ? { artifactType: r.artifact_type } : {}),
        ...(r.annotations ? { annotations: r.annotations } : {}),
      })),
    };
  }
}
