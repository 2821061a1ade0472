/**
 * The local channel between `cairn serve` and the build worker processes it forks: Node's IPC
 * channel (a socketpair, no TCP) with V8 serialisation (`serialization: 'advanced'`), so Maps and
 * Buffers cross as they are. Request/response by id; a failure travels as its name, message and
 * domain `kind`/`detail`, and is raised again on the worker's side with the same name and kind.
 *
 * What crosses: the BuildHost's metadata calls, the queue's, and `blobs.stat` (is this blob
 * linked in that repository, and its size). Never blob bytes: the worker opens the same blob
 * store itself (src/build/ipc/client.ts).
 */

/** The objects the server exposes, and the methods of each a worker may call. */
export const IPC_METHODS = {
  host: ['manifest', 'manifestAs', 'linkBlob', 'putManifest', 'lookupCache', 'cacheTags', 'saveSteps', 'latestSteps'],
  queue: ['heartbeat', 'take', 'renew', 'append', 'finish', 'release', 'leave'],
  blobs: ['stat'],
} as const;

export type IpcTarget = keyof typeof IPC_METHODS;

export interface IpcCall {
  readonly cairn: 'call';
  readonly id: number;
  readonly target: IpcTarget;
  readonly method: string;
  readonly args: readonly unknown[];
}

export interface IpcFailure {
  readonly name: string;
  readonly message: string;
  readonly kind?: unknown;
  readonly detail?: unknown;
}

export type IpcReply =
  | { readonly cairn: 'reply'; readonly id: number; readonly value: unknown }
  | { readonly cairn: 'reply'; readonly id: number; readonly error: IpcFailure };

export function isIpcCall(message: unknown): message is IpcCall {
  return typeof message === 'object' && message !== null && (message as IpcCall).cairn === 'call';
}

export function isIpcReply(message: unknown): message is IpcReply {
  return typeof message === 'object' && message !== null && (message as IpcReply).cairn === 'reply';
}

/** A failure raised in the server process, raised again in the worker with its name and kind. */
export class RemoteError extends Error {
  readonly kind?: unknown;
  readonly detail?: unknown;

  constructor(failure: IpcFailure) {
    super(failure.message);
    this.name = failure.name;
    if (failure.kind !== undefined) this.kind = failure.kind;
    if (failure.detail !== undefined) this.detail = failure.detail;
  }
}
