/**
 * Runs scheduled policies when they are due. Every replica ticks; the policy lease (a one-row
 * claim, see RetentionStore.claim) makes exactly one of them run a given policy at a time.
 */
import type { Logger } from 'pino';
import { SYSTEM } from '../metadata/stores/audit.js';
import type { Metadata } from '../metadata/stores/index.js';
import { RunInProgressError } from './errors.js';
import type { RetentionService } from './service.js';

export class RetentionScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly metadata: Metadata,
    private readonly service: RetentionService,
    private readonly logger: Logger,
  ) {}

  start(tickMs: number): void {
    this.timer = setInterval(() => {
      // One tick at a time: a long run delays the next tick instead of overlapping it.
      this.running ??= this.tick().finally(() => (this.running = undefined));
    }, tickMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  async tick(): Promise<void> {
    try {
      for (const name of await this.metadata.stores.retention.duePolicies()) {
        // run() claims the policy; when another replica got it first, nothing happens here.
        await this.service.run(name, 'schedule', SYSTEM).catch((err: unknown) => {
          if (!(err instanceof RunInProgressError)) throw err;
        });
      }
    } catch (err) {
      this.logger.warn({ err }, 'scheduled retention failed');
    }
  }
}
