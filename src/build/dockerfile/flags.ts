/**
 * An instruction's `--name=value` flags against the flags it accepts (BuildKit's BFlags): unknown
 * and duplicate flags are refused; booleans also take a bare `--flag`; list flags may repeat.
 */
import { didYouMean } from '../../config/suggest.js';

export type FlagKind = 'bool' | 'string' | 'strings';

export class FlagError extends Error {}

export interface Flags {
  bool(name: string): boolean;
  string(name: string): string | undefined;
  strings(name: string): string[];
  readonly used: ReadonlySet<string>;
}

export function parseFlags(words: readonly string[], spec: Readonly<Record<string, FlagKind>>): Flags {
  const values = new Map<string, string | string[]>();
  for (const word of words) {
    if (!word.startsWith('--')) throw new FlagError(`Arg should start with -- : ${word}`);
    const eq = word.indexOf('=');
    const name = eq < 0 ? word.slice(2) : word.slice(2, eq);
    const value = eq < 0 ? undefined : word.slice(eq + 1);
    const kind = spec[name];
    if (!kind) throw new FlagError(`unknown flag: ${name}${didYouMean(name, Object.keys(spec), (s) => `--${s}`)}`);
    if (values.has(name) && kind !== 'strings') throw new FlagError(`duplicate flag specified: ${name}`);
    if (kind === 'bool') {
      if (value === '') throw new FlagError(`missing a value on flag: ${name}`);
      const lower = (value ?? 'true').toLowerCase();
      if (lower !== 'true' && lower !== 'false') throw new FlagError(`expecting boolean value for flag ${name}, not: ${value}`);
      values.set(name, lower);
    } else {
      if (value === undefined) throw new FlagError(`missing a value on flag: ${name}`);
      if (kind === 'string') values.set(name, value);
      else values.set(name, [...((values.get(name) as string[] | undefined) ?? []), value]);
    }
  }
  return {
    bool: (name) => values.get(name) === 'true',
    string: (name) => values.get(name) as string | undefined,
    strings: (name) => (values.get(name) as string[] | undefined) ?? [],
    used: new Set(values.keys()),
  };
}
