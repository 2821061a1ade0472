// RFC 3339 timestamps as BuildKit writes them (Go `time.Time`, RFC3339Nano). Times are kept as the
// original strings in configs; this module only turns them into comparable nanosecond counts, since
// `Date` would drop the nanoseconds that order layers created within the same millisecond.

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/** Go's zero `time.Time`, which BuildKit writes when no creation time is known. */
export const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/** Nanoseconds since the Unix epoch, or undefined when `text` is not a valid RFC 3339 time. */
export function parseTimeNs(text: string): bigint | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number, number, number, number, number, number,
  ];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  // setUTCFullYear, unlike Date.UTC, does not map years 0–99 to 1900–1999 (Go's zero time is year 1).
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  let ns = BigInt(date.getTime()) * 1_000_000n + BigInt((m[7] ?? '').padEnd(9, '0'));
  if (m[9] !== undefined) {
    const offsetHours = Number(m[10]);
    const offsetMinutes = Number(m[11]);
    if (offsetHours > 23 || offsetMinutes > 59) return undefined;
    const offsetNs = BigInt(offsetHours * 60 + offsetMinutes) * 60_000_000_000n;
    ns += m[9] === '+' ? -offsetNs : offsetNs;
  }
  return ns;
}

/** True when `text` is a time BuildKit's Go decoder would accept. */
export function isRfc3339(text: string): boolean {
  return parseTimeNs(text) !== undefined;
}

const ZERO_NS = parseTimeNs(GO_ZERO_TIME) as bigint;

/** A meaningful creation time: parsed, and not Go's zero value. */
export function knownTimeNs(text: string | undefined): bigint | undefined {
  if (text === undefined) return undefined;
  const ns = parseTimeNs(text);
  return ns === undefined || ns === ZERO_NS ? undefined : ns;
}

/** Pick the later of two optional time strings (ties keep the lexically larger, for determinism). */
export function laterTime(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const na = parseTimeNs(a) ?? -1n;
  const nb = parseTimeNs(b) ?? -1n;
  if (na !== nb) return na > nb ? a : b;
  return a >= b ? a : b;
}

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
}
