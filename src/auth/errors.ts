/** Access-control failures, free of HTTP; src/http maps them to 401/403/429 with challenges. */
export type AuthErrorKind = 'unauthenticated' | 'bad_credentials' | 'token_invalid' | 'denied' | 'rate_limited';

export class AuthError extends Error {
  constructor(
    readonly kind: AuthErrorKind,
    message: string,
    /** For rate_limited: seconds until another try is accepted. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}
