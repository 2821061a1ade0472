/**
 * The one place where errors become /api/v1 wire errors:
 *
 *   {"error": {"code": "not_found", "message": "no user named \"ghost\"", "detail": null}}
 *
 * Domain errors are named after facts and carry a `kind`; API_ERRORS maps every kind to a status
 * and a stable code, and the compiler keeps it exhaustive: a new kind does not build until it is
 * mapped here. Codes are few and coarse (what a client branches on); the message says what
 * happened and `detail` carries what a program needs (validation issues, allowed methods…).
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AccountError, type AccountErrorKind } from '../../auth/accounts.js';
import { AuthError, type AuthErrorKind } from '../../auth/errors.js';
import { BuildError, type BuildErrorKind } from '../../build/errors.js';
import { PermissionError, type PermissionErrorKind } from '../../auth/permissions.js';
import { CacheNotFoundError, CacheSettingsError } from '../../cache/service.js';
import { CacheMountNotFoundError } from '../../build/engine/cache-mounts.js';
import { RegistryError, StorageError, type RegistryErrorKind, type StorageErrorKind } from '../../registry/errors.js';
import { RetentionError, type RetentionErrorKind } from '../../retention/errors.js';

export type ApiErrorKind =
  // the request itself
  | 'request_invalid'
  | 'body_malformed'
  | 'body_too_large'
  | 'media_type_unsupported'
  | 'route_unknown'
  | 'method_not_allowed'
  // the caller
  | 'unauthenticated'
  | 'credentials_invalid'
  | 'token_invalid'
  | 'not_admin'
  | 'access_denied'
  | 'remote_while_open'
  | 'login_rate_limited'
  // what it asked for
  | AccountErrorKind
  | PermissionErrorKind
  | 'repository_name_invalid'
  | 'repository_not_found'
  | 'cache_not_found'
  | 'cache_settings_invalid'
  | 'cache_mount_not_found'
  | RetentionErrorKind
  | BuildErrorKind
  // us
  | 'storage_unavailable'
  | 'internal';

export interface WireError {
  readonly status: number;
  readonly code: string;
}

const INVALID: WireError = { status: 400, code: 'invalid_request' };
const NOT_FOUND: WireError = { status: 404, code: 'not_found' };
const UNAUTHORIZED: WireError = { status: 401, code: 'unauthorized' };
const FORBIDDEN: WireError = { status: 403, code: 'forbidden' };
const CONFLICT: WireError = { status: 409, code: 'conflict' };

/** Exhaustive over ApiErrorKind: every failure of the admin API has exactly one status and code. */
export const API_ERRORS: Readonly<Record<ApiErrorKind, WireError>> = {
  request_invalid: INVALID,
  body_malformed: { status: 400, code: 'malformed_body' },
  body_too_large: { status: 413, code: 'body_too_large' },
  media_type_unsupported: { status: 415, code: 'unsupported_media_type' },
  route_unknown: NOT_FOUND,
  method_not_allowed: { status: 405, code: 'method_not_allowed' },

  unauthenticated: UNAUTHORIZED,
  credentials_invalid: UNAUTHORIZED,
  token_invalid: UNAUTHORIZED,
  not_admin: FORBIDDEN,
  access_denied: FORBIDDEN,
  remote_while_open: FORBIDDEN,
  login_rate_limited: { status: 429, code: 'too_many_requests' },

  account_name_invalid: INVALID,
  password_invalid: INVALID,
  robot_password: INVALID,
  token_name_invalid: INVALID,
  token_expiry_invalid: INVALID,
  pattern_invalid: INVALID,
  grantee_ambiguous: INVALID,
  repository_name_invalid: INVALID,
  cache_settings_invalid: INVALID,
  account_not_found: NOT_FOUND,
  token_not_found: NOT_FOUND,
  permission_not_found: NOT_FOUND,
  repository_not_found: NOT_FOUND,
  cache_not_found: NOT_FOUND,
  cache_mount_not_found: NOT_FOUND,
  account_exists: CONFLICT,
  token_exists: CONFLICT,
  // retention (src/retention/errors.ts); the webhook kinds are answered by the receivers in hooks.ts
  policy_invalid: INVALID, policy_not_found: NOT_FOUND, run_not_found: NOT_FOUND, run_in_progress: CONFLICT,
  branch_invalid: INVALID, mapping_invalid: INVALID, mapping_not_found: NOT_FOUND,
  webhook_invalid: INVALID, webhook_not_configured: NOT_FOUND, webhook_unauthenticated: UNAUTHORIZED,
  // builds (src/build/errors.ts)
  build_request_invalid: INVALID, build_not_found: NOT_FOUND,
  build_context_too_large: { status: 413, code: 'body_too_large' },
  builds_unavailable: { status: 503, code: 'unavailable' },

  storage_unavailable: { status: 503, code: 'unavailable' },
  internal: { status: 500, code: 'internal' },
};

const AUTH_KINDS: Readonly<Record<AuthErrorKind, ApiErrorKind>> = {
  unauthenticated: 'unauthenticated',
  bad_credentials: 'credentials_invalid',
  token_invalid: 'token_invalid',
  denied: 'access_denied',
  rate_limited: 'login_rate_limited',
};

