/**
 * Ends a running step when it must end: its time is up, the build is cancelled, or it is past a
 * limit the kernel does not enforce by killing (the disk budget, measured by walking the upper
 * directory; a fork bomb that keeps hitting the pids limit; an OOM kill on cgroup v1, which has
 * no memory.oom.group to take the whole step down). Killing the container's first process with
 * SIGKILL ends everything in its PID namespace at once, fork bombs included.
 *
 * Polling starts quickly and slows down in proportion to what a walk of the upper directory costs,
 * so a step that writes many files spends at most a few percent of a core on being measured.
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StepCgroup } from './cgroups.js';
import { layerBytes } from './disk-usage.js';
import type { ExecResult, ExecSpec } from './executor.js';

type KilledBy = NonNullable<ExecResult['killedBy']>;

const FIRST_POLL_MS = 50;
const MAX_POLL_MS = 2_000;
/** Poll period as a multiple of the last poll's cost. */
const POLL_COST_FACTOR = 20;
/** A step still hitting its pids limit after this long is a fork bomb, not a busy `make -j`. */
const PIDS_GRACE_MS = 1_000;

export interface WatchdogOptions {
  readonly spec: Pick<ExecSpec, 'limits' | 'signal' | 'upperDir'>;
  readonly cgroup: StepCgroup;
  readonly pidFile: string;
  readonly runcExited: () => boolean;
}

export class Watchdog {
  killedBy: KilledBy | undefined;
  private timer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private killing: Promise<void> | undefined;
  private pidsHitSince: number | undefined;
  private lastPidsHits = 0;

  constructor(private readonly options: WatchdogOptions) {}

  start(): void {
    const { limits, signal } = this.options.spec;
    this.timer = setTimeout(() => this.end('timeout'), limits.timeoutMs);
    signal.addEventListener('abort', this.onAbort, { once: true });
    if (signal.aborted) this.end('cancel');
    this.schedulePoll(FIRST_POLL_MS);
  }

  /** Stops watching; waits for a kill in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.pollTimer);
    this.options.spec.signal.removeEventListener('abort', this.onAbort);
    await this.killing;
  }

  /** After the step ended by itself with a failure: was a limit the cause? */
  async limitHitAtExit(): Promise<KilledBy | undefined> {
    const counters = await this.options.cgroup.counters();
    if (counters.oomKills > 0) return 'memory';
    const { upperDir, limits } = this.options.spec;
    // RLIMIT_FSIZE stops a single-file filler at the limit (SIGXFSZ), before any poll sees it.
    if ((await layerBytes(upperDir, limits.diskBytes)) > limits.diskBytes) return 'disk';
    if (counters.pidsLimitHits > 0) return 'pids';
    return undefined;
  }

  /** Kills the container (every process in its PID namespace). */
  kill(): Promise<void> {
    this.killing ??= this.killContainer();
    return this.killing;
  }

  private readonly onAbort = (): void => this.end('cancel');

  private end(reason: KilledBy): void {
    if (this.stopped || this.killedBy) return;
    this.killedBy = reason;
    void this.kill();
  }

  private async killContainer(): Promise<void> {
    // The pid file appears once runc has created the container; until then there is nothing to kill.
    while (!this.options.runcExited()) {
      const pid = Number(await readFile(this.options.pidFile, 'utf8').catch(() => ''));
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
        return;
      }
      await sleep(5);
    }
  }

  private schedulePoll(ms: number): void {
    if (this.stopped || this.killedBy) return;
    this.pollTimer = setTimeout(() => void this.poll(), ms);
    this.pollTimer.unref();
  }

  private async poll(): Promise<void> {
    const began = performance.now();
    const { upperDir, limits } = this.options.spec;
    try {
      const counters = await this.options.cgroup.counters();
      if (counters.oomKills > 0) return this.end('memory');
      if (this.fillsPidsLimit(counters.pidsLimitHits)) return this.end('pids');
      if ((await layerBytes(upperDir, limits.diskBytes)) > limits.diskBytes) return this.end('disk');
    } catch {
      // The step may be ending under us (its cgroup going away): the next poll or the exit tells.
    }
    const cost = performance.now() - began;
    this.schedulePoll(Math.min(MAX_POLL_MS, Math.max(FIRST_POLL_MS * 2, cost * POLL_COST_FACTOR)));
  }

  private fillsPidsLimit(hits: number): boolean {
    const rising = hits > this.lastPidsHits;
    this.lastPidsHits = hits;
    if (!rising) {
      this.pidsHitSince = undefined;
      return false;
    }
    this.pidsHitSince ??= Date.now();
    return Date.now() - this.pidsHitSince >= PIDS_GRACE_MS;
  }
}
