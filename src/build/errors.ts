/** What can go wrong with a build request, named after the fact; mapped to wire errors by each API. */
export type BuildErrorKind = 'build_not_found' | 'build_context_too_large' | 'build_request_invalid' | 'builds_unavailable';

export class BuildError extends Error {
  constructor(
    readonly kind: BuildErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'BuildError';
  }
}
