/**
 * Access scopes in the Docker registry token spec's form: `type:name:actions`, e.g.
 * `repository:team/app:pull,push` or `registry:catalog:*`. Pure: no I/O.
 */

export type Action = 'pull' | 'push' | 'delete' | '*';

export interface Access {
  readonly type: string;
  readonly name: string;
  readonly actions: readonly string[];
}

/**
 * Parses a scope string. Several scopes may be space-separated (OAuth2 form). The type may carry
 * a `(plugin)` suffix, which is dropped; names may not contain spaces.
 */
export function parseScopes(text: string): Access[] {
  return text
    .split(' ')
    .filter((s) => s.length > 0)
    .flatMap((scope) => {
      const first = scope.indexOf(':');
      const last = scope.lastIndexOf(':');
      if (first <= 0 || last === first) return [];
      const type = scope.slice(0, first).replace(/\(.*\)$/, '');
      const name = scope.slice(first + 1, last);
      const actions = scope
        .slice(last + 1)
        .split(',')
        .filter((a) => a.length > 0);
      return name.length > 0 && actions.length > 0 ? [{ type, name, actions }] : [];
    });
}

export function formatScope(access: Access): string {
  return `${access.type}:${access.name}:${access.actions.join(',')}`;
}

/** Merges entries for the same resource, so a token lists each resource once. */
export function mergeAccess(list: readonly Access[]): Access[] {
  const merged = new Map<string, { type: string; name: string; actions: Set<string> }>();
  for (const a of list) {
    const key = `${a.type}\u0000${a.name}`;
    const entry = merged.get(key) ?? { type: a.type, name: a.name, actions: new Set<string>() };
    for (const action of a.actions) entry.actions.add(action);
    merged.set(key, entry);
  }
  return [...merged.values()].map((e) => ({ type: e.type, name: e.name, actions: [...e.actions].sort() }));
}

/** True when `granted` holds `action` on the resource (a `*` grant holds every action). */
export function allows(granted: readonly Access[], type: string, name: string, action: string): boolean {
  return granted.some((g) => g.type === type && g.name === name && (g.actions.includes(action) || g.actions.includes('*')));
}
