/**
 * Kysely's view of the tables in migrations/. Conventions: `Generated<T>` for columns the database
 * fills, nullable columns as `T | null` (never optional), bigint columns read as JS numbers
 * (the drivers are configured so; sizes stay far below 2^53).
 */
import type { ColumnType, Generated } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export interface RepositoriesTable {
  id: Generated<number>;
  name: string;
  created_at: Timestamp;
}

export interface BlobsTable {
  digest: string;
  size: number;
  created_at: Timestamp;
}

export interface RepositoryBlobsTable {
  repository_id: number;
  blob_digest: string;
  created_at: Timestamp;
}

export interface ManifestsTable {
  id: Generated<number>;
  repository_id: number;
  digest: string;
  media_type: string;
  artifact_type: string | null;
  config_digest: string | null;
  config_media_type: string | null;
  subject_digest: string | null;
  annotations: ColumnType<Record<string, string> | null, string | null, string | null>;
  size: number;
  payload: Uint8Array;
  pushed_at: Timestamp;
  last_pulled_at: Timestamp | null;
  pull_count: Generated<number>;
}

export interface ManifestBlobsTable {
  manifest_id: number;
  blob_digest: string;
}

export interface ManifestReferencesTable {
  parent_id: number;
  child_id: number;
}

export interface TagsTable {
  repository_id: number;
  name: string;
  manifest_id: number;
  pushed_at: Timestamp;
  last_pulled_at: Timestamp | null;
  pull_count: Generated<number>;
}

export interface UploadSessionsTable {
  id: string;
  repository_id: number;
  size: number;
  started_at: Timestamp;
  updated_at: Timestamp;
}

export interface GcBlobReviewQueueTable {
  digest: string;
  review_after: Timestamp;
  event: string;
}

export interface GcManifestReviewQueueTable {
  manifest_id: number;
  repository_id: number;
  review_after: Timestamp;
  event: string;
}

export interface GcRunsTable {
  id: Generated<number>;
  started_at: Timestamp;
  finished_at: Timestamp;
  trigger: string;
  actor: string | null;
  dry_run: boolean;
  manifests_deleted: number;
  blobs_deleted: number;
  orphans_deleted: number;
  swept: boolean;
  bytes_freed: number;
}

