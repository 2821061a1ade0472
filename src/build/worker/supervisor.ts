/**
 * The build worker processes of `cairn serve`: forked at start (`--build-workers N`), each
 * answered over IPC by the server's BuildHost, queue and blob links, restarted when one crashes
 * (with a growing delay, reset once one has run a minute), and drained on close. A crashed
 * worker's running build is failed at once (no wait for its lease to expire).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { CairnConfig } from '../../config/config.js';
import type { Metadata } from '../../metadata/stores/index.js';
import type { BuildHost } from '../host.js';
import { serveIpc } from '../ipc/server.js';
import { DirectBuildQueue } from '../queue.js';
import type { WorkerInit } from './process.js';

const ENTRY = fileURLToPath(new URL('./process.js', import.meta.url));
const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;
const STABLE_MS = 60_000;
/** How long a draining worker's build may run on before it is given back to the queue. */
export const DRAIN_MS = 5_000;

export interface SupervisorDeps {
  readonly config: Pick<CairnConfig, 'storage' | 'dataDir' | 'logLevel' | 'buildWorkers'>;
  readonly metadata: Metadata;
  readonly host: BuildHost;
  /** Blob links (the registry's BlobService): `stat` answers whether a blob is in a repository. */
  readonly blobs: object;
  readonly logger: Logger;
}

interface Slot {
  /** Its index: the worker forked into it keeps DATA_DIR/worker/<index>/snapshots across restarts. */
  readonly index: number;
  child?: ChildProcess;
  id?: string;
  delay: number;
  timer?: NodeJS.Timeout;
}

export class WorkerSupervisor {
  private readonly slots: Slot[] = [];
  private closing = false;
  private readonly queue: DirectBuildQueue;

  constructor(private readonly deps: SupervisorDeps) {
    this.queue = new DirectBuildQueue(deps.metadata);
  }

  start(): void {
    for (let i = 0; i < this.deps.config.buildWorkers; i++) {
      const slot: Slot = { index: i, delay: RESTART_MIN_MS };
      this.slots.push(slot);
      this.spawn(slot);
    }
  }

  /** The pids of the running worker processes (tests, logs). */
  pids(): number[] {
    return this.slots.flatMap((s) => (s.child?.pid ? [s.child.pid] : []));
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      this.slots.map(async (slot) => {
        clearTimeout(slot.timer);
        const child = slot.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const kill = setTimeout(() => child.kill('SIGKILL'), DRAIN_MS + 5_000);
        await exited;
        clearTimeout(kill);
      }),
    );
  }

  private spawn(slot: Slot): void {
    const { config, logger } = this.deps;
    const id = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
    const child = fork(ENTRY, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const started = Date.now();
    slot.child = child;
    slot.id = id;
    serveIpc(child, { host: this.deps.host, queue: this.queue, blobs: this.deps.blobs }, (err, call) =>
      logger.warn({ err, call: `${call.target}.${call.method}` }, 'build worker call failed'),
    );
    const init: WorkerInit = { cairn: 'init', id, slot: slot.index, config: { storage: config.storage, dataDir: config.dataDir, logLevel: config.logLevel }, drainMs: DRAIN_MS };
    child.send(init);
    child.once('exit', (code, signal) => {
      slot.child = undefined;
      this.queue.leave(id).catch(() => undefined);
      if (this.closing) return;
      const why = `the build worker process exited (${signal ?? `code ${code}`})`;
      this.deps.metadata.stores.builds.failWorker(id, why).then(
        (failed) => failed.length > 0 && logger.warn({ builds: failed }, 'builds failed: their worker process exited'),
        (err: unknown) => logger.warn({ err }, 'failing the builds of an exited worker failed'),
      );
      slot.delay = Date.now() - started > STABLE_MS ? RESTART_MIN_MS : Math.min(slot.delay * 2, RESTART_MAX_MS);
      logger.error({ code, signal, restartInMs: slot.delay }, 'build worker exited; restarting it');
      slot.timer = setTimeout(() => this.spawn(slot), slot.delay);
    });
    logger.info({ workerPid: child.pid, worker: id }, 'build worker started');
  }
}
