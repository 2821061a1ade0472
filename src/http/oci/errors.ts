/**
 * The one place where errors become OCI wire errors: `{"errors":[{"code","message","detail"}]}`
 * with a code from the distribution spec's list and the status the spec gives it.
 *
 * Every answer on /v2/ with a status of 400 or more goes through here: domain errors (the table
 * below), HTTP-level refusals (unknown endpoint, wrong method), errors Fastify raises before a
 * handler runs (a Content-Type it cannot parse), and — via src/http/parser-errors.ts — requests
 * Node's HTTP parser refused before Fastify saw them.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError, StorageError, type RegistryErrorKind, type StorageErrorKind } from '../../registry/errors.js';

/**
 * The error codes of the OCI distribution spec (v1.1, "Error Codes"), plus two of distribution's
 * own for failures on our side, which the spec leaves open: UNAVAILABLE (503, a backend is down)
 * and UNKNOWN (500, a bug). Clients treat codes they do not know as generic errors; these two are
 * what docker and containerd already understand.
 */
export type OciErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'UNAVAILABLE'
  | 'UNKNOWN';

export interface WireError {
  readonly status: number;
  readonly code: OciErrorCode;
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
  // The spec's code for "a length the registry will not take"; 413 tells HTTP clients the same.
  manifest_too_large: { status: 413, code: 'SIZE_INVALID' },
  name_invalid: { status: 400, code: 'NAME_INVALID' },
  name_unknown: { status: 404, code: 'NAME_UNKNOWN' },
  tag_invalid: { status: 400, code: 'MANIFEST_INVALID' },
  size_invalid: { status: 400, code: 'SIZE_INVALID' },
  range_not_satisfiable: { status: 416, code: 'BLOB_UPLOAD_INVALID' },
  upload_offset_mismatch: { status: 416, code: 'BLOB_UPLOAD_INVALID' },
  unsupported: { status: 405, code: 'UNSUPPORTED' },
  // The spec describes UNSUPPORTED as "a missing implementation or invalid set of parameters";
  // distribution's PAGINATION_NUMBER_INVALID is not in the spec's list.
  pagination_invalid: { status: 400, code: 'UNSUPPORTED' },
  storage_unavailable: { status: 503, code: 'UNAVAILABLE' },
};

/**
 * Errors Fastify raises itself before a handler runs, by their `code`. Anything else Fastify
 * reports with a 4xx status becomes UNSUPPORTED with that status (see ociErrorHandler).
 */
const FRAMEWORK_ERRORS: Readonly<Record<string, WireError & { message?: string }>> = {
  // A Content-Type that is not a media type (`;;;`, `x`): the body's meaning cannot be known.
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED', message: 'the Content-Type header is not a media type (type/subtype)' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'SIZE_INVALID' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'SIZE_INVALID' },
};

/** HTTP-level failures that never reach the services (unknown endpoint, wrong method). */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: OciErrorCode,
    message: string,
    /** Extra response headers, e.g. `Allow` on a 405. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** The response body of an OCI error; `detail` is always present (null when there is none). */
export function ociErrorBody(code: OciErrorCode, message: string, detail?: unknown): string {
  return JSON.stringify({ errors: [{ code, message, detail: detail ?? null }] });
}

export function sendOciError(reply: FastifyReply, status: number, code: OciErrorCode, message: string, detail?: unknown): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(ociErrorBody(code, message, detail));
}

export function ociErrorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof RegistryError || error instanceof StorageError) {
    const wire = WIRE_ERRORS[error.kind];
    if (wire.status >= 500) request.log.error({ err: error }, 'storage failure');
    return sendOciError(reply, wire.status, wire.code, error.message, error.detail);
  }
  if (error instanceof HttpError) return sendOciError(reply.headers(error.headers), error.status, error.code, error.message);
  if (isClientAbort(error)) {
    // The client went away mid-body: nothing was stored; there is nobody to answer.
    request.log.info({ reason: (error as Error).message }, 'request body aborted');
    return sendOciError(reply, 400, 'BLOB_UPLOAD_INVALID', 'request body aborted');
  }
  const framework = frameworkError(error);
  if (framework) return sendOciError(reply, framework.status, framework.code, framework.message);
  request.log.error({ err: error }, 'unhandled error');
  return sendOciError(reply, 500, 'UNKNOWN', 'internal server error');
}

/** A client error Fastify raised (it carries a 4xx `statusCode`), as an OCI wire error. */
export function frameworkError(error: unknown): (WireError & { message: string }) | undefined {
  const { code, statusCode, message = 'invalid request' } = (error ?? {}) as Partial<FastifyError>;
  const known = code === undefined ? undefined : FRAMEWORK_ERRORS[code];
  if (known) return { message, ...known };
  if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 500) return { status: statusCode, code: 'UNSUPPORTED', message };
  return undefined;
}

function isClientAbort(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || (error as Error)?.message === 'aborted';
}
