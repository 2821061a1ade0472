/**
 * Storage settings: where blob bytes live. The filesystem (under the data dir) by default; an
 * S3-compatible bucket with `storage: s3`. Credentials come from the usual AWS_* variables or
 * the config file, and are never described (see `describeStorage`).
 */
import { ConfigError } from './errors.js';
import { invalid, type SettingsReader } from './values.js';

export type StorageConfig = { readonly kind: 'filesystem' } | S3Config;

export interface S3Config {
  readonly kind: 's3';
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  /** Key prefix inside the bucket ('' for none). */
  readonly prefix: string;
  readonly forcePathStyle: boolean;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** Multipart part size in bytes (≥ 5 MiB). */
  readonly partSize: number;
  /** 0: serve blob GETs through Cairn; else redirect (307) to presigned URLs valid this long. */
  readonly redirectSeconds: number;
  /** Attempts per S3 request, retries included. */
  readonly maxAttempts: number;
}

const MIN_PART_SIZE = 5 * 1024 * 1024;
const DEFAULT_PART_SIZE = 16 * 1024 * 1024;

export function resolveStorage(settings: SettingsReader): StorageConfig {
  const kind = settings.oneOf('storage', 'filesystem', ['filesystem', 's3'] as const, 'a storage kind');
  if (kind === 'filesystem') return { kind };
  const bucket = settings.string('s3Bucket');
  const accessKeyId = settings.string('s3AccessKeyId');
  const secretAccessKey = settings.string('s3SecretAccessKey');
  if (!bucket) throw new ConfigError('storage s3 needs a bucket (CAIRN_S3_BUCKET)');
  if (!accessKeyId || !secretAccessKey) {
    throw new ConfigError('storage s3 needs credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)');
  }
  const region = settings.string('s3Region') ?? 'us-east-1';
  const endpoint = settings.url('s3Endpoint', ['http:', 'https:'], 'an http(s) URL', 'http://127.0.0.1:9000');
  const sessionToken = settings.string('s3SessionToken');
  const partSize = settings.number('s3PartSize', DEFAULT_PART_SIZE, { min: 1, integer: true });
  if (partSize < MIN_PART_SIZE) throw invalid(settings.pick('s3PartSize'), 's3PartSize', `is below S3's minimum part size (at least ${MIN_PART_SIZE} bytes)`);
  return {
    kind,
    // Without an endpoint: AWS itself, addressed virtual-host style as AWS prefers.
    endpoint: endpoint ? settings.string('s3Endpoint')! : `https://s3.${region}.amazonaws.com`,
    bucket,
    region,
    prefix: settings.string('s3Prefix') ?? '',
    // Custom endpoints (radosgw, MinIO) mostly want path-style addressing.
    forcePathStyle: settings.boolean('s3ForcePathStyle', endpoint !== undefined),
    accessKeyId,
    secretAccessKey,
    ...(sessionToken ? { sessionToken } : {}),
    partSize,
    redirectSeconds: settings.number('s3RedirectSeconds', 0, { min: 0, integer: true }),
    maxAttempts: settings.number('s3MaxAttempts', 5, { min: 1, integer: true }),
  };
}

/** The storage settings as they may be logged: credentials left out. */
export function describeStorage(storage: StorageConfig): Record<string, unknown> {
  if (storage.kind !== 's3') return { ...storage };
  const { secretAccessKey: _secret, sessionToken: _token, accessKeyId: _key, ...rest } = storage;
  return { ...rest, credentials: '***' };
}
