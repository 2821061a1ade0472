/**
 * Failed-login limiter: after too many failures within `windowMs` for one key (an account name,
 * or a client address), further attempts are refused until the window has passed — before any
 * password is checked, so a brute-force attempt costs the attacker time and us nothing.
 * An address gets a larger budget than an account, since many users may share one (NAT, CI).
 * In memory, per process: with several replicas each enforces its own budget.
 */
export interface RateLimitOptions {
  /** Failures allowed per key; a key may be prefixed (`ip:`) to pick another budget. */
  readonly maxFailures: (key: string) => number;
  readonly windowMs: number;
  readonly now?: () => number;
}

interface Window {
  start: number;
  failures: number;
}

const MAX_TRACKED = 100_000;

export class FailedLoginLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly now: () => number;

  constructor(private readonly options: RateLimitOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Seconds to wait before `keys` may try again, or 0 when allowed. */
  retryAfter(keys: readonly string[]): number {
    const now = this.now();
    let wait = 0;
    for (const key of keys) {
      const w = this.windows.get(key);
      if (!w) continue;
      const remaining = w.start + this.options.windowMs - now;
      if (remaining <= 0) this.windows.delete(key);
      else if (w.failures >= this.options.maxFailures(key)) wait = Math.max(wait, Math.ceil(remaining / 1000));
    }
    return wait;
  }

  recordFailure(keys: readonly string[]): void {
    const now = this.now();
    if (this.windows.size > MAX_TRACKED) this.windows.clear();
    for (const key of keys) {
      const w = this.windows.get(key);
      if (!w || w.start + this.options.windowMs <= now) this.windows.set(key, { start: now, failures: 1 });
      else w.failures++;
    }
  }

  recordSuccess(accountKey: string): void {
    this.windows.delete(accountKey);
  }
}
