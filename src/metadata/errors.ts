/**
 * Recognising database failures by SQLSTATE, the same way on PostgreSQL (pg's DatabaseError) and
 * PGlite (which reports the server's error fields as they are).
 */

/** 23503: a row names a row that is not (or no longer) there. */
export function isForeignKeyViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23503';
}
