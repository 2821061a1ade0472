/**
 * A fault-injecting HTTP proxy in front of the test S3 server, on loopback (ports 9120-9199, the
 * range the project's S3 test infrastructure may use). Requests pass through unchanged — the Host
 * header too, so SigV4 signatures made for the proxy's address still verify — unless a fault is
 * set:
 *   - `failNext(n)`: the next n requests get 503 SlowDown, as S3 answers when throttling;
 *   - `down()`: every connection is reset at once, as if S3 were unreachable; `up()` ends it.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface FaultProxy {
  readonly endpoint: string;
  /** Requests seen (including failed ones), e.g. to prove that retries happened. */
  readonly seen: Array<{ method: string; path: string; status: number }>;
  failNext(count: number, filter?: (method: string, path: string) => boolean): void;
  down(): void;
  up(): void;
  close(): Promise<void>;
}

const SLOW_DOWN =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>';

export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const target = new URL(upstream);
  const seen: FaultProxy['seen'] = [];
  const sockets = new Set<Socket>();
  let failures = 0;
  let failFilter: ((method: string, path: string) => boolean) | undefined;
  let isDown = false;

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    if (failures > 0 && (!failFilter || failFilter(method, path))) {
      failures--;
      seen.push({ method, path, status: 503 });
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(SLOW_DOWN) }).end(SLOW_DOWN);
      return;
    }
    const forward = request(
      { host: target.hostname, port: target.port, method, path, headers: req.headers },
      (upstreamRes) => {
        seen.push({ method, path, status: upstreamRes.statusCode ?? 0 });
        res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
        upstreamRes.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  server.on('connection', (socket: Socket) => {
    if (isDown) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  const port = await listenInRange(server, 9120, 9199);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    seen,
    failNext(count, filter) {
      failures = count;
      failFilter = filter;
    },
    down() {
      isDown = true;
      for (const socket of sockets) socket.destroy();
    },
    up() {
      isDown = false;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function listenInRange(server: Server, low: number, high: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    const ok = await new Promise<boolean>((resolve) => {
      const onError = () => resolve(false);
      server.once('error', onError);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', onError);
        resolve(true);
      });
    });
    if (ok) return port;
  }
  throw new Error(`no free port in ${low}-${high}`);
}
