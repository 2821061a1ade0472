/** Reads the Authorization header: HTTP Basic or Bearer. */
import type { Credentials } from '../../auth/access-control.js';
import { AuthError } from '../../auth/errors.js';

export function parseAuthorization(header: string | undefined): Credentials | undefined {
  if (header === undefined || header === '') return undefined;
  const space = header.indexOf(' ');
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (space > 0 && scheme === 'bearer' && value) return { scheme: 'bearer', token: value };
  if (space > 0 && scheme === 'basic' && value) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { scheme: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  throw new AuthError('bad_credentials', 'malformed Authorization header');
}
