/**
 * Cairn's configuration, typed and validated once at start. Sources, strongest first: command-line
 * flags, environment variables, an optional JSON config file (`--config` / `CAIRN_CONFIG`),
 * defaults. Secrets (the database URL's password) are never logged: see `describeConfig`.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describeStorage, resolveStorage, storageFromEnvironment, type StorageConfig, type StorageInput } from './storage.js';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface CairnConfig {
  readonly listen: ListenAddress;
  readonly dataDir: string;
  /** PostgreSQL URL; absent means embedded PGlite under `dataDir`. */
  readonly databaseUrl?: string;
  readonly maxManifestBytes: number;
  /** Upload sessions untouched this long are discarded. */
  readonly uploadExpiryMs: number;
  /** `POST ?mount=<digest>` without `from` mounts from any repository the caller may pull. */
  readonly automaticMount: boolean;
  readonly logLevel: string;
  /** Base URL clients reach Cairn at (token realm); default: from each request's Host header. */
  readonly externalUrl?: string;
  readonly auth: AuthConfig;
  /** Tag globs, matched against `<repository>:<tag>`, whose cache pushes are merged server-side. */
  readonly cacheMergePatterns: readonly string[];
  /** Where blob bytes live: under `dataDir`, or in an S3 bucket (storage.ts). */
  readonly storage: StorageConfig;
  /** Shared secrets of the Git forge webhook receivers; a receiver without one answers 404. Never logged. */
  readonly webhooks: { readonly githubSecret?: string; readonly gitlabToken?: string };
}

export interface AuthConfig {
  /** Audience of issued tokens and the `service` of challenges. */
  readonly service: string;
  readonly tokenLifetimeSeconds: number;
  /** PEM file of the token signing key; created at first start when it is the default path. */
  readonly tokenKeyFile: string;
  readonly tokenKeyFileConfigured: boolean;
  /** Accept an open registry on a non-loopback address (no admin configured). */
  readonly allowOpen: boolean;
  /** When set, the user `admin` is created (or its password reset) at start. Never logged. */
  readonly adminPassword?: string;
  readonly maxFailedLogins: number;
}

/** Settings as they come from any one source, before defaults. */
export interface ConfigInput extends StorageInput {
  listen?: string;
  dataDir?: string;
  databaseUrl?: string;
  maxManifestBytes?: number | string;
  uploadExpiryHours?: number | string;
  automaticMount?: boolean | string;
  logLevel?: string;
  externalUrl?: string;
  authService?: string;
  tokenLifetimeSeconds?: number | string;
  tokenKeyFile?: string;
  allowOpen?: boolean | string;
  adminPassword?: string;
  maxFailedLogins?: number | string;
  cacheMerge?: string | string[];
  githubWebhookSecret?: string;
  gitlabWebhookToken?: string;
}

export class ConfigError extends Error {}

const DEFAULTS = {
  listen: '127.0.0.1:5000',
  dataDir: './data',
  maxManifestBytes: 4 * 1024 * 1024,
  uploadExpiryHours: 24,
  logLevel: 'info',
  authService: 'cairn',
  tokenLifetimeSeconds: 300,
  maxFailedLogins: 10,
} as const;

export function fromEnvironment(env: NodeJS.ProcessEnv): ConfigInput {
  return {
    ...storageFromEnvironment(env),
    listen: env.CAIRN_LISTEN,
    dataDir: env.CAIRN_DATA_DIR,
    databaseUrl: env.DATABASE_URL,
    maxManifestBytes: env.CAIRN_MAX_MANIFEST_BYTES,
    uploadExpiryHours: env.CAIRN_UPLOAD_EXPIRY_HOURS,
    automaticMount: env.CAIRN_AUTOMATIC_MOUNT,
    logLevel: env.CAIRN_LOG_LEVEL,
    externalUrl: env.CAIRN_EXTERNAL_URL,
    authService: env.CAIRN_AUTH_SERVICE,
    tokenLifetimeSeconds: env.CAIRN_TOKEN_LIFETIME_SECONDS,
    tokenKeyFile: env.CAIRN_TOKEN_KEY_FILE,
    allowOpen: env.CAIRN_ALLOW_OPEN,
    adminPassword: env.CAIRN_ADMIN_PASSWORD,
    maxFailedLogins: env.CAIRN_MAX_FAILED_LOGINS,
    cacheMerge: env.CAIRN_CACHE_MERGE,
    githubWebhookSecret: env.CAIRN_GITHUB_WEBHOOK_SECRET,
    gitlabWebhookToken: env.CAIRN_GITLAB_WEBHOOK_TOKEN,
  };
}

