/**
 * Request bodies nobody read — the request was refused before its body mattered (401, 404, a
 * manifest over the size limit) — are read and discarded before the answer goes out. Answering
 * first would be faster, but when the answer ends the connection (the client asked for
 * `Connection: close`) Node closes it on the unread bytes, the kernel resets it, and a client
 * still writing its body never reads the answer. Past a bound of bytes or time the answer goes
 * out anyway, announcing `Connection: close`.
 */
import type { IncomingMessage } from 'node:http';
import { DISCARD_LIMIT_BYTES } from './raw-answer.js';

const DISCARD_LIMIT_MS = 10_000;

/** Resolves true once the whole body was read and dropped, false when it gave up (or the client left). */
export function discardUnreadBody(request: IncomingMessage): Promise<boolean> {
  if (request.complete) return Promise.resolve(true);
  if (request.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    let discarded = 0;
    const settle = (drained: boolean) => {
      clearTimeout(timer);
      request.off('data', onData).off('end', onEnd).off('close', onClose).off('error', onClose);
      if (!drained) request.pause();
      resolve(drained);
    };
    const onData = (chunk: Buffer) => {
      discarded += chunk.length;
      if (discarded > DISCARD_LIMIT_BYTES) settle(false);
    };
    const onEnd = () => settle(true);
    const onClose = () => settle(false);
    const timer = setTimeout(() => settle(false), DISCARD_LIMIT_MS);
    request.on('data', onData).once('end', onEnd).once('close', onClose).once('error', onClose);
    request.resume();
  });
}
