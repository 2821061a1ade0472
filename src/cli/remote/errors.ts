/**
 * A remote command could not do what was asked: the server refused (its `error.message`), was not
 * reachable, or no login is stored. The person's to act on: one line, exit status 2 (errors.ts).
 */
export class RemoteError extends Error {
  override readonly name = 'RemoteError';
}
