/**
 * Request bodies nobody read — the request was refused before its body mattered (401, 404, a
 * manifest over the size limit) — are read and discarded after the answer, so the connection
 * stays usable and a client that writes its whole body before reading still gets the answer
 * (closing on unread bytes makes the kernel reset the connection, answer included). Past a bound
 * the connection is cut instead of reading on for the client's sake.
 */
import type { IncomingMessage } from 'node:http';
import { DISCARD_LIMIT_BYTES } from './raw-answer.js';

export function discardUnreadBody(request: IncomingMessage): void {
  if (request.complete || request.destroyed) return;
  let discarded = 0;
  request.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_LIMIT_BYTES) request.socket.destroy();
  });
  request.resume();
}
