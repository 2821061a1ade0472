/**
 * Cairn's configuration, typed and validated once at start. Sources, strongest first: command-line
 * flags, environment variables, an optional JSON config file (`--config` / `CAIRN_CONFIG`),
 * defaults. The settings are listed once, in settings.ts; each value is validated with its source
 * named (values.ts), so an error says `CAIRN_LOG_LEVEL: …` or `logLevel in FILE: …`. Secrets (the
 * database URL's password, passwords, S3 keys) are never logged nor quoted: see `describeConfig`.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { passwordProblem } from '../auth/password-policy.js';
import { ConfigError } from './errors.js';
import { acceptsJsonValue, isSettingKey, KIND_WORDS, SETTING_KEYS, SETTINGS, type ConfigInput, type SettingKey } from './settings.js';
import { resolveGc, type GcConfig } from './gc.js';
import { describeStorage, resolveStorage, type StorageConfig } from './storage.js';
import { didYouMean } from './suggest.js';
import { invalid, LOG_LEVELS, SettingsReader, type ConfigSource, type ListenAddress } from './values.js';

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
  /** DELETE on /v2/ (blobs, manifests, tags); false answers every one 405 UNSUPPORTED. */
  readonly deletes: boolean;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  /** Base URL clients reach Cairn at (token realm); default: from each request's Host header. */
  readonly externalUrl?: string;
  readonly auth: AuthConfig;
  /** Tag globs, matched against `<repository>:<tag>`, whose cache pushes are merged server-side. */
  readonly cacheMergePatterns: readonly string[];
  /** Where blob bytes live: under `dataDir`, or in an S3 bucket (storage.ts). */
  readonly storage: StorageConfig;
  /** Online garbage collection: review delay, pass and sweep intervals (gc.ts). */
  readonly gc: GcConfig;
  /** Shared secrets of the Git forge webhook receivers; a receiver without one answers 404. Never logged. */
  readonly webhooks: { readonly githubSecret?: string; readonly gitlabToken?: string };
  /** Build worker processes `cairn serve` forks (0: none; `cairn worker` runs them elsewhere). */
  readonly buildWorkers: number;
  /** The largest build context (tar) the builds API accepts. */
  readonly buildContextMaxBytes: number;
  /** PEM files of the server certificate (chain) and key: HTTPS and HTTP/2 instead of plain HTTP. */
  readonly tls?: { readonly cert: string; readonly key: string };
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

export { ConfigError } from './errors.js';
export type { ConfigInput, SettingKey } from './settings.js';
export type { ConfigSource, ListenAddress } from './values.js';

const DEFAULTS = {
  listen: '127.0.0.1:5000',
  dataDir: './data',
  maxManifestBytes: 4 * 1024 * 1024,
  uploadExpiryHours: 24,
  logLevel: 'info',
  authService: 'cairn',
  tokenLifetimeSeconds: 300,
  maxFailedLogins: 10,
  buildWorkers: 1,
  buildContextMaxBytes: 1024 * 1024 * 1024,
} as const;

/** The settings found in `env`, each named by the variable that gave it. */
export function fromEnvironment(env: NodeJS.ProcessEnv): ConfigSource {
  const values: Record<string, string> = {};
  const origin = new Map<SettingKey, string>();
  for (const key of SETTING_KEYS) {
    const name = SETTINGS[key].env.find((variable) => env[variable]);
    if (name) {
      values[key] = env[name]!;
      origin.set(key, name);
    }
  }
  return { values: values as ConfigInput, where: (key) => origin.get(key) ?? SETTINGS[key].env[0] ?? key };
}

/**
 * A JSON config file: one object whose keys are the settings' config-file keys. An unknown key is
 * refused with the closest known one, since a silently ignored typo is a setting silently unset.
 */
