/**
 * The environment a stage's steps see, and the defaults BuildKit starts a stage with.
 */
import type { ImageConfigState } from './model.js';

export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const DEFAULT_SHELL = ['/bin/sh', '-c'];
/** Predefined ARGs: they reach RUN without a declaration. */
export const PROXY_ARGS = new Set(['HTTP_PROXY', 'HTTPS_PROXY', 'FTP_PROXY', 'NO_PROXY', 'ALL_PROXY'].flatMap((n) => [n, n.toLowerCase()]));

/** Sets `key=value` in a `KEY=value` list, in place if the key is there (its position kept). */
export function setEnv(env: string[], key: string, value: string): void {
  const i = env.findIndex((e) => e === key || e.startsWith(`${key}=`));
  if (i >= 0) env[i] = `${key}=${value}`;
  else env.push(`${key}=${value}`);
}

/** The environment a stage's steps see: `KEY=value` entries in order, and a map to look names up. */
export class Environment {
  readonly entries: string[];
  private readonly values: Map<string, string>;

  constructor(entries: readonly string[]) {
    this.entries = [...entries];
    this.values = new Map();
    for (const entry of entries) {
      const eq = entry.indexOf('=');
      this.values.set(eq < 0 ? entry : entry.slice(0, eq), eq < 0 ? '' : entry.slice(eq + 1));
    }
  }

  set(key: string, value: string): void {
    setEnv(this.entries, key, value);
    this.values.set(key, value);
  }

  readonly get = (name: string): string | undefined => this.values.get(name);
}

/** The config of a stage `FROM scratch` starts with, as BuildKit's: the default PATH, WORKDIR `/`. */
export function scratchConfig(): ImageConfigState {
  return { env: [DEFAULT_PATH], workingDir: '/', exposedPorts: [], volumes: [], labels: {} };
}
