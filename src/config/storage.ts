/**
 * Storage settings: where blob bytes live. The filesystem (under the data dir) by default; an
 * S3-compatible bucket with `storage: s3`. Credentials come from the usual AWS_* variables or
 * the config file, and are never described (see `describeStorage`).
 */
import { ConfigError, parseBoolean } from './config.js';

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

/** Storage settings as they come from one source (flags, environment, config file). */
export interface StorageInput {
  storage?: string;
  s3Endpoint?: string;
  s3Bucket?: string;
  s3Region?: string;
  s3Prefix?: string;
  s3ForcePathStyle?: boolean | string;
  s3AccessKeyId?: string;
  s3SecretAccessKey?: string;
  s3SessionToken?: string;
  s3PartSize?: number | string;
  s3RedirectSeconds?: number | string;
  s3MaxAttempts?: number | string;
}

const MIN_PART_SIZE = 5 * 1024 * 1024;
const DEFAULT_PART_SIZE = 16 * 1024 * 1024;

export function storageFromEnvironment(env: NodeJS.ProcessEnv): StorageInput {
  return {
    storage: env.CAIRN_STORAGE,
    s3Endpoint: env.CAIRN_S3_ENDPOINT,
    s3Bucket: env.CAIRN_S3_BUCKET,
    s3Region: env.CAIRN_S3_REGION || env.AWS_REGION || env.AWS_DEFAULT_REGION,
    s3Prefix: env.CAIRN_S3_PREFIX,
    s3ForcePathStyle: env.CAIRN_S3_FORCE_PATH_STYLE,
    s3AccessKeyId: env.AWS_ACCESS_KEY_ID,
    s3SecretAccessKey: env.AWS_SECRET_ACCESS_KEY,
    s3SessionToken: env.AWS_SESSION_TOKEN,
    s3PartSize: env.CAIRN_S3_PART_SIZE,
    s3RedirectSeconds: env.CAIRN_S3_REDIRECT_SECONDS,
    s3MaxAttempts: env.CAIRN_S3_MAX_ATTEMPTS,
  };
}

/** `pick` gives the strongest source's value of a setting (see resolveConfig). */
export function resolveStorage(pick: <K extends keyof StorageInput>(key: K) => StorageInput[K]): StorageConfig {
  const kind = pick('storage') ?? 'filesystem';
  if (kind === 'filesystem') return { kind };
  if (kind !== 's3') throw new ConfigError(`storage must be "filesystem" or "s3", got "${kind}"`);
  const bucket = pick('s3Bucket');
  const accessKeyId = pick('s3AccessKeyId');
  const secretAccessKey = pick('s3SecretAccessKey');
  if (!bucket) throw new ConfigError('storage s3 needs a bucket (CAIRN_S3_BUCKET)');
  if (!accessKeyId || !secretAccessKey) {
    throw new ConfigError('storage s3 needs credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)');
  }
  const region = pick('s3Region') ?? 'us-east-1';
  const endpoint = pick('s3Endpoint');
  const sessionToken = pick('s3SessionToken');
  const partSize = number('s3PartSize', pick('s3PartSize') ?? DEFAULT_PART_SIZE, 1);
  if (partSize < MIN_PART_SIZE) throw new ConfigError(`s3PartSize must be at least ${MIN_PART_SIZE} bytes (S3's minimum part size)`);
  return {
    kind,
    // Without an endpoint: AWS itself, addressed virtual-host style as AWS prefers.
    endpoint: endpoint ?? `https://s3.${region}.amazonaws.com`,
    bucket,
    region,
    prefix: pick('s3Prefix') ?? '',
    // Custom endpoints (radosgw, MinIO) mostly want path-style addressing.
    forcePathStyle: parseBoolean('s3ForcePathStyle', pick('s3ForcePathStyle') ?? endpoint !== undefined),
    accessKeyId,
    secretAccessKey,
    ...(sessionToken ? { sessionToken } : {}),
    partSize: Math.floor(partSize),
    redirectSeconds: number('s3RedirectSeconds', pick('s3RedirectSeconds') ?? 0, 0),
    maxAttempts: Math.floor(number('s3MaxAttempts', pick('s3MaxAttempts') ?? 5, 1)),
  };
}

/** The storage settings as they may be logged: credentials left out. */
export function describeStorage(storage: StorageConfig): Record<string, unknown> {
  if (storage.kind !== 's3') return { ...storage };
  const { secretAccessKey: _secret, sessionToken: _token, accessKeyId: _key, ...rest } = storage;
  return { ...rest, credentials: '***' };
}

function number(name: string, value: number | string, min: number): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n) || n < min) throw new ConfigError(`${name} must be a number ≥ ${min}, got "${value}"`);
  return n;
}
