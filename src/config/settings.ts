/**
 * Every setting Cairn knows, once: its config-file key, the environment variables it is read
 * from, and the kind of value it takes. The environment reader, the config-file checks (unknown
 * keys, with the closest known name; values of the wrong JSON type) and the `ConfigInput` type
 * all derive from this table, so a new setting is one entry here plus its validation in
 * `resolveConfig`.
 */

/** How a value may be written: in the environment everything is a string; JSON may be typed. */
export type SettingKind = 'string' | 'number' | 'boolean' | 'list';

interface SettingSpec {
  /** Environment variables, strongest first. Empty when only the config file sets it. */
  readonly env: readonly string[];
  readonly kind: SettingKind;
  /** Never echoed in an error message. */
  readonly secret?: true;
}

export const SETTINGS = {
  listen: { env: ['CAIRN_LISTEN'], kind: 'string' },
  dataDir: { env: ['CAIRN_DATA_DIR'], kind: 'string' },
  databaseUrl: { env: ['DATABASE_URL'], kind: 'string', secret: true },
  maxManifestBytes: { env: ['CAIRN_MAX_MANIFEST_BYTES'], kind: 'number' },
  uploadExpiryHours: { env: ['CAIRN_UPLOAD_EXPIRY_HOURS'], kind: 'number' },
  automaticMount: { env: ['CAIRN_AUTOMATIC_MOUNT'], kind: 'boolean' },
  deletes: { env: ['CAIRN_DELETES'], kind: 'boolean' },
  logLevel: { env: ['CAIRN_LOG_LEVEL'], kind: 'string' },
  externalUrl: { env: ['CAIRN_EXTERNAL_URL'], kind: 'string' },
  authService: { env: ['CAIRN_AUTH_SERVICE'], kind: 'string' },
  tokenLifetimeSeconds: { env: ['CAIRN_TOKEN_LIFETIME_SECONDS'], kind: 'number' },
  tokenKeyFile: { env: ['CAIRN_TOKEN_KEY_FILE'], kind: 'string' },
  allowOpen: { env: ['CAIRN_ALLOW_OPEN'], kind: 'boolean' },
  adminPassword: { env: ['CAIRN_ADMIN_PASSWORD'], kind: 'string', secret: true },
  maxFailedLogins: { env: ['CAIRN_MAX_FAILED_LOGINS'], kind: 'number' },
  cacheMerge: { env: ['CAIRN_CACHE_MERGE'], kind: 'list' },
  storage: { env: ['CAIRN_STORAGE'], kind: 'string' },
  s3Endpoint: { env: ['CAIRN_S3_ENDPOINT'], kind: 'string' },
  s3Bucket: { env: ['CAIRN_S3_BUCKET'], kind: 'string' },
  s3Region: { env: ['CAIRN_S3_REGION', 'AWS_REGION', 'AWS_DEFAULT_REGION'], kind: 'string' },
  s3Prefix: { env: ['CAIRN_S3_PREFIX'], kind: 'string' },
  s3ForcePathStyle: { env: ['CAIRN_S3_FORCE_PATH_STYLE'], kind: 'boolean' },
  s3AccessKeyId: { env: ['AWS_ACCESS_KEY_ID'], kind: 'string', secret: true },
  s3SecretAccessKey: { env: ['AWS_SECRET_ACCESS_KEY'], kind: 'string', secret: true },
  s3SessionToken: { env: ['AWS_SESSION_TOKEN'], kind: 'string', secret: true },
  s3PartSize: { env: ['CAIRN_S3_PART_SIZE'], kind: 'number' },
  s3RedirectSeconds: { env: ['CAIRN_S3_REDIRECT_SECONDS'], kind: 'number' },
  s3MaxAttempts: { env: ['CAIRN_S3_MAX_ATTEMPTS'], kind: 'number' },
  gcReviewDelay: { env: ['CAIRN_GC_REVIEW_DELAY'], kind: 'string' },
  gcInterval: { env: ['CAIRN_GC_INTERVAL'], kind: 'string' },
  gcSweepInterval: { env: ['CAIRN_GC_SWEEP_INTERVAL'], kind: 'string' },
  githubWebhookSecret: { env: ['CAIRN_GITHUB_WEBHOOK_SECRET'], kind: 'string', secret: true },
  gitlabWebhookToken: { env: ['CAIRN_GITLAB_WEBHOOK_TOKEN'], kind: 'string', secret: true },
  buildWorkers: { env: ['CAIRN_BUILD_WORKERS'], kind: 'number' },
  buildContextMaxBytes: { env: ['CAIRN_BUILD_CONTEXT_MAX_BYTES'], kind: 'number' },
  tlsCert: { env: ['CAIRN_TLS_CERT'], kind: 'string' },
  tlsKey: { env: ['CAIRN_TLS_KEY'], kind: 'string' },
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;
export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

type ValueOf<K extends SettingKind> = K extends 'number'
  ? number | string
  : K extends 'boolean'
    ? boolean | string
    : K extends 'list'
      ? string | string[]
      : string;

/** Settings as they come from any one source, before defaults and validation. */
export type ConfigInput = { -readonly [K in SettingKey]?: ValueOf<(typeof SETTINGS)[K]['kind']> };

export function isSettingKey(key: string): key is SettingKey {
  return Object.hasOwn(SETTINGS, key);
}

/** Whether a JSON value has a type the setting's kind accepts (strings are checked later). */
export function acceptsJsonValue(kind: SettingKind, value: unknown): boolean {
  switch (kind) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' || typeof value === 'string';
    case 'boolean':
      return typeof value === 'boolean' || typeof value === 'string';
    case 'list':
      return typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'));
  }
}

export const KIND_WORDS: Record<SettingKind, string> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  list: 'a string or an array of strings',
};
