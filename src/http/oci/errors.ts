/**
 * The one place where errors become OCI wire errors: `{"errors":[{"code","message","detail"}]}`
 * with the status the distribution spec gives each code.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError, StorageError, type RegistryErrorKind, type StorageErrorKind } from '../../registry/errors.js';

export interface WireError {
  readonly status: number;
  readonly code: string;
}

/** Exhaustive over both error kinds: a new domain error does not compile until mapped here. */
export const WIRE_ERRORS: Readonly<Record<RegistryErrorKind | StorageErrorKind, WireError>> = {
  blob_unknown: { status: 404, code: 'BLOB_UNKNOWN' },
  blob_upload_invalid: { status: 400, code: 'BLOB_UPLOAD_INVALID' },
  blob_upload_unknown: { status: 404, code: 'BLOB_UPLOAD_UNKNOWN' },
  digest_invalid: { status: 400, code: 'DIGEST_INVALID' },
  manifest_blob_unknown: { status: 400, code: 'MANIFEST_BLOB_UNKNOWN' },
  manifest_invalid: { status: 400, code: 'MANIFEST_INVALID' },
  manifest_unknown: { status: 404, code: 'MANIFEST_UNKNOWN' },
  manifest_too_large: { status: 413, code: 'MANIFEST_INVALID' },
  name_invalid: { status: 400, code: 'NAME_INVALID' },
  name_unknown: { status: 404, code: 'NAME_UNKNOWN' },
  tag_invalid: { status: 400, code: 'MANIFEST_INVALID' },
  size_invalid: { status: 400, code: 'SIZE_INVALID' },
  range_not_satisfiable: { status: 416, code: 'BLOB_UPLOAD_INVALID' },
  upload_offset_mismatch: { status: 416, code: 'BLOB_UPLOAD_INVALID' },
  unsupported: { status: 405, code: 'UNSUPPORTED' },
  pagination_invalid: { status: 400, code: 'PAGINATION_NUMBER_INVALID' },
  storage_unavailable: { status: 503, code: 'UNAVAILABLE' },
};

/** HTTP-level failures that never reach the services (unknown endpoint, wrong method). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function sendOciError(reply: FastifyReply, status: number, code: string, message: string, detail?: unknown): FastifyReply {
  const body = JSON.stringify({ errors: [{ code, message, detail: detail ?? null }] });
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(body);
}

export function ociErrorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof RegistryError || error instanceof StorageError) {
    const wire = WIRE_ERRORS[error.kind];
    if (wire.status >= 500) request.log.error({ err: error }, 'storage failure');
    return sendOciError(reply, wire.status, wire.code, error.message, error.detail);
  }
  if (error instanceof HttpError) return sendOciError(reply, error.status, error.code, error.message);
  if (isClientAbort(error)) {
    // The client went away mid-body: nothing was stored; there is nobody to answer.
    request.log.info({ reason: (error as Error).message }, 'request body aborted');
    return sendOciError(reply, 400, 'BLOB_UPLOAD_INVALID', 'request body aborted');
  }
  request.log.error({ err: error }, 'unhandled error');
  return sendOciError(reply, 500, 'UNKNOWN', 'internal server error');
}

function isClientAbort(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (error as Error)?.message === 'aborted';
}
