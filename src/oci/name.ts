/**
 * Repository names and tags, with the grammar of the distribution spec.
 * Validation here is what keeps path tricks (`..`, `%2F`, absolute paths) out of the registry:
 * a name that passes is lowercase path components of [a-z0-9] joined by `.`, `_`, `__`, `-`.
 */

// name: <path-component>(/<path-component>)*  ;  path-component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
const NAME_GRAMMAR = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG_GRAMMAR = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** The spec suggests clients keep name + host under 255 characters. */
export const MAX_NAME_LENGTH = 255;

export function isValidRepositoryName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME_LENGTH && NAME_GRAMMAR.test(name);
}

export function isValidTag(tag: string): boolean {
  return TAG_GRAMMAR.test(tag);
}
