/**
 * OCI answers for requests that no handler serves: an unknown path, a method the route does not
 * serve, and requests Node's parser refused for their method or URL (src/http/parser-errors.ts).
 */
import { isValidRepositoryName } from '../../oci/name.js';
import { HttpError } from './errors.js';
import { ALL_METHODS, allowHeader, routeOfTarget, type MethodPolicy, type OciRoute } from './path.js';

/**
 * A known route with a method it does not serve is 405 with `Allow`. A path that names no route
 * — a typo, a trailing slash, an API we do not implement — is 404 UNSUPPORTED: the spec's
 * "missing implementation" is the truth, while NAME_UNKNOWN, MANIFEST_UNKNOWN or BLOB_UNKNOWN
 * would claim something about a repository's content that was never looked up.
 */
export function routeFailure(route: OciRoute | undefined, method: string, policy: MethodPolicy = ALL_METHODS): HttpError {
  if (!route) return new HttpError(404, 'UNSUPPORTED', 'no such endpoint in the OCI distribution API');
  const why = method === 'DELETE' && !policy.deletes ? ': deletes are disabled on this registry' : '';
  return new HttpError(405, 'UNSUPPORTED', `${method.slice(0, 40)} is not supported here${why}`, { allow: allowHeader(route, policy) });
}

/** A request line Node refused for its method (`BREW /v2/ HTTP/1.1`): as any unserved method. */
export function unknownMethod(method: string, target: string | undefined, policy: MethodPolicy = ALL_METHODS): HttpError {
  if (target === undefined || !target.startsWith('/')) return new HttpError(400, 'UNSUPPORTED', 'malformed request line');
  return routeFailure(routeOfTarget(target), method, policy);
}

/**
 * A request target Node refused (bytes outside URL syntax, such as a raw `é`). Names are where
 * clients put user input, so an invalid name is named as such.
 */
export function invalidTarget(target: string | undefined): HttpError {
  const route = target === undefined ? undefined : routeOfTarget(target);
  if (route && 'name' in route && !isValidRepositoryName(route.name)) {
    return new HttpError(400, 'NAME_INVALID', 'invalid repository name: a name is lowercase [a-z0-9] components joined by ".", "_", "__", "-" and "/"');
  }
  return new HttpError(400, 'UNSUPPORTED', 'the request target is not a valid URL');
}
