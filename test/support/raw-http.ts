/**
 * HTTP/1.1 over a bare TCP socket, for requests no well-behaved client would send: a body longer
 * or shorter than its Content-Length, broken chunked framing, bytes outside URL syntax, unknown
 * methods. Writes exactly the given bytes, then reads and parses every response until the server
 * closes the connection (or the wanted number of answers arrived).
 */
import { connect } from 'node:net';

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  json<T = any>(): T;
}

export interface RawExchange {
  readonly responses: RawResponse[];
  /** A socket error seen while writing or reading (EPIPE, ECONNRESET), if any. */
  readonly error?: string;
  /** Bytes received that did not parse as responses. */
  readonly leftover: Buffer;
}

export interface RawOptions {
  /** Shut down the write side after the request (the server sees end of input). */
  halfClose?: boolean;
  /** Responses to requests with these indexes (in order) carry no body (HEAD). */
  bodyless?: ReadonlySet<number>;
  /** Stop reading once this many responses arrived; default: read until the server closes. */
  responses?: number;
  timeoutMs?: number;
}

export function rawRequest(base: string, bytes: Buffer | string | ReadonlyArray<Buffer | string>, options: RawOptions = {}): Promise<RawExchange> {
  const { hostname, port } = new URL(base);
  const parts = (Array.isArray(bytes) ? bytes : [bytes]) as Array<Buffer | string>;
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    const received: Buffer[] = [];
    let error: string | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const { responses, leftover } = parseResponses(Buffer.concat(received), options.bodyless ?? new Set());
      resolve({ responses, leftover, ...(error ? { error } : {}) });
    };
    const timer = setTimeout(finish, options.timeoutMs ?? 15_000);
    socket.on('data', (chunk: Buffer) => {
      received.push(chunk);
      if (options.responses !== undefined && parseResponses(Buffer.concat(received), options.bodyless ?? new Set()).responses.length >= options.responses) finish();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      error ??= err.code ?? err.message;
    });
    socket.on('close', finish);
    socket.on('connect', () => {
      for (const part of parts) socket.write(part);
      if (options.halfClose) socket.end();
    });
  });
}

/** Parses consecutive HTTP/1.1 responses (Content-Length, chunked, or to the end of input). */
export function parseResponses(data: Buffer, bodyless: ReadonlySet<number>): { responses: RawResponse[]; leftover: Buffer } {
  const responses: RawResponse[] = [];
  let offset = 0;
  for (;;) {
    const headEnd = data.indexOf('\r\n\r\n', offset);
    if (headEnd === -1) break;
    const lines = data.subarray(offset, headEnd).toString('latin1').split('\r\n');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? NaN);
    if (Number.isNaN(status)) break;
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    let cursor = headEnd + 4;
    let body: Buffer;
    if (status < 200) {
      offset = cursor;
      continue;
    }
    if (bodyless.has(responses.length) || status === 204 || status === 304) {
      body = Buffer.alloc(0);
    } else if (headers['transfer-encoding']?.toLowerCase() === 'chunked') {
      const chunks: Buffer[] = [];
      for (;;) {
        const lineEnd = data.indexOf('\r\n', cursor);
        if (lineEnd === -1) return { responses, leftover: data.subarray(offset) };
        const size = parseInt(data.subarray(cursor, lineEnd).toString('latin1'), 16);
        if (Number.isNaN(size) || data.length < lineEnd + 2 + size + 2) return { responses, leftover: data.subarray(offset) };
        chunks.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
        cursor = lineEnd + 2 + size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(chunks);
    } else if (headers['content-length'] !== undefined) {
      const length = Number(headers['content-length']);
      if (data.length < cursor + length) break;
      body = data.subarray(cursor, cursor + length);
      cursor += length;
    } else {
      body = data.subarray(cursor);
      cursor = data.length;
    }
    const text = body.toString('utf8');
    responses.push({ status, headers, body, json: () => JSON.parse(text) });
    offset = cursor;
  }
  return { responses, leftover: data.subarray(offset) };
}

/** The OCI error codes of the distribution spec, plus distribution's two for server failures. */
export const SPEC_ERROR_CODES: ReadonlySet<string> = new Set([
  'BLOB_UNKNOWN',
  'BLOB_UPLOAD_INVALID',
  'BLOB_UPLOAD_UNKNOWN',
  'DIGEST_INVALID',
  'MANIFEST_BLOB_UNKNOWN',
  'MANIFEST_INVALID',
  'MANIFEST_UNKNOWN',
  'NAME_INVALID',
  'NAME_UNKNOWN',
  'SIZE_INVALID',
  'UNAUTHORIZED',
  'DENIED',
  'UNSUPPORTED',
  'TOOMANYREQUESTS',
]);

/**
 * Why a response is not the spec's error form (`{"errors":[{"code","message","detail"}]}` with a
 * spec code, as JSON), or undefined when it is.
 */
export function ociErrorProblem(response: { status: number; headers: Record<string, string>; body: Buffer }): string | undefined {
  if (!/^application\/json/.test(response.headers['content-type'] ?? '')) return `content-type ${response.headers['content-type']}`;
  let body: any;
  try {
    body = JSON.parse(response.body.toString('utf8'));
  } catch {
    return `body is not JSON: ${response.body.toString('utf8').slice(0, 200)}`;
  }
  const errors = body?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return `no errors array: ${JSON.stringify(body).slice(0, 200)}`;
  for (const e of errors) {
    if (!SPEC_ERROR_CODES.has(e?.code)) return `code ${JSON.stringify(e?.code)} is not a spec code`;
    if (typeof e.message !== 'string') return 'message is not a string';
    if (!('detail' in e)) return 'no detail';
  }
  return undefined;
}
