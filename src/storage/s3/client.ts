/**
 * A minimal S3 transport on undici: one keep-alive connection pool to the bucket's origin, SigV4
 * on every request, timeouts, and retries with exponential backoff and full jitter.
 *
 * What is retried, and why:
 *   - idempotent requests (GET, HEAD, PUT, DELETE — an S3 PUT replaces the whole object or part,
 *     so sending it twice is the same as once) on 5xx answers, throttling (503 SlowDown),
 *     connection resets and timeouts;
 *   - POSTs that say they are idempotent (`idempotent: true`): CompleteMultipartUpload with the
 *     same parts gives the same object, and S3 and radosgw answer a repeat of a finished one with
 *     success (radosgw answers 500 "completion already in progress" while another, e.g. from a
 *     process killed mid-request, still runs: retrying waits it out);
 *   - any request, POST included, when the connection was refused: nothing was sent;
 *   - bodies are bytes or reopenable file ranges (RequestBody), so every attempt sends them whole.
 * Each attempt signs afresh (the signature embeds the time).
 */
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { S3NetworkError, S3ResponseError } from './errors.js';
import { S3Signer, encodeQuery, escapeKey, type Credentials } from './signer.js';
import { text } from './xml.js';

export interface S3ClientOptions {
  /** e.g. https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:9100 */
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  /** `endpoint/bucket/key` rather than `bucket.endpoint/key` (radosgw, MinIO). */
  readonly forcePathStyle: boolean;
  readonly credentials: Credentials;
  /** Attempts per request, first included. */
  readonly maxAttempts?: number;
  /** Backoff before retry n is random in [0, min(cap, base·2ⁿ)]. */
  readonly retryBaseMs?: number;
  readonly retryCapMs?: number;
  readonly connectTimeoutMs?: number;
  /** Waiting for response headers (S3 may think long about CompleteMultipartUpload). */
  readonly headersTimeoutMs?: number;
  /** Longest silence while a body streams. */
  readonly bodyTimeoutMs?: number;
  readonly connections?: number;
  /** Told about each retry, for logs. Never given credentials. */
  readonly onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  readonly method: string;
  readonly key: string;
  readonly attempt: number;
  readonly delayMs: number;
  readonly reason: string;
}

/** A body that can be sent again on retry: bytes, or a way to reopen a stream of known length. */
export type RequestBody = Buffer | string | { readonly length: number; open(): Readable };

export interface S3Request {
  readonly method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  /** Object key; undefined addresses the bucket itself. */
  readonly key?: string;
  readonly query?: Record<string, string>;
  readonly headers?: Record<string, string>;
  readonly body?: RequestBody;
  /** Non-2xx statuses answered normally rather than thrown (e.g. 404 for a HEAD). */
  readonly accept?: readonly number[];
  /** A POST that is safe to send again (see the header); other methods are by their nature. */
  readonly idempotent?: boolean;
}

export interface S3Response {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** Must be consumed or destroyed by the caller. */
  readonly body: Readable & { text(): Promise<string>; dump(): Promise<void> };
}

const RETRYABLE_STATUS = new Set([500, 502, 503, 504]);
const RESET_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);

export class S3Client {
  readonly bucket: string;
  private readonly origin: URL;
  private readonly pathPrefix: string;
  private readonly pool: Pool;
  private readonly signer: S3Signer;
  private readonly maxAttempts: number;

