/**
 * Git branch names → the branch names cache tags carry. CI systems sanitise a branch into a tag
 * the way GitLab's CI_COMMIT_REF_SLUG and docker/metadata-action do: `/` and every character a tag
 * may not hold become `-`, and the result is cut to 128 characters (a tag's limit). Lower-casing is
 * a per-mapping setting, as CI setups differ. Pure.
 */
import { globMatches } from '../cache/branches.js';

const MAX_TAG_LENGTH = 128;

export function sanitiseBranch(gitBranch: string, options: { lowercase?: boolean } = {}): string {
  const name = gitBranch.replace(/^refs\/heads\//, '');
  const cased = options.lowercase ? name.toLowerCase() : name;
  return cased.replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, MAX_TAG_LENGTH);
}

/**
 * Whether a branch matches a protection glob given in Git form (`release/*`) or tag form
 * (`release-*`): the glob is sanitised like a branch, its `*` kept.
 */
export function branchGlobMatches(glob: string, branch: string): boolean {
  const sanitised = glob.split('*').map((part) => sanitiseBranch(part)).join('*');
  return globMatches(sanitised, branch) || globMatches(glob, branch);
}
