/**
 * Garbage collection settings (README "Garbage collection"):
 *
 *   gcReviewDelay    CAIRN_GC_REVIEW_DELAY    24h   how long an unreferenced object waits before
 *                                                   it is deleted: longer than the longest push or
 *                                                   cache export (blobs go up before their manifest)
 *   gcInterval       CAIRN_GC_INTERVAL        5m    between background passes; 0 turns them off
 *   gcSweepInterval  CAIRN_GC_SWEEP_INTERVAL  24h   between sweeps of storage for bytes no row names
 *
 * Durations are a number and a unit (ms, s, m, h, d), e.g. `90s`, `24h`; a bare number is seconds.
 * (Hand-written: five units and one regular expression, where a library would add a dependency
 * to every install for the same.)
 */
import { ConfigError } from './errors.js';
import type { SettingKey } from './settings.js';
import { invalid, type SettingsReader } from './values.js';

export interface GcConfig {
  readonly reviewDelayMs: number;
  /** 0: no background passes (POST /api/v1/gc/runs and `cairn gc` still run one). */
  readonly intervalMs: number;
  readonly sweepIntervalMs: number;
}

const DEFAULTS = { gcReviewDelay: '24h', gcInterval: '5m', gcSweepInterval: '24h' } as const;

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function resolveGc(settings: SettingsReader): GcConfig {
  const reviewDelayMs = duration(settings, 'gcReviewDelay', DEFAULTS.gcReviewDelay, 1_000);
  return {
    reviewDelayMs,
    intervalMs: duration(settings, 'gcInterval', DEFAULTS.gcInterval, 0),
    sweepIntervalMs: duration(settings, 'gcSweepInterval', DEFAULTS.gcSweepInterval, 1),
  };
}

function duration(settings: SettingsReader, key: SettingKey & `gc${string}`, fallback: string, minMs: number): number {
  const picked = settings.pick(key);
  if (!picked) return parseDuration(key, fallback);
  let ms: number;
  try {
    ms = parseDuration(key, String(picked.value));
  } catch {
    throw invalid(picked, key, 'is not a duration like 90s, 5m or 24h');
  }
  if (ms < minMs) throw invalid(picked, key, minMs >= 1_000 ? `is less than ${minMs / 1_000}s` : 'is not more than 0');
  return ms;
}

/** `90s` → 90000. Throws ConfigError naming the setting for anything else. */
export function parseDuration(name: string, value: string | number): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value * 1_000;
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(String(value));
  if (!match) throw new ConfigError(`${name} must be a duration like 90s, 5m or 24h, got "${value}"`);
  const ms = Number(match[1]) * UNIT_MS[match[2] ?? 's']!;
  if (!Number.isSafeInteger(Math.round(ms))) throw new ConfigError(`${name} is too large: "${value}"`);
  return Math.round(ms);
}
