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

  async catalog(page: PageRequest): Promise<Page> {
    return paginate(page, (limit, last) => this.metadata.stores.repositories.listNames(limit, last));
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
