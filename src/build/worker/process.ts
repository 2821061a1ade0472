/**
 * Entry point of a build worker process forked by `cairn serve` (supervisor.ts). It opens the
 * registry's blob store itself (for bytes) and reaches everything else — the queue, manifests,
 * blob links, cache lookups — through the server over IPC: on the embedded default only the
 * server process may open the database. Builds run here, so the registry's event loop never waits
 * on one. SIGTERM drains: the running build may finish, or is given back to the queue.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import type { CairnConfig } from '../../config/config.js';
import { createStorage } from '../../storage/open.js';
import { IpcBuildHost, IpcBuildQueue, IpcChannel } from '../ipc/client.js';
import { loadEngine } from './run-job.js';
import { BuildWorker } from './worker.js';

/** What the server tells its worker first. */
export interface WorkerInit {
  readonly cairn: 'init';
  readonly id: string;
  /** The worker's slot (0 … --build-workers − 1): its snapshot directory, kept across restarts. */
  readonly slot: number;
  readonly config: Pick<CairnConfig, 'storage' | 'dataDir' | 'logLevel'>;
  readonly drainMs: number;
}

function isInit(message: unknown): message is WorkerInit {
  return typeof message === 'object' && message !== null && (message as WorkerInit).cairn === 'init';
}

async function main(init: WorkerInit): Promise<void> {
  const logger = pino({ level: init.config.logLevel, base: { pid: process.pid, worker: init.id } });
  const channel = new IpcChannel(process);
  const store = await createStorage(init.config, logger);
  const workDir = join(init.config.dataDir, 'worker');
  // Cache mounts and build scratch are shared under workDir; snapshots are this slot's alone.
  const snapshotDir = join(workDir, String(init.slot), 'snapshots');
  await mkdir(snapshotDir, { recursive: true });
  const worker = new BuildWorker(
    { id: init.id, host: (await import('node:os')).hostname(), pid: process.pid },
    new IpcBuildQueue(channel),
    await loadEngine(),
    { host: new IpcBuildHost(channel, store), store, workDir, snapshotDir },
    logger,
  );
  let draining = false;
  const drain = () => {
    if (draining) return;
    draining = true;
    // Bounded: whatever the drain waits on, the process is gone shortly after the drain time.
    setTimeout(() => process.exit(1), init.drainMs + 5_000).unref();
    void worker.drain(init.drainMs).finally(async () => {
      await store.close?.();
      process.exit(0);
    });
  };
  process.on('SIGTERM', drain);
  process.on('SIGINT', () => undefined); // the server decides: a terminal's ^C reaches the whole group
  process.on('disconnect', drain); // the server is gone
  worker.start();
  logger.info({ workDir, snapshotDir }, 'build worker ready');
}

// A server killed before it sent the init message: nothing to drain, nothing to wait for.
const orphaned = () => process.exit(0);
process.once('disconnect', orphaned);
process.once('message', (message) => {
  if (!isInit(message)) return;
  process.off('disconnect', orphaned);
  main(message).catch((err: unknown) => {
    process.stderr.write(`cairn worker: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
});
