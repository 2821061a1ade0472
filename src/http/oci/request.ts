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

/** Reads a small body (a manifest) into memory, refusing more than `limit` bytes. */
export async function readLimitedBody(request: FastifyRequest, limit: number): Promise<Buffer> {
  const declared = contentLength(request);
  if (declared !== undefined && declared > limit) {
    request.raw.resume();
    throw new ManifestTooLargeError(limit);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of request.raw) {
    total += (chunk as Buffer).length;
    if (total > limit) {
      request.raw.resume();
      throw new ManifestTooLargeError(limit);
    }
    chunks.push(chunk as Buffer);
  }
  if (declared !== undefined && total !== declared) throw new SizeInvalidError('body length does not match Content-Length');
  return Buffer.concat(chunks, total);
}