  constructor(private readonly options: S3ClientOptions) {
    this.bucket = options.bucket;
    const endpoint = new URL(options.endpoint);
    this.origin = options.forcePathStyle ? endpoint : new URL(`${endpoint.protocol}//${options.bucket}.${endpoint.host}`);
    this.pathPrefix = options.forcePathStyle ? `/${escapeKey(options.bucket)}` : '';
    this.signer = new S3Signer(options.credentials, options.region);
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 5);
    this.pool = new Pool(this.origin.origin, {
      connections: options.connections ?? 64,
      keepAliveTimeout: 30_000,
      connect: { timeout: options.connectTimeoutMs ?? 10_000 },
      headersTimeout: options.headersTimeoutMs ?? 120_000,
      bodyTimeout: options.bodyTimeoutMs ?? 60_000,
    });
  }

  /** Sends the request (retrying as documented above); throws S3ResponseError on other statuses. */
  async send(request: S3Request): Promise<S3Response> {
    for (let attempt = 1; ; attempt++) {
      let reason: string;
      try {
        const response = await this.attempt(request);
        if (response.status < 300 || request.accept?.includes(response.status)) return response;
        const error = await toResponseError(response);
        if (!this.mayRetry(request, error, attempt)) throw error;
        reason = `${error.status} ${error.code}`;
      } catch (error) {
        if (error instanceof S3ResponseError) throw error;
        const code = (error as NodeJS.ErrnoException).code ?? '';
        const refused = code === 'ECONNREFUSED';
        if (!(refused || (RESET_CODES.has(code) && isIdempotent(request))) || attempt >= this.maxAttempts) {
          throw new S3NetworkError(`S3 ${request.method} failed: ${(error as Error).message}`, error);
        }
        reason = code;
      }
      const delayMs = this.backoff(attempt);
      this.options.onRetry?.({ method: request.method, key: request.key ?? '', attempt, delayMs, reason });
      await sleep(delayMs);
    }
  }

  /** A URL for a plain GET of `key`, valid for `expiresIn` seconds. */
  async presignGet(key: string, expiresIn: number): Promise<string> {
    const path = `${this.pathPrefix}/${escapeKey(key)}`;
    const url = new URL(path, this.origin);
    return this.signer.presign({ method: 'GET', url, path, query: {}, headers: {} }, expiresIn);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  private async attempt(request: S3Request): Promise<S3Response> {
    const path = `${this.pathPrefix}/${request.key === undefined ? '' : escapeKey(request.key)}`;
    const query = request.query ?? {};
    const search = encodeQuery(query);
    const body = openBody(request.body);
    const headers: Record<string, string> = { ...request.headers };
    if (body) headers['content-length'] = String(body.length);
    const signed = await this.signer.sign({
      method: request.method,
      url: new URL(path, this.origin),
      path,
      query,
      headers,
    });
    const response = await this.pool.request({
      method: request.method,
      path: search ? `${path}?${search}` : path,
      headers: signed,
      body: body?.data ?? null,
    });
    return {
      status: response.statusCode,
      headers: flattenHeaders(response.headers),
      body: response.body as unknown as S3Response['body'],
    };
  }

  private mayRetry(request: S3Request, error: S3ResponseError, attempt: number): boolean {
    if (attempt >= this.maxAttempts) return false;
    if (!RETRYABLE_STATUS.has(error.status)) return false;
    // SlowDown means "not executed, come back later", which is safe for any method.
    return isIdempotent(request) || error.code === 'SlowDown';
  }

  private backoff(attempt: number): number {
    const base = this.options.retryBaseMs ?? 100;
    const cap = this.options.retryCapMs ?? 5_000;
    return Math.round(Math.random() * Math.min(cap, base * 2 ** attempt));
  }
}

function isIdempotent(request: S3Request): boolean {
  return request.method !== 'POST' || request.idempotent === true;
}

function openBody(body: RequestBody | undefined): { data: Buffer | string | Readable; length: number } | undefined {
  if (body === undefined) return undefined;
  if (typeof body === 'string') return { data: body, length: Buffer.byteLength(body) };
  if (Buffer.isBuffer(body)) return { data: body, length: body.length };
  return { data: body.open(), length: body.length };
}

async function toResponseError(response: S3Response): Promise<S3ResponseError> {
  const xml = await response.body.text().catch(() => '');
  const code = text(xml, 'Code') ?? statusCode(response.status);
  const message = text(xml, 'Message') || `S3 answered ${response.status} ${code}`;
  return new S3ResponseError(response.status, code, message, text(xml, 'RequestId'));
}

/** HEAD answers carry no body: name the status the way S3 would have. */
function statusCode(status: number): string {
  if (status === 404) return 'NotFound';
  if (status === 403) return 'Forbidden';
  if (status === 412) return 'PreconditionFailed';
  if (status === 503) return 'ServiceUnavailable';
  return `Http${status}`;
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
