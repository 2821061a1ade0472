/**
 * The builds as the API serves them: a build is created from a request and a context tar (stored
 * in the blob store while it is hashed, never held in memory), queued in PostgreSQL for a worker,
 * followed through its event log, and cancelled by a flag its worker sees at its next heartbeat.
 *
 * A build is only accepted while a worker is alive to take it (one has been seen in the last
 * WORKER_ALIVE_MS): with `--build-workers 0` and no `cairn worker` running, or without runc, the
 * create is refused at once with the reason, instead of queueing forever.
 */
import { randomUUID } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Metadata } from '../metadata/stores/index.js';
import { isTerminal, type BuildRow, type EventRow } from '../metadata/stores/builds.js';
import type { AuditActor } from '../metadata/stores/audit.js';
import { digestFromHex, newHasher } from '../oci/digest.js';
import type { BlobStore } from '../storage/blob-store.js';
import { BuildError } from './errors.js';
import type { BuildRequest } from './job.js';
import { WORKER_ALIVE_MS } from './queue.js';

/** How often a follower looks for new events when nothing in this process told it. */
const FOLLOW_POLL_MS = 250;
const EVENT_PAGE = 500;

export interface BuildServiceOptions {
  readonly contextMaxBytes: number;
  /** Why builds are off in this server, when they are (no local worker and why); else undefined. */
  readonly disabledReason?: string;
}

export class BuildService {
  constructor(
    private readonly metadata: Metadata,
    private readonly storage: BlobStore,
    private readonly options: BuildServiceOptions,
  ) {}

  get contextMaxBytes(): number {
    return this.options.contextMaxBytes;
  }

  /** Refuses when no worker could take a build. */
  async requireWorkers(): Promise<void> {
    if ((await this.metadata.stores.builds.liveWorkers(WORKER_ALIVE_MS)) > 0) return;
    const reason = this.options.disabledReason ?? 'no build worker is running';
    throw new BuildError('builds_unavailable', `builds are off: ${reason}; start cairn serve with --build-workers 1 (the default), or run cairn worker`);
  }

  /**
   * Stores the context tar while hashing it; refuses it once it passes the size limit (the bytes
   * so far are discarded). Answers its digest and size.
   */
  async storeContext(body: Readable): Promise<{ digest: string; size: number }> {
    const id = randomUUID();
    const limit = new ContextLimit(this.options.contextMaxBytes);
    await this.storage.createUpload(id);
    try {
      const storing = this.storage.appendUpload(id, 0, limit);
      try {
        await Promise.all([pipeline(body, limit), storing]);
      } catch (error) {
        // Whichever side noticed first, too many bytes is the reason.
        if (limit.bytes > this.options.contextMaxBytes) throw new BuildError('build_context_too_large', `the build context is larger than ${this.options.contextMaxBytes} bytes (CAIRN_BUILD_CONTEXT_MAX_BYTES)`);
        throw error;
      }
      const digest = digestFromHex('sha256', limit.hash.digest('hex'));
      await this.storage.commitUpload(id, digest);
      return { digest: digest.value, size: limit.bytes };
    } finally {
      await this.storage.abortUpload(id).catch(() => undefined);
    }
  }

  async create(request: BuildRequest, context: { digest: string; size: number }, actor: AuditActor): Promise<BuildRow> {
    return this.metadata.stores.builds.create({ id: randomUUID(), request, contextDigest: context.digest, contextSize: context.size, actor });
  }

  async get(id: string): Promise<BuildRow> {
    const row = await this.metadata.stores.builds.get(id);
    if (!row) throw new BuildError('build_not_found', `no build ${id}`);
    return row;
  }

  list(options: { actor?: string; before?: number; limit: number }): Promise<BuildRow[]> {
    return this.metadata.stores.builds.list(options);
  }

  async cancel(id: string): Promise<BuildRow> {
    const before = await this.get(id);
    // A finished build stays as it finished: cancelling is asking, and answers the build as it stands.
    if (isTerminal(before.state)) return before;
    return (await this.metadata.stores.builds.cancel(id)) ?? before;
  }

  /**
   * The build's events after `after`, following it live until it has finished and every event is
   * out (or `signal` aborts: the client went away).
   */
  async *follow(id: string, after: number, signal: AbortSignal): AsyncGenerator<EventRow> {
    let last = after;
    while (!signal.aborted) {
      const page = await this.metadata.stores.builds.events(id, last, EVENT_PAGE);
      for (const row of page) {
        yield row;
        last = row.seq;
      }
      if (page.length === EVENT_PAGE) continue;
      const job = await this.metadata.stores.builds.get(id);
      if (!job) return;
      // Finished, and its last event (the result, appended in the same statement) is out.
      if (isTerminal(job.state) && last >= job.next_seq - 1) return;
      await sleep(FOLLOW_POLL_MS, signal);
    }
  }
}

class ContextLimit extends Transform {
  readonly hash = newHasher('sha256');
  bytes = 0;

  constructor(private readonly max: number) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.max) return callback(new BuildError('build_context_too_large', `the build context is larger than ${this.max} bytes (CAIRN_BUILD_CONTEXT_MAX_BYTES)`));
    this.hash.update(chunk);
    callback(null, chunk);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
