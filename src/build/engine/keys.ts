/**
 * Chain keys: what a step's result is known by in the cache. A key is `sha256:` over a canonical
 * JSON document (sorted keys, no whitespace) with a version field, so a change to what goes into
 * keys changes every key instead of reusing results made under other rules. Pure.
 *
 * A step's key covers: its parent's key (the base image's manifest digest at the root), the
 * canonical step (display text and the parsed fields that change its result, never line
 * numbers), the content digest of COPY/ADD sources, the key of a `COPY --from` stage's result or
 * the manifest digest of a `COPY --from` image, and the build args and env in use. Cache mount
 * contents are not inputs, as in BuildKit: they are a cache, not a source.
 */
import { createHash } from 'node:crypto';
import type { Step } from '../dockerfile/model.js';

export const CHAIN_KEY_VERSION = 1;

/** The root of a stage built on an image, by the platform manifest's digest. */
export function imageKey(manifestDigest: string): string {
  return digestJson({ v: CHAIN_KEY_VERSION, image: manifestDigest });
}

export const SCRATCH_KEY = `sha256:${createHash('sha256').update(`cairn.scratch.v${CHAIN_KEY_VERSION}`).digest('hex')}`;

/** Inputs a step takes from outside the Dockerfile text. */
export interface StepSources {
  /** Content digest of the COPY/ADD sources (context or the `--from` root). */
  readonly contentDigest?: string;
  /** Key of the `COPY --from` stage's result, or of the image. */
  readonly fromKey?: string;
  /** RUN bind mounts: per mount, the context path's digest or the `from` stage's (image's) key. */
  readonly mounts?: readonly string[];
}

export function stepKey(parent: string, step: Step, sources: StepSources = {}): string {
  return digestJson({ v: CHAIN_KEY_VERSION, parent, step: canonicalStep(step), sources });
}

/**
 * The fields of a step that decide its result. `location` (line numbers) never does; of the
 * config in effect only what the step runs with (working directory and user); the rest of the
 * config is kept in the image config, not in the layer.
 */
export function canonicalStep(step: Step): Record<string, unknown> {
  // History text and flags are derived from the rest; proxy variables never key (BuildKit's rule).
  const { location: _location, config, createdBy: _createdBy, emptyLayer: _emptyLayer, ...rest } = step;
  if ('proxyEnv' in rest) delete (rest as { proxyEnv?: unknown }).proxyEnv;
  return { ...rest, workingDir: config.workingDir ?? '/', user: config.user ?? '' };
}

export function digestJson(value: unknown): string {
  return `sha256:${createHash('sha256').update(canonicalJson(value)).digest('hex')}`;
}

/** JSON with object keys sorted at every depth and `undefined` members left out. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}