export interface AccountsTable {
  id: Generated<number>;
  name: string;
  kind: 'user' | 'robot';
  secret_hash: string;
  is_admin: Generated<boolean>;
  disabled: Generated<boolean>;
  description: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface PersonalAccessTokensTable {
  id: Generated<number>;
  account_id: number;
  name: string;
  secret_hash: string;
  expires_at: Timestamp | null;
  revoked_at: Timestamp | null;
  last_used_at: Timestamp | null;
  created_at: Timestamp;
}

export interface PermissionsTable {
  id: Generated<number>;
  account_id: number | null;
  pattern: string;
  actions: string[];
  created_at: Timestamp;
}

export interface AuditEventsTable {
  id: Generated<number>;
  at: Timestamp;
  actor: string;
  actor_kind: 'account' | 'anonymous' | 'open' | 'system';
  action: string;
  target: string | null;
  client_ip: string | null;
  details: ColumnType<Record<string, unknown> | null, string | null, string | null>;
}

export interface CacheEntriesTable {
  id: Generated<number>;
  manifest_id: number;
  repository_id: number;
  format: 'image-manifest' | 'index' | 'inline';
  mode: string | null;
  parsed: boolean;
  reason: string | null;
  config_digest: string | null;
  config_size: number | null;
  manifest_size: number;
  record_count: number;
  layer_count: number;
  total_bytes: number;
  warnings: ColumnType<string[], string, string>;
  pushed_at: Timestamp;
  last_imported_at: Timestamp | null;
  import_count: Generated<number>;
  last_importer: string | null;
}

export interface CacheLayersTable {
  cache_id: number;
  position: number;
  digest: string;
  parent: number;
  size: number | null;
  media_type: string | null;
  created_at: string | null;
  /** The layer's diff ID, from its descriptor (migration 0014); NULL when unknown. */
  diff_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface CacheRecordsTable {
  cache_id: number;
  position: number;
  digest: string;
  results: ColumnType<number[], string, string>;
  chains: ColumnType<number[][], string, string>;
  inputs: ColumnType<Array<Array<{ link: number; selector?: string }>>, string, string>;
}

export interface CacheSettingsTable {
  repository_id: number;
  branch_pattern: string | null;
  merge_tags: string[];
  fallback_tags: string[];
  updated_at: Timestamp;
}

export interface RetentionPoliciesTable {
  name: string;
  definition: ColumnType<Record<string, unknown>, string, string>;
  interval_seconds: number | null;
  next_run_at: Timestamp | null;
  lease_until: Timestamp | null;
  lease_owner: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface RetentionBranchesTable {
  repository_id: number;
  branch: string;
  state: 'live' | 'gone';
  changed_at: Timestamp;
  source: string;
}

export interface RetentionGitMappingsTable {
  git_repository: string;
  repositories: string[];
  lowercase: boolean;
  updated_at: Timestamp;
}

export interface WebhookDeliveriesTable {
  provider: string;
  delivery_id: string;
  received_at: Timestamp;
}

export interface RetentionRunsTable {
  id: Generated<number>;
  policy: string | null;
  trigger: 'api' | 'schedule' | 'cli';
  actor: string;
  actor_kind: 'account' | 'anonymous' | 'open' | 'system';
  started_at: Timestamp;
  finished_at: Timestamp | null;
  tags_deleted: number;
  manifests_deleted: number;
  bytes_freed: number;
  blobs_freed: number;
  deleted: ColumnType<unknown[], string, string>;
  tags_rewritten: Generated<number>;
  rewritten: ColumnType<unknown[], string | undefined, string>;
  error: string | null;
}

export interface CacheLayerFetchesTable {
  cache_id: number;
  digest: string;
  fetches: number;
  last_fetched_at: Timestamp;
}

export interface BuildJobsTable {
  id: string;
  queue_order: Generated<number>;
  state: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  request: ColumnType<Record<string, unknown>, string, string>;
  context_digest: string;
  context_size: number;
  actor: string;
  actor_kind: 'account' | 'anonymous' | 'open' | 'system';
  created_at: Timestamp;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  worker_id: string | null;
  lease_expires_at: Timestamp | null;
  attempts: Generated<number>;
  cancel_requested: Generated<boolean>;
  result: ColumnType<Record<string, unknown> | null, string | null, string | null>;
  next_seq: Generated<number>;
}

export interface BuildEventsTable {
  job_id: string;
  seq: number;
  event: ColumnType<Record<string, unknown>, string, string>;
}

export interface BuildWorkersTable {
  id: string;
  host: string;
  pid: number;
  started_at: Timestamp;
  seen_at: Timestamp;
}

export interface Database {
  repositories: RepositoriesTable;
  blobs: BlobsTable;
  repository_blobs: RepositoryBlobsTable;
  manifests: ManifestsTable;
  manifest_blobs: ManifestBlobsTable;
  manifest_references: ManifestReferencesTable;
  tags: TagsTable;
  upload_sessions: UploadSessionsTable;
  gc_blob_review_queue: GcBlobReviewQueueTable;
  gc_manifest_review_queue: GcManifestReviewQueueTable;
  gc_runs: GcRunsTable;
  accounts: AccountsTable;
  personal_access_tokens: PersonalAccessTokensTable;
  permissions: PermissionsTable;
  audit_events: AuditEventsTable;
  cache_entries: CacheEntriesTable;
  cache_layers: CacheLayersTable;
  cache_records: CacheRecordsTable;
  cache_settings: CacheSettingsTable;
  retention_policies: RetentionPoliciesTable;
  retention_branches: RetentionBranchesTable;
  retention_git_mappings: RetentionGitMappingsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  retention_runs: RetentionRunsTable;
  cache_layer_fetches: CacheLayerFetchesTable;
  build_jobs: BuildJobsTable;
  build_events: BuildEventsTable;
  build_workers: BuildWorkersTable;
  build_steps: BuildStepsTable;
}

/** Inputs of each step the build engine ran, by chain key (migration 0014). */
export interface BuildStepsTable {
  repository_id: number;
  chain_key: string;
  position: string;
  inputs: ColumnType<Record<string, unknown>, string, string>;
  created_at: Generated<Timestamp>;
}
