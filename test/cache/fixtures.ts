// Loads the BuildKit v0.24 fixtures in test/fixtures/buildkit (captured from real runs; see the
// README in test/fixtures/buildkit/context/). Tests run from dist/test/cache, hence the path.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/buildkit/', import.meta.url));

interface BlobEntry {
  mediaType: string;
  size: number;
  role: 'manifest' | 'index' | 'cacheconfig' | 'image-config' | 'layer';
  file: string | null;
  annotations?: Record<string, string>;
  referencedBy?: string[];
}

interface FixtureIndex {
  tags: Array<{ ref: string; digest: string; mediaType: string }>;
  blobs: Record<string, BlobEntry>;
}

export function fixtureIndex(scenario: string): FixtureIndex {
  return JSON.parse(readFileSync(`${FIXTURES}${scenario}/fixture-index.json`, 'utf8')) as FixtureIndex;
}

/** Any file under the fixtures directory, as text. */
export function fixtureText(path: string): string {
  return readFileSync(`${FIXTURES}${path}`, 'utf8');
}

export function blobBytes(scenario: string, digest: string): Uint8Array {
  return new Uint8Array(readFileSync(`${FIXTURES}${scenario}/blobs/sha256/${digest.replace(/^sha256:/, '')}`));
}

export function blobJson(scenario: string, digest: string): unknown {
  return JSON.parse(Buffer.from(blobBytes(scenario, digest)).toString('utf8'));
}

export interface TaggedManifest {
  scenario: string;
  ref: string;
  digest: string;
  mediaType: string;
  manifest: unknown;
}

/** Every tagged manifest of a scenario (most scenarios have one tag; g and i have two). */
export function taggedManifests(scenario: string): TaggedManifest[] {
  return fixtureIndex(scenario).tags.map((t) => ({ scenario, ref: t.ref, digest: t.digest, mediaType: t.mediaType, manifest: blobJson(scenario, t.digest) }));
}

/** The cacheconfig blobs of a scenario, by digest. */
export function cacheConfigDigests(scenario: string): string[] {
  return Object.entries(fixtureIndex(scenario).blobs).filter(([, b]) => b.role === 'cacheconfig').map(([d]) => d);
}

/** The raw JSON of a blob, typed loosely for independent counting in tests. */
export interface RawConfig {
  layers?: Array<{ blob: string; parent?: number }>;
  records?: Array<{ digest: string; layers?: Array<{ layer: number; createdAt: string }>; inputs?: Array<Array<{ link: number; selector?: string }>> }>;
}

/** Scenarios with a registry cache (or inline image) that the core must understand. */
export const CACHE_SCENARIOS = [
  'a-image-manifest', 'b-index', 'b0-default', 'b2-docker-list', 'c-min', 'd-inline', 'e-zstd',
  'e2-zstd-force', 'f-local', 'g-two-refs', 'h-overwrite/after-step1', 'h-overwrite/after-step2',
  'h-overwrite/after-step3', 'i-cross-repo', 'k-export-and-push',
] as const;
