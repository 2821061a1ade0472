/**
 * Which error body a failure gets when it happens outside both APIs' own error handlers (Node's
 * HTTP parser refused the request, a method Node does not route, no Host header): the admin API
 * keeps its `{"error":{"code","message"}}` under /api/v1/, everything else — /v2/ and paths no
 * API claims, which OCI clients probe — gets the OCI form.
 */
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

/** The body for an answer to a request for `target` (its raw path and query; may be unknown). */
export function errorBodyFor(target: string | undefined, answer: ErrorAnswer): string {
  if (target !== undefined && (target === ADMIN_PREFIX.slice(0, -1) || target.startsWith(ADMIN_PREFIX))) {
    // The admin API's codes for what can fail before its plugin runs.
    const code = answer.status === 404 ? 'not_found' : answer.status >= 500 ? 'internal' : 'invalid_request';
    return JSON.stringify({ error: { code, message: answer.message } });
  }
  return ociErrorBody(answer.code, answer.message, answer.detail);
}
