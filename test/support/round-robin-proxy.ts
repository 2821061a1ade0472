/**
 * A load balancer for tests: HTTP on loopback, each request to the next live backend in turn —
 * per request, not per connection, so the PATCHes of one upload land on different replicas, as
 * behind any balancer that does not pin uploads. A backend that refuses a connection is taken out
 * (as a balancer's passive health check would) and that request answered 502, which clients see
 * as a failed request to retry; the request is not replayed, since its body may be half-sent.
 */
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Routed {
  readonly method: string;
  readonly path: string;
  readonly backend: number;
}

export interface RoundRobinProxy {
  readonly url: string;
  readonly hostPort: string;
  /** Every request forwarded, in order, with the backend it went to. */
  readonly routed: readonly Routed[];
  /** Takes a backend out of the rotation (it was killed). */
  remove(backend: number): void;
  close(): Promise<void>;
}

export async function startRoundRobinProxy(backends: readonly string[], port = 0): Promise<RoundRobinProxy> {
  const live = backends.map(() => true);
  const routed: Routed[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let next = 0;
  const pick = (): number | undefined => {
    for (let i = 0; i < backends.length; i++) {
      const candidate = (next + i) % backends.length;
      if (live[candidate]) {
        next = candidate + 1;
        return candidate;
      }
    }
    return undefined;
  };

  const server: Server = createServer((req, res) => {
    const backend = pick();
    if (backend === undefined) {
      res.writeHead(503).end();
      return;
    }
    routed.push({ method: req.method ?? '', path: req.url ?? '', backend });
    const target = new URL(req.url ?? '/', backends[backend]);
    const upstream = httpRequest(target, { method: req.method, headers: req.headers, agent }, (answer: IncomingMessage) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') live[backend] = false;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json', connection: 'close' }).end('{"errors":[{"code":"UNAVAILABLE","message":"replica down"}]}');
      else res.destroy();
    });
    req.pipe(upstream);
    req.on('error', () => upstream.destroy());
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}`,
    hostPort: `127.0.0.1:${bound}`,
    routed,
    remove(backend) {
      live[backend] = false;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
