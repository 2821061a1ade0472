/**
 * The worker side of the IPC channel (a process forked by `cairn serve`): a BuildHost and a
 * BuildQueue whose calls go to the server process. Blob bytes are read from the worker's own
 * BlobStore, after the server has confirmed the blob is linked in the repository (the same check
 * a pull makes), so the channel carries only metadata.
 */
import type { Readable } from 'node:stream';
import type { BuildHost, CacheRecordHit, StepInputsRecord, StoredManifest } from '../host.js';
import type { BuildActor, BuildEvent, BuildJob, BuildResult } from '../job.js';
import type { BuildQueue, LeaseState, WorkerIdentity } from '../queue.js';
import type { BlobStore } from '../../storage/blob-store.js';
import { parseDigest } from '../../oci/digest.js';
import { isIpcReply, RemoteError, type IpcCall, type IpcTarget } from './protocol.js';

/** The process's IPC channel, as `process` offers it in a forked child. */
export interface IpcEndpoint {
  send?(message: unknown, callback?: (error: Error | null) => void): boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
}

/** The server end of the channel is gone (killed or exited): no call can be answered any more. */
export class ServerGoneError extends Error {
  constructor() {
    super('the server process is gone (IPC channel closed)');
  }
}

export class IpcChannel {
  private next = 1;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  private gone = false;

  constructor(private readonly endpoint: IpcEndpoint) {
    // A server killed mid-call never answers: settle what waits, so a draining worker can exit.
    endpoint.on('disconnect', () => {
      this.gone = true;
      for (const waiting of this.pending.values()) waiting.reject(new ServerGoneError());
      this.pending.clear();
    });
    endpoint.on('message', (message) => {
      if (!isIpcReply(message)) return;
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id);
      if ('error' in message) waiting.reject(new RemoteError(message.error));
      else waiting.resolve(message.value);
    });
  }

  call<T>(target: IpcTarget, method: string, ...args: unknown[]): Promise<T> {
    if (!this.endpoint.send) return Promise.reject(new Error('no IPC channel: this process was not started by cairn serve'));
    if (this.gone) return Promise.reject(new ServerGoneError());
    const id = this.next++;
    const call: IpcCall = { cairn: 'call', id, target, method, args };
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.endpoint.send!(call, (error) => {
        if (!error) return;
        this.pending.delete(id);
        reject(error);
      });
    });
  }
}

export class IpcBuildHost implements BuildHost {
  constructor(
    private readonly channel: IpcChannel,
    private readonly store: BlobStore,
  ) {}

  async manifest(repository: string, reference: string): Promise<{ digest: string; mediaType: string; payload: Buffer } | undefined> {
    const found = await this.channel.call<{ digest: string; mediaType: string; payload: Uint8Array } | undefined>('host', 'manifest', repository, reference);
    // V8 serialisation delivers a Buffer as a plain Uint8Array.
    return found && { ...found, payload: Buffer.from(found.payload.buffer, found.payload.byteOffset, found.payload.byteLength) };
  }

  async manifestAs(actor: BuildActor, repository: string, reference: string): Promise<StoredManifest | undefined | 'denied'> {
    const found = await this.channel.call<{ digest: string; mediaType: string; payload: Uint8Array } | undefined | 'denied'>('host', 'manifestAs', actor, repository, reference);
    if (found === undefined || found === 'denied') return found;
    return { ...found, payload: Buffer.from(found.payload.buffer, found.payload.byteOffset, found.payload.byteLength) };
  }

  async openBlob(repository: string, digest: string): Promise<Readable> {
    await this.channel.call('blobs', 'stat', repository, digest);
    const parsed = parseDigest(digest);
    if (!parsed.ok) throw new Error(parsed.message);
    return this.store.read(parsed.digest);
  }

  linkBlob(repository: string, digest: string, size: number): Promise<void> {
    return this.channel.call('host', 'linkBlob', repository, digest, size);
  }

  putManifest(repository: string, reference: string, mediaType: string, payload: Buffer): Promise<{ digest: string }> {
    return this.channel.call('host', 'putManifest', repository, reference, mediaType, payload);
  }

  lookupCache(repository: string, tags: readonly string[], keys: readonly string[]): Promise<Map<string, CacheRecordHit>> {
    return this.channel.call('host', 'lookupCache', repository, tags, keys);
  }

  cacheTags(repository: string, branch: string | undefined): Promise<string[]> {
    return this.channel.call('host', 'cacheTags', repository, branch);
  }

  saveSteps(repository: string, steps: readonly StepInputsRecord[]): Promise<void> {
    return this.channel.call('host', 'saveSteps', repository, steps);
  }

  latestSteps(repository: string, positions: readonly string[]): Promise<StepInputsRecord[]> {
    return this.channel.call('host', 'latestSteps', repository, positions);
  }
}

export class IpcBuildQueue implements BuildQueue {
  constructor(private readonly channel: IpcChannel) {}

  heartbeat(worker: WorkerIdentity): Promise<void> {
    return this.channel.call('queue', 'heartbeat', worker);
  }
  take(workerId: string): Promise<BuildJob | undefined> {
    return this.channel.call('queue', 'take', workerId);
  }
  renew(jobId: string, workerId: string): Promise<LeaseState> {
    return this.channel.call('queue', 'renew', jobId, workerId);
  }
  append(jobId: string, workerId: string, events: readonly BuildEvent[]): Promise<boolean> {
    return this.channel.call('queue', 'append', jobId, workerId, events);
  }
  finish(jobId: string, workerId: string, result: BuildResult): Promise<boolean> {
    return this.channel.call('queue', 'finish', jobId, workerId, result);
  }
  release(jobId: string, workerId: string): Promise<void> {
    return this.channel.call('queue', 'release', jobId, workerId);
  }
  leave(workerId: string): Promise<void> {
    return this.channel.call('queue', 'leave', workerId);
  }
}
