/**
 * Which error body a failure gets when it happens outside both APIs' own error handlers (Node's
 * HTTP parser refused the request, CONNECT, an unknown Expect, no Host header): the admin API
 * keeps its `{"error":{"code","message","detail"}}` under /api/v1/, everything else — /v2/ and
 * paths no API claims, which OCI clients probe — gets the OCI form.
 */
import { apiErrorBody, type ApiErrorKind } from './admin/errors.js';
import { ociErrorBody, type OciErrorCode } from './oci/errors.js';

export interface ErrorAnswer {
  readonly status: number;
  /** The OCI code; the admin API's own code is derived from the status. */
  readonly code: OciErrorCode;
  readonly message: string;
  readonly detail?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
}

const ADMIN_PREFIX = '/api/v1/';

/** The admin API's error kinds (src/http/admin/errors.ts) for the statuses that can arise before its plugin runs. */
const ADMIN_KINDS: Readonly<Record<number, ApiErrorKind>> = {
  404: 'route_unknown',
  405: 'method_not_allowed',
  413: 'body_too_large',
  415: 'media_type_unsupported',
};

/** The body for an answer to a request for `target` (its raw path and query; may be unknown). */
export function errorBodyFor(target: string | undefined, answer: ErrorAnswer): string {
  if (target !== undefined && (target === ADMIN_PREFIX.slice(0, -1) || target.startsWith(ADMIN_PREFIX))) {
    return apiErrorBody(ADMIN_KINDS[answer.status] ?? (answer.status >= 500 ? 'internal' : 'request_invalid'), answer.message);
  }
  return ociErrorBody(answer.code, answer.message, answer.detail);
}
