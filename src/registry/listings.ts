/** Read-only listings: tags of a repository, the catalog, and referrers of a subject. */
import type { Metadata } from '../metadata/stores/index.js';
import { MediaType } from '../oci/media-types.js';
import { requireDigest } from './blobs.js';
import { paginate, type Page, type PageRequest } from './pagination.js';
import type { Repositories } from './repositories.js';

export class ListingService {
  constructor(
    private readonly metadata: Metadata,
    private readonly repositories: Repositories,
  ) {}

  async tags(name: string, page: PageRequest): Promise<Page> {
    const repositoryId = await this.repositories.require(name);
    return paginate(page, (limit, last) => this.metadata.stores.tags.page(repositoryId, limit, last));
  }

  /**
   * Repositories in byte order; `visible`, when access is enforced, hides those the caller may
   * not see (without it the page comes straight from the database as JSON).
   */
  async catalog(page: PageRequest, visible?: (name: string) => Promise<boolean>): Promise<Page> {
    const { repositories } = this.metadata.stores;
    if (!visible) return paginate(page, (limit, last) => repositories.page(limit, last));
    return paginate(page, async (limit, last) => {
      // Read in batches until a page of visible names is filled or the list ends.
      const names: string[] = [];
      let cursor = last;
      for (;;) {
        const batch = await repositories.listNames(limit + 1, cursor);
        for (const name of batch) if (await visible(name)) names.push(name);
        if (names.length > limit || batch.length <= limit) {
          const items = names.slice(0, limit);
          return { json: JSON.stringify(items), more: names.length > limit, ...(items.length ? { last: items[items.length - 1] } : {}) };
        }
        cursor = batch[batch.length - 1];
      }
    });
  }

  /**
   * Referrers of `digest` as an OCI image index (JSON text); an unknown subject or repository
   * has none (200 with an empty index).
   */
  async referrers(name: string, digestText: string, artifactType?: string): Promise<string> {
    const digest = requireDigest(digestText);
    const repositoryId = await this.repositories.find(name);
    const manifests =
      repositoryId === undefined ? '[]' : await this.metadata.stores.manifests.referrers(repositoryId, digest.value, artifactType);
    return `{"schemaVersion":2,"mediaType":${JSON.stringify(MediaType.ociIndex)},"manifests":${manifests}}`;
  }
}
