/** The registry's services, created together over one metadata database and one blob store. */
import type { Metadata } from '../metadata/stores/index.js';
import type { BlobStore } from '../storage/blob-store.js';
import { BlobService } from './blobs.js';
import { ListingService } from './listings.js';
import { ManifestService } from './manifests.js';
import { PullRecorder } from './pull-recorder.js';
import { Repositories } from './repositories.js';
import { UploadService, type UploadOptions } from './uploads.js';

export interface Registry {
  readonly blobs: BlobService;
  readonly uploads: UploadService;
  readonly manifests: ManifestService;
  readonly listings: ListingService;
  readonly pulls: PullRecorder;
  readonly repositories: Repositories;
  /** Whether blob, manifest and tag deletes are served (RegistryOptions.deletes). */
  readonly deletes: boolean;
}

export interface RegistryOptions extends UploadOptions {
  /**
   * false: blob, manifest and tag deletes are refused (405 UNSUPPORTED); upload cancels still
   * work. Default true.
   */
  readonly deletes?: boolean;
}

export function createRegistry(metadata: Metadata, storage: BlobStore, options: RegistryOptions = { automaticMount: true }): Registry {
  const repositories = new Repositories(metadata);
  const pulls = new PullRecorder(metadata);
  const deletes = { deletes: options.deletes ?? true };
  return {
    blobs: new BlobService(metadata, storage, repositories, deletes),
    uploads: new UploadService(metadata, storage, repositories, options),
    manifests: new ManifestService(metadata, repositories, pulls, deletes),
    listings: new ListingService(metadata, repositories),
    pulls,
    repositories,
    deletes: deletes.deletes,
  };
}
