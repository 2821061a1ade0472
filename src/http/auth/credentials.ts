/** Reads the Authorization header: HTTP Basic or Bearer. */
import type { Credentials } from '../../auth/access-control.js';
import { AuthError } from '../../auth/errors.js';
import { textFault } from '../../oci/text.js';

export function parseAuthorization(header: string | undefined): Credentials | undefined {
  if (header === undefined || header === '') return undefined;
  const space = header.indexOf(' ');
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (space > 0 && scheme === 'bearer' && value) return { scheme: 'bearer', token: value };
  if (space > 0 && scheme === 'basic' && value) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    // The name is looked up in the database, which holds only text.
    if (colon > 0 && textFault(decoded.slice(0, colon)) === undefined) return { scheme: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  throw new AuthError('bad_credentials', 'malformed Authorization header');
}
