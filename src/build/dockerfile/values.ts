/**
 * Values inside instructions, read and written the way BuildKit (Go) does, so that configs and
 * history entries come out as BuildKit writes them: durations, port specs, signals, sizes, modes,
 * and Go's `%q`/`%v` renderings of lists.
 */
import { goQuote } from './dump.js';

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, 'μs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, in nanoseconds; undefined when invalid. */
export function parseDuration(text: string): number | undefined {
  let s = text;
  let sign = 1;
  if (s.startsWith('-') || s.startsWith('+')) {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  if (s === '0') return 0;
  if (s === '') return undefined;
  let total = 0;
  const part = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  while (s.length > 0) {
    const match = part.exec(s);
    if (!match) return undefined;
    total += Number(match[1]) * UNIT_NS[match[2]!]!;
    s = s.slice(match[0].length);
  }
  return sign * Math.round(total);
}

/** Go's time.Duration.String (e.g. `1m30s`, `300ms`, `0s`). */
export function formatDuration(ns: number): string {
  if (ns === 0) return '0s';
  const sign = ns < 0 ? '-' : '';
  let n = Math.abs(ns);
  if (n < 1e9) {
    const [unit, size] = n < 1e3 ? ['ns', 1] : n < 1e6 ? ['µs', 1e3] : ['ms', 1e6];
    return `${sign}${trimFraction(n / (size as number))}${unit as string}`;
  }
  const hours = Math.floor(n / 3600e9);
  n -= hours * 3600e9;
  const minutes = Math.floor(n / 60e9);
  n -= minutes * 60e9;
  const seconds = `${trimFraction(n / 1e9)}s`;
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}`;
  return `${sign}${seconds}`;
}

const trimFraction = (v: number): string => v.toFixed(9).replace(/\.?0+$/, '');

/** Go's strconv.QuoteRune, which `%q` uses for an int (a healthcheck's retries). */
function goQuoteRune(n: number): string {
  if (n === 39) return "'\\''";
  const quoted = goQuote(String.fromCodePoint(n));
  return `'${quoted.slice(1, -1).replace(/\\"/g, '"')}'`;
}

/** Go's `%q` of a []string: `["a" "b"]`. */
export const goQuoteList = (list: readonly string[]): string => `[${list.map(goQuote).join(' ')}]`;

/** Go's `%v` of a []string: `[a b]`. */
export const goList = (list: readonly string[]): string => `[${list.join(' ')}]`;

/** BuildKit's history text for HEALTHCHECK: Go's `%q` of the healthcheck struct pointer. */
export function healthcheckHistory(h: { test: readonly string[]; interval: number; timeout: number; startPeriod: number; startInterval: number; retries: number }): string {
  const d = (ns: number) => goQuote(formatDuration(ns));
  return `HEALTHCHECK &{${goQuoteList(h.test)} ${d(h.interval)} ${d(h.timeout)} ${d(h.startPeriod)} ${d(h.startInterval)} ${goQuoteRune(h.retries)}}`;
}

/**
 * EXPOSE's `[ip:][hostport:]port[-end][/proto]` as the config's `port/proto` keys (a range gives
 * one key per port). Throws with BuildKit-like messages.
 */
export function parsePortSpec(spec: string): string[] {
  const slash = spec.lastIndexOf('/');
  const proto = (slash < 0 ? 'tcp' : spec.slice(slash + 1)).toLowerCase();
  const rest = slash < 0 ? spec : spec.slice(0, slash);
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new Error(`invalid proto: ${proto}`);
  const container = rest.slice(rest.lastIndexOf(':') + 1);
  const range = /^(\d+)(?:-(\d+))?$/.exec(container);
  if (!range) throw new Error(`invalid containerPort: ${container}`);
  const start = Number(range[1]);
  const end = range[2] === undefined ? start : Number(range[2]);
  if (start > 65535 || end > 65535 || end < start) throw new Error(`invalid containerPort: ${container}`);
  const ports: string[] = [];
  for (let p = start; p <= end; p++) ports.push(`${p}/${proto}`);
  return ports;
}

const SIGNALS = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF', 'PWR', 'QUIT',
  'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'URG', 'USR1', 'USR2', 'VTALRM', 'WINCH', 'XCPU', 'XFSZ',
  'RTMIN', 'RTMAX',
]);

/** STOPSIGNAL: a nonzero number, or a Linux signal name with or without `SIG`, any case. */
export function isValidSignal(text: string): boolean {
  if (/^\d+$/.test(text)) return Number(text) > 0 && Number(text) <= 64;
  const name = text.toUpperCase().replace(/^SIG/, '');
  return SIGNALS.has(name) || /^RTMIN\+([1-9]|1[0-5])$/.test(name) || /^RTMAX-([1-9]|1[0-4])$/.test(name);
}

/** docker/go-units RAMInBytes (binary multiples: `64m` is 64 MiB). */
export function ramInBytes(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(text);
  if (!match) return undefined;
  const power = match[2] ? 'kmgtp'.indexOf(match[2].toLowerCase()) + 1 : 0;
  return Math.floor(Number(match[1]) * 1024 ** power);
}

/** COPY/ADD `--chmod`: octal up to 07777, or symbolic (`u+x,go-w`). */
export function isValidChmod(text: string): boolean {
  if (/^[0-7]+$/.test(text)) return Number.parseInt(text, 8) <= 0o7777;
  return /^[ugoa]*[-+=]([rwxXst]*|[ugo])(,[ugoa]*[-+=]([rwxXst]*|[ugo]))*$/.test(text);
}
