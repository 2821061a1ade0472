/**
 * Command-line options: what each command accepts, parsed with node's own `parseArgs` (its
 * tokens, so that every mistake gets our one-line message with the closest known flag).
 */
import { parseArgs } from 'node:util';
import { SETTINGS, type SettingKey } from '../config/settings.js';
import { didYouMean } from '../config/suggest.js';
import { UsageError } from './errors.js';

export interface OptionSpec {
  /** The long name, without `--`. */
  readonly name: string;
  readonly short?: string;
  readonly type: 'string' | 'boolean';
  /** Placeholder shown in help (`HOST:PORT`); string options only. */
  readonly value?: string;
  readonly help: string;
  /** The configuration setting this flag sets (its environment variable is shown in help). */
  readonly setting?: SettingKey;
  /** A boolean flag that sets its setting to false (`--no-x`; node 20's parseArgs has no negation). */
  readonly negates?: true;
  /** A string option that may be given many times (`-t a -t b`): its value is the list. */
  readonly multiple?: true;
}

/** Flags over configuration settings; the other settings come from the environment or a file. */
export const CONFIG_OPTIONS: readonly OptionSpec[] = [
  { name: 'listen', type: 'string', value: 'HOST:PORT', setting: 'listen', help: 'address to listen on (default 127.0.0.1:5000)' },
  { name: 'data-dir', type: 'string', value: 'DIR', setting: 'dataDir', help: 'blobs and the embedded database (default ./data)' },
  { name: 'database-url', type: 'string', value: 'URL', setting: 'databaseUrl', help: 'PostgreSQL instead of the embedded database' },
  { name: 'storage', type: 'string', value: 'KIND', setting: 'storage', help: 'filesystem (default) or s3 (see README for the S3 settings)' },
  { name: 'log-level', type: 'string', value: 'LEVEL', setting: 'logLevel', help: 'fatal, error, warn, info (default), debug or trace' },
  { name: 'deletes', type: 'string', value: 'true|false', setting: 'deletes', help: 'allow DELETE on /v2/ (default true; false answers 405 UNSUPPORTED)' },
  { name: 'no-deletes', type: 'boolean', setting: 'deletes', negates: true, help: 'the same as --deletes false' },
  { name: 'tls-cert', type: 'string', value: 'FILE', setting: 'tlsCert', help: 'serve HTTPS (and HTTP/2) with this PEM certificate chain; needs --tls-key' },
  { name: 'tls-key', type: 'string', value: 'FILE', setting: 'tlsKey', help: 'the PEM private key of --tls-cert' },
  { name: 'allow-open', type: 'boolean', setting: 'allowOpen', help: 'serve without authentication on a non-loopback address when no admin exists' },
  { name: 'config', type: 'string', value: 'FILE', help: 'JSON config file (CAIRN_CONFIG): an object of settings, keys as in README' },
];

/** `cairn serve`'s own: the build workers it forks. */
export const BUILD_WORKER_OPTIONS: readonly OptionSpec[] = [
  { name: 'build-workers', type: 'string', value: 'N', setting: 'buildWorkers', help: 'build worker processes to run (default 1; 0 turns builds off here)' },
];

export const HELP_OPTION: OptionSpec = { name: 'help', short: 'h', type: 'boolean', help: 'show this help' };

export interface ParsedOptions {
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly positionals: readonly string[];
}

/**
 * Parses `args` against `specs` (plus --help). `maxPositionals` extra words are allowed (the help
 * command's topic); anything else unknown is a UsageError naming `commandName`.
 */
export function parseOptions(args: readonly string[], specs: readonly OptionSpec[], commandName: string, maxPositionals = 0): ParsedOptions {
  const all = [...specs, HELP_OPTION];
  const options = Object.fromEntries(all.map((o) => [o.name, { type: o.type, ...(o.short ? { short: o.short } : {}) }]));
  const { tokens } = parseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true });
  const values: Record<string, string | boolean | string[] | undefined> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'option-terminator') continue;
    if (token.kind === 'positional') {
      if (positionals.length >= maxPositionals) throw new UsageError(`unexpected argument "${token.value}" for ${commandName}`);
      positionals.push(token.value);
      continue;
    }
    const spec = all.find((o) => o.name === token.name);
    if (!spec) {
      const names = all.map((o) => `--${o.name}`);
      throw new UsageError(`unknown option ${token.rawName} for ${commandName}${didYouMean(`--${token.name}`, names, (s) => s)}`);
    }
    if (spec.type === 'boolean') {
      if (token.inlineValue) throw new UsageError(`option --${spec.name} takes no value`);
      values[spec.name] = true;
      continue;
    }
    // parseArgs in loose mode takes the next word as the value even when it is another flag.
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-') && token.value.length > 1)) {
      throw new UsageError(`option --${spec.name} needs a value (--${spec.name} ${spec.value ?? 'VALUE'})`);
    }
    values[spec.name] = spec.multiple ? [...((values[spec.name] as string[] | undefined) ?? []), token.value] : token.value;
  }
  return { values, positionals };
}

/** `--listen HOST:PORT` … lines for help, with each flag's environment variable. */
export function describeOptions(specs: readonly OptionSpec[]): string {
  const rows = [...specs, HELP_OPTION].map((o) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${o.name}${o.value ? ` ${o.value}` : ''}`;
    const env = o.setting ? SETTINGS[o.setting].env[0] : undefined;
    return [flag, env ? `${o.help} [${env}]` : o.help] as const;
  });
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  return rows.map(([flag, help]) => `  ${flag.padEnd(width)}${help}`).join('\n');
}