export function fromFile(path: string): ConfigSource {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (error as Error).message;
    throw new ConfigError(`cannot read config file ${path}: ${reason}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`);
  }
  for (const [key, value] of Object.entries(parsed)) {
    if (!isSettingKey(key)) throw new ConfigError(`unknown config key "${key}" in ${path}${didYouMean(key, SETTING_KEYS)}`);
    const { kind } = SETTINGS[key];
    if (!acceptsJsonValue(kind, value)) {
      throw new ConfigError(`${key} in ${path}: expected ${KIND_WORDS[kind]}, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
    }
  }
  return { values: parsed as ConfigInput, where: (key) => `${key} in ${path}` };
}

/** Merges sources (earlier wins) over the defaults and validates the result. */
export function resolveConfig(...sources: Array<ConfigSource | ConfigInput>): CairnConfig {
  const settings = new SettingsReader(sources.map(asSource));
  const databaseUrl = settings.url('databaseUrl', ['postgres:', 'postgresql:'], 'a PostgreSQL URL', 'postgres://USER:PASSWORD@HOST:5432/DATABASE');
  const dataDir = resolve(settings.string('dataDir') ?? DEFAULTS.dataDir);
  const externalUrl = settings.url('externalUrl', ['http:', 'https:'], 'an http(s) URL', 'https://registry.example.com');
  const tokenKeyFile = settings.string('tokenKeyFile');
  const adminPassword = settings.pick('adminPassword');
  if (adminPassword) {
    const problem = passwordProblem(adminPassword.value);
    if (problem) throw invalid(adminPassword, 'adminPassword', problem);
  }
  return {
    listen: settings.listen('listen', DEFAULTS.listen),
    dataDir,
    // The string as given: pg parses it itself (a URL object would re-encode it).
    ...(databaseUrl ? { databaseUrl: settings.string('databaseUrl')! } : {}),
    maxManifestBytes: settings.number('maxManifestBytes', DEFAULTS.maxManifestBytes, { min: 1, integer: true }),
    uploadExpiryMs: settings.number('uploadExpiryHours', DEFAULTS.uploadExpiryHours, { min: 0, positive: true }) * 3600_000,
    automaticMount: settings.boolean('automaticMount', true),
    deletes: settings.boolean('deletes', true),
    logLevel: settings.oneOf('logLevel', DEFAULTS.logLevel, LOG_LEVELS, 'a log level'),
    ...(externalUrl ? { externalUrl: externalUrl.toString().replace(/\/$/, '') } : {}),
    auth: {
      service: settings.string('authService') ?? DEFAULTS.authService,
      tokenLifetimeSeconds: settings.number('tokenLifetimeSeconds', DEFAULTS.tokenLifetimeSeconds, { min: 1, integer: true }),
      tokenKeyFile: resolve(tokenKeyFile ?? join(dataDir, 'auth', 'token-signing-key.pem')),
      tokenKeyFileConfigured: tokenKeyFile !== undefined,
      allowOpen: settings.boolean('allowOpen', false),
      ...(adminPassword ? { adminPassword: adminPassword.value } : {}),
      maxFailedLogins: settings.number('maxFailedLogins', DEFAULTS.maxFailedLogins, { min: 1, integer: true }),
    },
    cacheMergePatterns: globList(settings.value('cacheMerge')),
    storage: resolveStorage(settings),
    gc: resolveGc(settings),
    webhooks: webhookSecrets(settings),
    buildWorkers: settings.number('buildWorkers', DEFAULTS.buildWorkers, { min: 0, integer: true }),
    buildContextMaxBytes: settings.number('buildContextMaxBytes', DEFAULTS.buildContextMaxBytes, { min: 1, integer: true }),
    ...tlsFiles(settings),
  };
}

/** Both files or neither: a certificate without its key (or the reverse) is a mistake, not plain HTTP. */
function tlsFiles(settings: SettingsReader): Pick<CairnConfig, 'tls'> {
  const cert = settings.pick('tlsCert');
  const key = settings.pick('tlsKey');
  if (cert && !key) throw invalid(cert, 'tlsCert', 'needs a private key too (--tls-key, CAIRN_TLS_KEY or tlsKey)');
  if (key && !cert) throw invalid(key, 'tlsKey', 'needs a certificate too (--tls-cert, CAIRN_TLS_CERT or tlsCert)');
  return cert && key ? { tls: { cert: resolve(String(cert.value)), key: resolve(String(key.value)) } } : {};
}

function webhookSecrets(settings: SettingsReader): CairnConfig['webhooks'] {
  const githubSecret = settings.string('githubWebhookSecret');
  const gitlabToken = settings.string('gitlabWebhookToken');
  return { ...(githubSecret ? { githubSecret } : {}), ...(gitlabToken ? { gitlabToken } : {}) };
}

/** A plain object of settings (tests, programmatic use) names each value by its key. */
function asSource(source: ConfigSource | ConfigInput): ConfigSource {
  return 'where' in source && typeof source.where === 'function' ? (source as ConfigSource) : { values: source as ConfigInput, where: (key) => key };
}

function globList(value: string | string[] | undefined): string[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : value.split(',');
  return list.map((g) => g.trim()).filter((g) => g.length > 0);
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
