/**
 * What each OCI route needs: the scope checked, and the scope named in a challenge (clients ask
 * for `pull,push` before a push, so the challenge offers that, while push alone is checked).
 */
import type { Access } from '../../auth/scopes.js';
import type { OciRoute } from './path.js';

export type RouteAccess =
  /** Any authenticated caller (the API root, which clients use to discover auth). */
  | { readonly kind: 'authenticated' }
  | { readonly kind: 'scoped'; readonly check: Access; readonly challenge: Access };

export function requiredAccess(route: OciRoute, method: string): RouteAccess {
  switch (route.kind) {
    case 'base':
      return { kind: 'authenticated' };
    case 'catalog':
      return scoped({ type: 'registry', name: 'catalog', actions: ['*'] });
    case 'tags':
    case 'referrers':
      return scoped(repository(route.name, ['pull']));
    case 'manifest':
    case 'blob':
      if (method === 'DELETE') return scoped(repository(route.name, ['delete']));
      if (method === 'PUT') return push(route.name);
      return scoped(repository(route.name, ['pull']));
    case 'uploads':
    case 'upload':
      return push(route.name);
  }
}

function repository(name: string, actions: string[]): Access {
  return { type: 'repository', name, actions };
}

function scoped(access: Access): RouteAccess {
  return { kind: 'scoped', check: access, challenge: access };
}

function push(name: string): RouteAccess {
  return { kind: 'scoped', check: repository(name, ['push']), challenge: repository(name, ['pull', 'push']) };
}