/** The registry and storage errors an admin route can meet; any other would be a bug, answered as internal. */
const REGISTRY_KINDS: Partial<Readonly<Record<RegistryErrorKind | StorageErrorKind, ApiErrorKind>>> = {
  name_invalid: 'repository_name_invalid',
  name_unknown: 'repository_not_found',
  storage_unavailable: 'storage_unavailable',
};

/** A failure found by the HTTP layer itself (no such route, not an admin…). */
export class ApiError extends Error {
  constructor(
    readonly kind: ApiErrorKind,
    message: string,
    readonly detail: unknown = null,
    /** Response headers the failure calls for (Allow on a 405). */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** One schema violation, as listed in the `detail` of an `invalid_request`. */
export interface ValidationIssue {
  /** body, querystring or params */
  readonly in: string;
  /** JSON pointer into that part; '' for the part as a whole. */
  readonly path: string;
  readonly message: string;
}

/** Schema violations (from Fastify's validation or the repository routes' own) as one ApiError. */
export function requestInvalid(part: string, errors: ReadonlyArray<{ instancePath: string; message?: string | undefined }>): ApiError {
  const issues: ValidationIssue[] = errors.map((e) => ({ in: part, path: e.instancePath, message: e.message ?? 'is invalid' }));
  const message = issues.map((i) => `${i.in}${i.path} ${i.message}`).join('; ');
  return new ApiError('request_invalid', message, issues);
}

/** Classifies anything thrown while serving /api/v1. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof AccountError || error instanceof PermissionError) return new ApiError(error.kind, error.message);
  if (error instanceof AuthError) {
    const retry = error.retryAfterSeconds;
    return new ApiError(AUTH_KINDS[error.kind], error.message, retry ? { retryAfterSeconds: retry } : null, retry ? { 'retry-after': String(retry) } : {});
  }
  if (error instanceof CacheNotFoundError) return new ApiError('cache_not_found', error.message);
  if (error instanceof CacheSettingsError) return new ApiError('cache_settings_invalid', error.message);
  if (error instanceof CacheMountNotFoundError) return new ApiError('cache_mount_not_found', error.message);
  if (error instanceof RetentionError) return new ApiError(error.kind, error.message);
  if (error instanceof BuildError) return new ApiError(error.kind, error.message);
  if (error instanceof RegistryError || error instanceof StorageError) return new ApiError(REGISTRY_KINDS[error.kind] ?? 'internal', error.message, error.detail ?? null);
  return fromFastify(error as FastifyError);
}

function fromFastify(error: FastifyError): ApiError {
  if (error.validation) return requestInvalid(error.validationContext ?? 'request', error.validation);
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('body_malformed', 'the body is not valid JSON');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('body_malformed', 'the body is empty but content-type says JSON');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('body_malformed', 'the body does not match its Content-Length');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ApiError('body_too_large', 'the body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ApiError('media_type_unsupported', 'request bodies are application/json');
    // @fastify/multipart (the builds API's upload)
    case 'FST_INVALID_MULTIPART_CONTENT_TYPE':
      return new ApiError('media_type_unsupported', 'the body is not multipart/form-data');
    case 'FST_INVALID_JSON_FIELD_ERROR':
      return new ApiError('request_invalid', 'a part declared as application/json is not valid JSON');
    case 'FST_MP_PREMATURE_CLOSE':
      return new ApiError('body_malformed', 'the multipart body ended early');
    case 'FST_PARTS_LIMIT':
    case 'FST_FILES_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new ApiError('request_invalid', error.message);
  }
  // busboy's complaints about the multipart framing itself
  if (/^(Unexpected end of (form|file|multipart data)|Malformed part header|Multipart: Boundary not found)/.test(error.message ?? '')) return new ApiError('body_malformed', `the multipart body is malformed: ${error.message}`);
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || error.message === 'aborted') return new ApiError('body_malformed', 'request body aborted');
  // Any other client error Fastify finds in a request is the request's fault, never a 500.
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) return new ApiError('request_invalid', error.message);
  return new ApiError('internal', 'internal server error');
}

export function sendApiError(reply: FastifyReply, error: ApiError): FastifyReply {
  const wire = API_ERRORS[error.kind];
  reply.code(wire.status).headers(error.headers);
  // A forge's webhook authenticates with its shared secret: no Basic challenge for it.
  if (wire.status === 401 && error.kind !== 'webhook_unauthenticated') reply.header('www-authenticate', 'Basic realm="cairn admin"');
  // A string, so no route's response schema applies: every error has this one shape.
  return reply.type('application/json; charset=utf-8').send(apiErrorBody(error.kind, error.message, error.detail));
}

/** The one shape of every admin API error body, also for answers given before the plugin runs. */
export function apiErrorBody(kind: ApiErrorKind, message: string, detail?: unknown): string {
  return JSON.stringify({ error: { code: API_ERRORS[kind].code, message, detail: detail ?? null } });
}

export function apiErrorHandler(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const apiError = toApiError(error);
  if (API_ERRORS[apiError.kind].status >= 500) request.log.error({ err: error }, 'admin API failure');
  return sendApiError(reply, apiError);
}
