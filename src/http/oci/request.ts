/** Small readers for what OCI requests carry in headers and query strings. */
import type { FastifyRequest } from 'fastify';
import type { ByteRange } from '../../storage/blob-store.js';
import { RangeNotSatisfiableError, SizeInvalidError, ManifestTooLargeError } from '../../registry/errors.js';
import { HttpError } from './errors.js';

export function queryParam(request: FastifyRequest, key: string): string | undefined {
  const value = (request.query as Record<string, string | string[] | undefined>)[key];
  return Array.isArray(value) ? value[0] : value;
}

/** Content-Length as a number, or undefined for chunked bodies. */
export function contentLength(request: FastifyRequest): number | undefined {
  const header = request.headers['content-length'];
  if (header === undefined) return undefined;
  if (!/^\d{1,15}$/.test(header)) throw new SizeInvalidError('invalid Content-Length');
  return Number(header);
}

/** True when the request carries a body (a length above zero, or chunked transfer encoding). */
export function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return request.headers['transfer-encoding'] !== undefined;
}

/** The media type of Content-Type without parameters, lowercased. */
export function mediaTypeOf(request: FastifyRequest): string {
  return (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * The start offset of a PATCH chunk's `Content-Range: <start>-<end>` (the spec's form; some
 * clients prefix `bytes=` or `bytes `). The end must agree with Content-Length when both are sent.
 */
export function chunkRangeStart(request: FastifyRequest, length: number | undefined): number | undefined {
  const header = request.headers['content-range'];
  if (header === undefined) return undefined;
  const match = /^(?:bytes[= ])?(\d{1,15})-(\d{1,15})(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!match) throw new HttpError(416, 'BLOB_UPLOAD_INVALID', `invalid Content-Range "${header.slice(0, 60)}"`);
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (end < start) throw new HttpError(416, 'BLOB_UPLOAD_INVALID', 'Content-Range end is before its start');
  if (length !== undefined && end - start + 1 !== length) {
    throw new HttpError(416, 'BLOB_UPLOAD_INVALID', 'Content-Range does not match Content-Length');
  }
  return start;
}

/**
 * The byte range of a blob GET. Multiple ranges are not supported and yield the whole blob, as
 * RFC 9110 allows; a range outside the blob is 416.
 */
export function requestedRange(request: FastifyRequest, size: number): ByteRange | undefined {
  const header = request.headers.range;
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) {
    if (header.includes(',')) return undefined;
    throw new RangeNotSatisfiableError(size);
  }
  const [, first, last] = match;
  if (first === '' && last === '') throw new RangeNotSatisfiableError(size);
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) throw new RangeNotSatisfiableError(size);
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size || end < start) throw new RangeNotSatisfiableError(size);
  return { start, end };
}

/**
 * Reads a small body (a manifest) into memory, refusing more than `limit` bytes. A refused body
 * is left paused, unread: the server discards it before the answer (src/http/unread-body.ts).
 * Not `for await`: leaving that loop early destroys the request and its socket, answer and all.
 */
export function readLimitedBody(request: FastifyRequest, limit: number): Promise<Buffer> {
  const declared = contentLength(request);
  if (declared !== undefined && declared > limit) return Promise.reject(new ManifestTooLargeError(limit));
  const body = request.raw;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const settle = (error: Error | undefined) => {
      body.off('data', onData).off('end', onEnd).off('error', onError);
      if (error) {
        body.pause();
        reject(error);
      } else if (declared !== undefined && total !== declared) {
        reject(new SizeInvalidError('body length does not match Content-Length'));
      } else {
        resolve(Buffer.concat(chunks, total));
      }
    };
    const onData = (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) return settle(new ManifestTooLargeError(limit));
      chunks.push(chunk);
    };
    const onEnd = () => settle(undefined);
    const onError = (error: Error) => settle(error);
    body.on('data', onData).once('end', onEnd).once('error', onError);
  });
}
