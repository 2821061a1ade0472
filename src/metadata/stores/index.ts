/**
 * The metadata stores. Each takes a Kysely executor — the database or a transaction — so a
 * service can combine several stores in one transaction: `metadata.transaction((s) => …)`.
 */
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';
import { AccountStore } from './accounts.js';
import { AuditStore } from './audit.js';
import { BlobStoreMetadata } from './blobs.js';
import { BranchStore } from './branches.js';
import { BuildStepStore } from './build-steps.js';
import { BuildStore } from './builds.js';
import { CacheStore } from './caches.js';
import { GcStore } from './gc.js';
import { CacheUsageStore } from './cache-usage.js';
import { ManifestStore } from './manifests.js';
import { PermissionStore } from './permissions.js';
import { RetentionStore } from './retention.js';
import { RepositoryStore } from './repositories.js';
import { TagStore } from './tags.js';
import { UploadSessionStore } from './uploads.js';

export interface Stores {
  readonly repositories: RepositoryStore;
  readonly blobs: BlobStoreMetadata;
  readonly manifests: ManifestStore;
  readonly tags: TagStore;
  readonly uploads: UploadSessionStore;
  readonly accounts: AccountStore;
  readonly permissions: PermissionStore;
  readonly audit: AuditStore;
  readonly caches: CacheStore;
  readonly gc: GcStore;
  readonly retention: RetentionStore;
  readonly branches: BranchStore;
  readonly cacheUsage: CacheUsageStore;
  readonly buildSteps: BuildStepStore;
  readonly builds: BuildStore;
}

export function storesFor(db: Kysely<Database>): Stores {
  return {
    repositories: new RepositoryStore(db),
    blobs: new BlobStoreMetadata(db),
    manifests: new ManifestStore(db),
    tags: new TagStore(db),
    uploads: new UploadSessionStore(db),
    accounts: new AccountStore(db),
    permissions: new PermissionStore(db),
    audit: new AuditStore(db),
    caches: new CacheStore(db),
    gc: new GcStore(db),
    retention: new RetentionStore(db),
    branches: new BranchStore(db),
    cacheUsage: new CacheUsageStore(db),
    buildSteps: new BuildStepStore(db),
    builds: new BuildStore(db),
  };
}

export class Metadata {
  readonly stores: Stores;

  constructor(readonly db: Kysely<Database>) {
    this.stores = storesFor(db);
  }

  transaction<T>(work: (stores: Stores) => Promise<T>): Promise<T> {
    return this.db.transaction().execute((tx) => work(storesFor(tx)));
  }

  destroy(): Promise<void> {
    return this.db.destroy();
  }
}
