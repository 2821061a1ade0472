/** Retention's domain errors on the admin API's wire: one table, exhaustive over the kinds. */
import type { RetentionErrorKind } from '../../retention/errors.js';

export const RETENTION_WIRE_ERRORS: Record<RetentionErrorKind, { status: number; code: string }> = {
  policy_invalid: { status: 400, code: 'invalid_request' },
  policy_not_found: { status: 404, code: 'not_found' },
  run_in_progress: { status: 409, code: 'conflict' },
  run_not_found: { status: 404, code: 'not_found' },
  branch_invalid: { status: 400, code: 'invalid_request' },
  mapping_invalid: { status: 400, code: 'invalid_request' },
  mapping_not_found: { status: 404, code: 'not_found' },
  webhook_not_configured: { status: 404, code: 'not_found' },
  webhook_unauthenticated: { status: 401, code: 'unauthorized' },
  webhook_invalid: { status: 400, code: 'invalid_request' },
};
