/**
 * The server side of the IPC channel: answers a forked worker's calls on the objects it is given
 * (any BuildHost, the direct queue, the blob links), in the server process. Only the methods in
 * IPC_METHODS are callable; anything else is answered as an error, never looked up.
 */
import type { ChildProcess } from 'node:child_process';
import { IPC_METHODS, isIpcCall, type IpcCall, type IpcFailure, type IpcReply, type IpcTarget } from './protocol.js';

export type IpcTargets = { readonly [T in IpcTarget]: object };

export function serveIpc(child: ChildProcess, targets: IpcTargets, onError: (error: unknown, call: IpcCall) => void): void {
  child.on('message', (message) => {
    if (!isIpcCall(message)) return;
    void answer(targets, message).then(
      (reply) => {
        if (child.connected) child.send(reply, (err) => err && onError(err, message));
      },
      (error: unknown) => onError(error, message),
    );
  });
}

async function answer(targets: IpcTargets, call: IpcCall): Promise<IpcReply> {
  const allowed = (IPC_METHODS[call.target] as readonly string[] | undefined)?.includes(call.method);
  if (!allowed) return { cairn: 'reply', id: call.id, error: { name: 'IpcError', message: `no such call: ${call.target}.${call.method}` } };
  try {
    const target = targets[call.target] as Record<string, (...args: unknown[]) => Promise<unknown>>;
    const value = await target[call.method]!.apply(target, [...call.args]);
    return { cairn: 'reply', id: call.id, value };
  } catch (error) {
    return { cairn: 'reply', id: call.id, error: failureOf(error) };
  }
}

function failureOf(error: unknown): IpcFailure {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const { kind, detail } = error as Error & { kind?: unknown; detail?: unknown };
  return { name: error.name, message: error.message, ...(kind !== undefined ? { kind } : {}), ...(detail !== undefined ? { detail: cloneable(detail) } : {}) };
}

/** The detail as it can cross the channel (V8 serialisation refuses functions and the like). */
function cloneable(detail: unknown): unknown {
  try {
    return structuredClone(detail);
  } catch {
    return String(detail);
  }
}
