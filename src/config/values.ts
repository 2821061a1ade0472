/**
 * Reading validated values out of layered sources. Each value remembers where it came from, so
 * an error names what the person typed: `--listen`, `CAIRN_LOG_LEVEL`, `maxManifestBytes in
 * /etc/cairn.json`. Secrets are never quoted back.
 */
import { isIP } from 'node:net';
import { ConfigError } from './errors.js';
import { SETTINGS, type ConfigInput, type SettingKey } from './settings.js';

export interface ConfigSource {
  readonly values: ConfigInput;
  /** How a person names this source's value of `key`: `--listen`, `CAIRN_LISTEN`, `listen in FILE`. */
  where(key: SettingKey): string;
}

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const;

interface Picked<K extends SettingKey> {
  readonly value: NonNullable<ConfigInput[K]>;
  readonly where: string;
}

export class SettingsReader {
  constructor(private readonly sources: readonly ConfigSource[]) {}

  /** The strongest source's value of `key` ('' counts as unset, as in the environment). */
  pick<K extends SettingKey>(key: K): Picked<K> | undefined {
    for (const source of this.sources) {
      const value = source.values[key];
      if (value !== undefined && value !== null && value !== '') return { value: value as NonNullable<ConfigInput[K]>, where: source.where(key) };
    }
    return undefined;
  }

  value<K extends SettingKey>(key: K): ConfigInput[K] {
    return this.pick(key)?.value;
  }

  string(key: SettingKey & StringKey): string | undefined {
    return this.pick(key)?.value as string | undefined;
  }

  /** A number ≥ `min` (whole when `integer`); `min: 0, positive: true` means > 0. */
  number(key: SettingKey & NumberKey, fallback: number, rule: { min: number; integer?: boolean; positive?: boolean }): number {
    const picked = this.pick(key);
    if (!picked) return fallback;
    const n = typeof picked.value === 'number' ? picked.value : Number(String(picked.value).trim() || Number.NaN);
    const wanted = rule.positive ? 'a positive number' : `${rule.integer ? 'a whole number' : 'a number'} ≥ ${rule.min}`;
    const fits = Number.isFinite(n) && n >= rule.min && (!rule.positive || n > 0) && (!rule.integer || Number.isInteger(n));
    if (!fits) throw invalid(picked, key, `is not ${wanted}`);
    return n;
  }

  boolean(key: SettingKey & BooleanKey, fallback: boolean): boolean {
    const picked = this.pick(key);
    if (!picked) return fallback;
    if (typeof picked.value === 'boolean') return picked.value;
    const text = String(picked.value);
    if (/^(1|true|yes|on)$/i.test(text)) return true;
    if (/^(0|false|no|off)$/i.test(text)) return false;
    throw invalid(picked, key, 'is not true or false');
  }

  oneOf<T extends string>(key: SettingKey & StringKey, fallback: T, allowed: readonly T[], noun: string): T {
    const picked = this.pick(key);
    if (!picked) return fallback;
    const value = picked.value as string;
    if ((allowed as readonly string[]).includes(value)) return value as T;
    throw invalid(picked, key, `is not ${noun} (${allowed.join(', ')})`);
  }

  /** An absolute URL whose scheme is one of `protocols` (e.g. `['http:', 'https:']`); `noun` says what it must be. */
  url(key: SettingKey & StringKey, protocols: readonly string[], noun: string, example: string): URL | undefined {
    const picked = this.pick(key);
    if (!picked) return undefined;
    let url: URL | undefined;
    try {
      url = new URL(picked.value as string);
    } catch {
      url = undefined;
    }
    if (!url || !protocols.includes(url.protocol) || (url.protocol.startsWith('http') && !url.hostname)) {
      throw invalid(picked, key, `is not ${noun} (e.g. ${example})`);
    }
    return url;
  }

  listen(key: SettingKey & StringKey, fallback: string): ListenAddress {
    const picked = this.pick(key);
    const text = (picked?.value as string | undefined) ?? fallback;
    const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
    const host = match?.[1] ?? match?.[2];
    const hostOk = match?.[1] !== undefined ? isIP(match[1]) === 6 : host !== undefined && (isIP(host) === 4 || HOSTNAME.test(host));
    if (!match || !hostOk) throw invalid(picked, key, 'is not HOST:PORT (e.g. 127.0.0.1:5000, 0.0.0.0:5000, [::1]:5000)');
    const port = Number(match[3]);
    if (port > 65535) throw invalid(picked, key, `has port ${port}, out of range (0-65535)`);
    return { host: host!, port };
  }
}

const HOSTNAME = /^(?=.{1,253}$)[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$/;

type KeysOfKind<K extends string> = { [P in SettingKey]: (typeof SETTINGS)[P]['kind'] extends K ? P : never }[SettingKey];
type StringKey = KeysOfKind<'string'>;
type NumberKey = KeysOfKind<'number'>;
type BooleanKey = KeysOfKind<'boolean'>;

/** `WHERE: "VALUE" PROBLEM`, without the value for secrets. */
export function invalid(picked: { value: unknown; where: string } | undefined, key: SettingKey, problem: string): ConfigError {
  const where = picked?.where ?? key;
  const secret = 'secret' in SETTINGS[key];
  return new ConfigError(secret || !picked ? `${where}: ${problem.replace(/^is /, '')}` : `${where}: "${String(picked.value)}" ${problem}`);
}
