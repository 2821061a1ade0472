/**
 * Answers written straight to a socket, for requests Node refused before any request object
 * existed, followed by a gentle close.
 *
 * Why gently: closing a socket while the peer's bytes sit unread makes the kernel send a reset,
 * and a client still writing its body (a refused 8 MiB upload) then loses the answer it has not
 * read yet. So the write side is closed first (FIN after the answer) and incoming bytes are read
 * and discarded — up to a bound, for a short while — before the socket is destroyed.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** Bytes read and thrown away after an answer before the connection is cut. */
export const DISCARD_LIMIT_BYTES = 64 * 1024 * 1024;
/** How long a peer may take to finish sending after its answer. */
const LINGER_MS = 5_000;

export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** An answer to HEAD: the headers only. */
  readonly head?: boolean;
}

/** Writes one complete HTTP/1.1 response announcing `Connection: close`, then closes gently. */
export function answerAndClose(socket: Duplex, response: RawResponse): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const body = Buffer.from(response.body, 'utf8');
  const headers = {
    ...response.headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(body.length),
    connection: 'close',
  };
  const head = [`HTTP/1.1 ${response.status} ${STATUS_CODES[response.status] ?? 'Error'}`]
    .concat(Object.entries(headers).map(([name, value]) => `${name}: ${value}`))
    .join('\r\n');
  socket.end(Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), response.head ? Buffer.alloc(0) : body]));
  discardThenDestroy(socket);
}

/** Reads and drops what the peer still sends, until it closes, the bound, or the timeout. */
export function discardThenDestroy(socket: Duplex): void {
  let discarded = 0;
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_LIMIT_BYTES) socket.destroy();
  });
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.destroy());
  socket.resume();
}
