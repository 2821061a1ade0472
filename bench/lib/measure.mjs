// Bounded concurrent loops and the statistics drawn from them.

const now = () => performance.now();

/**
 * Runs fn(i) for i in [0, count) with `concurrency` workers, stopping early
 * once `maxMs` has passed so a slow target cannot stall the whole run.
 * Returns completed count, wall time and per-call latencies (ms).
 */
export async function runConcurrent({ count, concurrency, maxMs, fn }) {
  const latencies = new Float64Array(count);
  const deadline = now() + maxMs;
  let next = 0;
  let done = 0;
  async function worker() {
    while (next < count && now() < deadline) {
      const i = next++;
      const t0 = now();
      try {
        await fn(i);
      } catch (err) {
        next = count; // stop the other workers too: one failure voids the figure
        throw err;
      }
      latencies[done++] = now() - t0;
    }
  }
  const start = now();
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  const elapsedMs = now() - start;
  return { done, elapsedMs, latencies: latencies.subarray(0, done), timedOut: done < count };
}

/** Times one async call. */
export async function timed(fn) {
  const t0 = now();
  const value = await fn();
  return { value, ms: now() - t0 };
}

export function percentile(sortedValues, p) {
  if (sortedValues.length === 0) return NaN;
  const idx = Math.min(sortedValues.length - 1, Math.ceil((p / 100) * sortedValues.length) - 1);
  return sortedValues[Math.max(0, idx)];
}

/** Rate and latency percentiles of a runConcurrent result. */
export function summarize({ done, elapsedMs, latencies, timedOut }) {
  const sorted = Float64Array.from(latencies).sort();
  return {
    count: done,
    seconds: elapsedMs / 1000,
    perSecond: done / (elapsedMs / 1000),
    p50ms: percentile(sorted, 50),
    p99ms: percentile(sorted, 99),
    timedOut,
  };
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

export const MiB = 1 << 20;
export const mibPerSec = (bytes, ms) => bytes / MiB / (ms / 1000);
