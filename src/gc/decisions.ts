/**
 * The collector's decisions, pure: facts gathered under lock in, a verdict out. No I/O and no
 * wall clock (`now` is passed in), so every rule is tested on its own (test/gc/decisions.test.ts).
 *
 * The rules (the argument for them is at the top of src/gc/index.ts):
 *   manifest  deleted when no tag points at it, no index names it, its subject (if any) is not in
 *             the repository, and it was pushed at least one review delay ago.
 *   blob      deleted when no manifest references it and it was last linked to a repository (by an
 *             upload, a re-upload or a mount) at least one review delay ago.
 *   orphan    stored bytes with no blob row, last written at least one review delay ago.
 */
import type { BlobReferences, ManifestReferences } from '../metadata/stores/gc.js';

/** Why an object stays. `young` ones are looked at again at `until`. */
export type Keep =
  | { readonly delete: false; readonly reason: 'tagged' | 'in_index' | 'has_subject' | 'referenced' }
  | { readonly delete: false; readonly reason: 'young'; readonly until: Date };

export type Verdict = { readonly delete: true } | Keep;

const DELETE: Verdict = { delete: true };

export function decideManifest(pushedAt: Date, refs: ManifestReferences, now: Date, reviewDelayMs: number): Verdict {
  if (refs.tags > 0) return { delete: false, reason: 'tagged' };
  if (refs.parents > 0) return { delete: false, reason: 'in_index' };
  // A signature or SBOM (pushed by digest, untagged) lives as long as what it describes.
  if (refs.subjectPresent) return { delete: false, reason: 'has_subject' };
  return ripe(pushedAt, now, reviewDelayMs);
}

export function decideBlob(refs: BlobReferences, now: Date, reviewDelayMs: number): Verdict {
  if (refs.manifests > 0) return { delete: false, reason: 'referenced' };
  // BuildKit uploads every layer before the manifest naming them: a recent link is a push in flight.
  return refs.lastLinkedAt ? ripe(refs.lastLinkedAt, now, reviewDelayMs) : DELETE;
}

/** Bytes in storage that no blob row names (a crash between write and record, or a lost delete). */
export function decideOrphan(lastModified: Date, now: Date, reviewDelayMs: number): Verdict {
  return ripe(lastModified, now, reviewDelayMs);
}

function ripe(since: Date, now: Date, reviewDelayMs: number): Verdict {
  const until = new Date(since.getTime() + reviewDelayMs);
  return until.getTime() <= now.getTime() ? DELETE : { delete: false, reason: 'young', until };
}
