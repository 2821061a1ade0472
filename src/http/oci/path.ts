/**
 * Parses the part of a `/v2/` URL path after `/v2/` into an OCI API route.
 *
 * Repository names have any number of `/`-separated components and may themselves contain the
 * words "manifests", "blobs" or "tags", so routes are matched from the right: the greedy `(.+)`
 * leaves the last keyword to the route. Nothing is percent-decoded: no valid name, tag or digest
 * contains `%`, so an encoded `%2F` or `%2E%2E` stays a character the name grammar refuses.
 */
export type OciRoute =
  | { readonly kind: 'base' }
  | { readonly kind: 'catalog' }
  | { readonly kind: 'tags'; readonly name: string }
  | { readonly kind: 'manifest'; readonly name: string; readonly reference: string }
  | { readonly kind: 'blob'; readonly name: string; readonly digest: string }
  | { readonly kind: 'uploads'; readonly name: string }
  | { readonly kind: 'upload'; readonly name: string; readonly id: string }
  | { readonly kind: 'referrers'; readonly name: string; readonly digest: string };

/** The methods each route serves; anything else on it is 405 with these in `Allow`. */
export const ROUTE_METHODS = {
  base: ['GET', 'HEAD'],
  catalog: ['GET'],
  tags: ['GET'],
  manifest: ['GET', 'HEAD', 'PUT', 'DELETE'],
  blob: ['GET', 'HEAD', 'DELETE'],
  uploads: ['POST'],
  upload: ['GET', 'PATCH', 'PUT', 'DELETE'],
  referrers: ['GET'],
} as const satisfies Record<OciRoute['kind'], readonly string[]>;

export type RouteMethod<K extends OciRoute['kind']> = (typeof ROUTE_METHODS)[K][number];

/** What this registry serves beyond the routes themselves: deletes may be turned off. */
export interface MethodPolicy {
  /** false: DELETE of blobs and manifests (tags) is not served (CAIRN_DELETES=false). */
  readonly deletes: boolean;
}

export const ALL_METHODS: MethodPolicy = { deletes: true };

/** The methods this registry serves on a route: ROUTE_METHODS, less content deletes when they are off. */
export function allowedMethods(route: OciRoute, policy: MethodPolicy): readonly string[] {
  const methods: readonly string[] = ROUTE_METHODS[route.kind];
  const contentDelete = route.kind === 'blob' || route.kind === 'manifest';
  return policy.deletes || !contentDelete ? methods : methods.filter((m) => m !== 'DELETE');
}

/** The `Allow` header of a route. */
export function allowHeader(route: OciRoute, policy: MethodPolicy = ALL_METHODS): string {
  return allowedMethods(route, policy).join(', ');
}

/**
 * The route of a raw request target (`/v2/…?query`), or undefined outside the API. The base is
 * served with and without its slash.
 */
export function routeOfTarget(target: string): OciRoute | undefined {
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  if (path === '/v2' || path === '/v2/') return { kind: 'base' };
  return path.startsWith('/v2/') ? parseOciPath(path.slice(4)) : undefined;
}

const PATTERNS: ReadonlyArray<[RegExp, (m: RegExpExecArray) => OciRoute]> = [
  [/^_catalog$/, () => ({ kind: 'catalog' })],
  [/^(.+)\/tags\/list$/, (m) => ({ kind: 'tags', name: m[1]! })],
  [/^(.+)\/manifests\/([^/]+)$/, (m) => ({ kind: 'manifest', name: m[1]!, reference: m[2]! })],
  [/^(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: 'uploads', name: m[1]! })],
  [/^(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: 'upload', name: m[1]!, id: m[2]! })],
  [/^(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: 'blob', name: m[1]!, digest: m[2]! })],
  [/^(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: 'referrers', name: m[1]!, digest: m[2]! })],
];

/** @param rest the path after `/v2/`, without the query string */
export function parseOciPath(rest: string): OciRoute | undefined {
  if (rest === '') return { kind: 'base' };
  if (rest.length > 2048) return undefined;
  for (const [pattern, build] of PATTERNS) {
    const match = pattern.exec(rest);
    if (match) return build(match);
  }
  return undefined;
}
