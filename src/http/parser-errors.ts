/**
 * Requests Node's HTTP server refuses before Fastify sees them — broken framing, a body longer
 * or shorter than its Content-Length, oversized headers, bytes outside URL syntax, methods it
 * cannot parse, CONNECT, unknown `Expect`ations — answered in the error form of the API they
 * were addressed to, as one well-formed HTTP response, never a bare reset.
 *
 * Node reports these as `clientError` on the socket. The socket may be mid-exchange:
 * - the request being served is complete and the bad bytes follow it (a body longer than its
 *   Content-Length, or pipelining): its answer goes first, then ours;
 * - the bad bytes are inside the body being read (broken chunked framing, the client half-closed
 *   before its Content-Length was reached): ours is that request's answer, unless its handler
 *   already started one;
 * - no request yet: the bad bytes are the request line or headers.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { errorBodyFor, type ErrorAnswer } from './error-shapes.js';
import { HttpError } from './oci/errors.js';
import { invalidTarget, routeFailure, unknownMethod } from './oci/unrouted.js';
import { routeOfTarget, type MethodPolicy } from './oci/path.js';
import { answerAndClose, discardThenDestroy } from './raw-answer.js';

/** What Node attaches to a parser error (llhttp's code and reason, the bytes it choked on). */
interface ParserError extends Error {
  code?: string;
  reason?: string;
  rawPacket?: unknown;
}

interface Exchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
}

const BODY_FRAMING = new Set([
  'HPE_INVALID_CONTENT_LENGTH',
  'HPE_UNEXPECTED_CONTENT_LENGTH',
  'HPE_INVALID_CHUNK_SIZE',
  'HPE_INVALID_TRANSFER_ENCODING',
  'HPE_INVALID_EOF_STATE',
]);

/** Installs the handlers on `server`; returns the `clientError` listener for Fastify's option. */
export function parserErrorHandling(log: () => FastifyBaseLogger, policy: MethodPolicy) {
  const exchanges = new WeakMap<Duplex, Exchange>();
  const answered = new WeakSet<Duplex>();

  function onClientError(error: ParserError, socket: Socket): void {
    // Node reports every later chunk of a broken stream again; one answer per connection.
    if (answered.has(socket)) return;
    answered.add(socket);
    if (error.code === 'ECONNRESET' || socket.destroyed) return; // nobody left to answer
    log().info({ code: error.code, reason: error.reason }, 'malformed request refused');
    const current = exchanges.get(socket);
    if (!current) return answerAndClose(socket, responseFor(error, requestLine(error.rawPacket), policy));
    const { req, res } = current;
    if (!req.complete) {
      // The body being read is what broke: ours is its answer (its handler fails when the
      // socket closes), unless the handler has already answered.
      if (!res.headersSent) return answerAndClose(socket, responseFor(error, { method: req.method, target: originalUrl(req) }, policy));
      return afterAnswer(res, () => discardThenDestroy(socket));
    }
    // The broken bytes follow a complete request: its answer goes first. Later on a connection
    // the bytes Node hands over may start anywhere in the stream: they are not read for a
    // request line.
    afterAnswer(res, () => answerAndClose(socket, responseFor(error, {}, policy)));
  }

  return {
    onClientError,
    install(server: Server): void {
      server.on('request', (req: IncomingMessage, res: ServerResponse) => exchanges.set(req.socket, { req, res }));
      // Without a listener Node drops CONNECT requests without a word.
      server.on('connect', (req: IncomingMessage, socket: Duplex) => {
        answered.add(socket);
        answerAndClose(socket, toResponse(req.url, routeFailure(routeOfTarget(req.url ?? ''), 'CONNECT', policy)));
      });
      // Without a listener Node answers 417 with an empty body.
      server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
        const refusal = new HttpError(417, 'UNSUPPORTED', `unsupported expectation "${String(req.headers.expect).slice(0, 60)}"; only 100-continue is`);
        const response = toResponse(req.url, refusal);
        const headers = { ...response.headers, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(response.body) };
        res.writeHead(response.status, headers).end(response.body);
      });
    },
  };
}

/** The target as the client sent it (src/http/server.ts rewrites some for Fastify's router). */
function originalUrl(req: IncomingMessage): string | undefined {
  return (req as IncomingMessage & { originalUrl?: string }).originalUrl ?? req.url;
}

function afterAnswer(res: ServerResponse, then: () => void): void {
  if (res.writableFinished) then();
  else res.once('finish', then);
}

/** What the request line of the refused bytes says: they are a connection's first bytes. */
function requestLine(packet: unknown): { method?: string; target?: string } {
  if (!Buffer.isBuffer(packet)) return {};
  const end = packet.indexOf('\r\n');
  const [method, target] = packet.subarray(0, end === -1 ? Math.min(packet.length, 8192) : end).toString('latin1').split(' ');
  return { method, target };
}

function responseFor(error: ParserError, request: { method?: string; target?: string }, policy: MethodPolicy) {
  return { ...toResponse(request.target, refusalFor(error, request, policy)), head: request.method === 'HEAD' };
}

function refusalFor(error: ParserError, { method, target }: { method?: string; target?: string }, policy: MethodPolicy): HttpError {
  const reason = error.reason ?? error.message;
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new HttpError(431, 'SIZE_INVALID', 'request headers are larger than the 16 KiB the registry accepts');
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new HttpError(413, 'SIZE_INVALID', 'chunk extensions are too large');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new HttpError(408, 'UNSUPPORTED', 'the request did not arrive in time');
    case 'HPE_INVALID_METHOD':
      return method && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(method) ? unknownMethod(method, target, policy) : new HttpError(400, 'UNSUPPORTED', 'malformed request line');
    case 'HPE_INVALID_URL':
      return invalidTarget(target);
    default:
      if (BODY_FRAMING.has(error.code ?? '')) return new HttpError(400, 'SIZE_INVALID', `the request body does not match its framing: ${reason}`);
      return new HttpError(400, 'UNSUPPORTED', `malformed HTTP request: ${reason}`);
  }
}

function toResponse(target: string | undefined, refusal: HttpError) {
  const answer: ErrorAnswer = { status: refusal.status, code: refusal.code, message: refusal.message, headers: refusal.headers };
  return {
    status: answer.status,
    headers: { 'docker-distribution-api-version': 'registry/2.0', ...answer.headers },
    body: errorBodyFor(target, answer),
  };
}
