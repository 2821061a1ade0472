/**
 * What a password must be, as a pure rule: used by accounts when one is set, and by the
 * configuration and the CLI to refuse a bad password before anything is opened.
 */
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

/** Why `password` is not acceptable, or undefined when it is. Never quotes the password. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < MIN_PASSWORD_LENGTH) return `too short: passwords need at least ${MIN_PASSWORD_LENGTH} characters`;
  if (password.length > MAX_PASSWORD_LENGTH) return `too long: passwords have at most ${MAX_PASSWORD_LENGTH} characters`;
  return undefined;
}