export function fromFile(path: string): ConfigInput {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`);
  }
  return parsed as ConfigInput;
}

/** Merges sources (earlier wins) over the defaults and validates the result. */
export function resolveConfig(...sources: ConfigInput[]): CairnConfig {
  const pick = <K extends keyof ConfigInput>(key: K): ConfigInput[K] =>
    sources.map((s) => s[key]).find((v) => v !== undefined && v !== '');
  const databaseUrl = pick('databaseUrl');
  const dataDir = resolve(pick('dataDir') ?? DEFAULTS.dataDir);
  const externalUrl = pick('externalUrl');
  const tokenKeyFile = pick('tokenKeyFile');
  const adminPassword = pick('adminPassword');
  const githubSecret = pick('githubWebhookSecret');
  const gitlabToken = pick('gitlabWebhookToken');
  return {
    listen: parseListen(pick('listen') ?? DEFAULTS.listen),
    dataDir,
    ...(databaseUrl ? { databaseUrl } : {}),
    maxManifestBytes: positiveNumber('maxManifestBytes', pick('maxManifestBytes') ?? DEFAULTS.maxManifestBytes),
    uploadExpiryMs: positiveNumber('uploadExpiryHours', pick('uploadExpiryHours') ?? DEFAULTS.uploadExpiryHours) * 3600_000,
    automaticMount: parseBoolean('automaticMount', pick('automaticMount') ?? true),
    logLevel: pick('logLevel') ?? DEFAULTS.logLevel,
    ...(externalUrl ? { externalUrl: parseExternalUrl(externalUrl) } : {}),
    auth: {
      service: pick('authService') ?? DEFAULTS.authService,
      tokenLifetimeSeconds: positiveNumber('tokenLifetimeSeconds', pick('tokenLifetimeSeconds') ?? DEFAULTS.tokenLifetimeSeconds),
      tokenKeyFile: resolve(tokenKeyFile ?? join(dataDir, 'auth', 'token-signing-key.pem')),
      tokenKeyFileConfigured: tokenKeyFile !== undefined,
      allowOpen: parseBoolean('allowOpen', pick('allowOpen') ?? false),
      ...(adminPassword ? { adminPassword } : {}),
      maxFailedLogins: positiveNumber('maxFailedLogins', pick('maxFailedLogins') ?? DEFAULTS.maxFailedLogins),
    },
    cacheMergePatterns: globList(pick('cacheMerge')),
    storage: resolveStorage(pick),
    webhooks: { ...(githubSecret ? { githubSecret } : {}), ...(gitlabToken ? { gitlabToken } : {}) },
  };
}

function parseExternalUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
    return url.toString().replace(/\/$/, '');
  } catch {
    throw new ConfigError(`invalid external URL "${value}"`);
  }
}

function globList(value: string | string[] | undefined): string[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : value.split(',');
  return list.map((g) => g.trim()).filter((g) => g.length > 0);
}

export function parseBoolean(name: string, value: boolean | string): boolean {
  if (typeof value === 'boolean') return value;
  if (/^(1|true|yes)$/i.test(value)) return true;
  if (/^(0|false|no)$/i.test(value)) return false;
  throw new ConfigError(`${name} must be true or false, got "${value}"`);
}

export function parseListen(value: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw new ConfigError(`invalid listen address "${value}" (want host:port)`);
  return { host: match[1] ?? match[2]!, port };
}

/** The configuration as it may be logged: the database password masked. */
export function describeConfig(config: CairnConfig): Record<string, unknown> {
  const { adminPassword, ...auth } = config.auth;
  return {
    ...config,
    databaseUrl: config.databaseUrl ? maskPassword(config.databaseUrl) : 'embedded (PGlite)',
    auth: { ...auth, adminPassword: adminPassword ? '(set)' : '(not set)' },
    storage: describeStorage(config.storage),
    webhooks: { github: config.webhooks.githubSecret ? '(set)' : '(not set)', gitlab: config.webhooks.gitlabToken ? '(set)' : '(not set)' },
  };
}

function maskPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}

function positiveNumber(name: string, value: number | string): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`${name} must be a positive number, got "${value}"`);
  return n;
}
