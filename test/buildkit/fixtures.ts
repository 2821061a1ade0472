/**
 * The recorded BuildKit v0.24 runs in test/fixtures/buildkit/ (see context/README.md there), loaded for replay:
 * every scenario's request logs, in run order, and one pool of all recorded bodies by digest.
 *
 * The busybox base layer (sha256:70f44005…, and its zstd recompression sha256:2562222c… in e2-zstd-force) is not
 * stored: it is a third-party binary (its fixture-index entry has `file: null`). It is replaced by an opaque
 * stand-in of the same size, and every digest that depends on it (cacheconfigs, manifests, the base image
 * manifest…) is rewritten consistently in bodies, URIs and recorded headers. A sha256 hex is 64 characters
 * either way, so every size, Content-Length and body length stays exactly as recorded.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/buildkit/', import.meta.url));

/** One request BuildKit sent, as the logging proxy in front of the reference registry saw it. */
export interface Recorded {
  seq: number;
  method: string;
  uri: string;
  status: number;
  req_headers: Record<string, string>;
  req_body_bytes: number;
  resp_headers: Record<string, string>;
  resp_body_bytes: number;
}

export interface RecordedTag {
  ref: string;
  digest: string;
  mediaType: string;
  size: number;
  servedContentType?: string;
}

interface FixtureIndex {
  registry: string | null;
  tags: RecordedTag[];
  blobs: Record<string, { size: number; file: string | null }>;
}

export interface Step {
  /** `export`, `import`, `change`, or `1-deps-to-X` … for multi-step scenarios. */
  name: string;
  requests: Recorded[];
  /** The registry's tags right after this step, where the fixture kept a snapshot. */
  tagsAfter?: RecordedTag[];
}

export interface Scenario {
  name: string;
  steps: Step[];
  /** Tags the scenario left in the reference registry; absent for local-only output (f-local). */
  finalTags?: RecordedTag[];
}

const sha256Hex = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const readJson = <T>(path: string) => JSON.parse(readFileSync(path, 'utf8')) as T;
const readJsonl = (path: string) =>
  readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Recorded);

export function loadScenario(name: string): Scenario {
  const dir = join(FIXTURES, name);
  const files = readdirSync(dir).filter((f) => /^requests-.+\.jsonl$/.test(f));
  const stepName = (f: string) => f.slice('requests-'.length, -'.jsonl'.length);
  const rank = (s: string) => (/^\d+-/.test(s) ? parseInt(s, 10) : ['export', 'import', 'change'].indexOf(s));
  const steps = files.map(stepName).sort((a, b) => rank(a) - rank(b)).map((step): Step => {
    const snapshot = join(dir, `after-step${parseInt(step, 10)}`, 'fixture-index.json');
    return {
      name: step,
      requests: readJsonl(join(dir, `requests-${step}.jsonl`)).filter((r) => r.method !== undefined),
      tagsAfter: /^\d+-/.test(step) && existsSync(snapshot) ? registryTags(readJson<FixtureIndex>(snapshot)) : undefined,
    };
  });
  const index = join(dir, 'fixture-index.json');
  const finalTags = existsSync(index) ? registryTags(readJson<FixtureIndex>(index)) : [...steps].reverse().find((s) => s.tagsAfter)?.tagsAfter;
  return { name, steps, finalTags };
}

/** f-local's "tag" is `layout:index.json` in an OCI layout on disk (registry null): nothing to find in a registry. */
function registryTags(index: FixtureIndex): RecordedTag[] | undefined {
  return index.registry === null ? undefined : index.tags;
}

/** Every scenario directory holding per-step request logs, `base` first (it is what the others build FROM). */
export function scenarioNames(): string[] {
  return readdirSync(FIXTURES)
    .filter((d) => d !== 'base' && readdirSync(join(FIXTURES, d)).some((f) => /^requests-.+\.jsonl$/.test(f)))
    .sort();
}

export interface BlobPool {
  /** Body bytes by (rewritten) digest hex. */
  get(hex: string): Buffer | undefined;
  /** Rewrites every digest that depends on a stand-in, in any text (URI, header value, digest). */
  fix(text: string): string;
}

export function loadBlobPool(): BlobPool {
  const original = new Map<string, Buffer>();
  const unstored = new Map<string, number>();
  const scan = (dir: string) => {
    const index = join(dir, 'fixture-index.json');
    if (existsSync(index)) {
      for (const [digest, blob] of Object.entries(readJson<FixtureIndex>(index).blobs)) {
        if (blob.file === null) unstored.set(digest.slice('sha256:'.length), blob.size);
      }
    }
    const blobs = join(dir, 'blobs', 'sha256');
    if (!existsSync(blobs)) return;
    for (const hex of readdirSync(blobs)) {
      const bytes = readFileSync(join(blobs, hex));
      if (sha256Hex(bytes) !== hex) throw new Error(`fixture blob ${dir}/blobs/sha256/${hex} does not match its digest`);
      original.set(hex, bytes);
    }
  };
  for (const scenario of readdirSync(FIXTURES)) {
    scan(join(FIXTURES, scenario));
    for (const sub of readdirSync(join(FIXTURES, scenario)).filter((d) => d.startsWith('after-step'))) scan(join(FIXTURES, scenario, sub));
  }

  const renamed = new Map<string, string>();
  const bytes = new Map(original);
  for (const [hex, size] of unstored) {
    const seed = Buffer.from(`cairn test stand-in for sha256:${hex} (not stored in the fixtures)\n`);
    const standIn = Buffer.alloc(size, seed);
    renamed.set(hex, sha256Hex(standIn));
    bytes.set(sha256Hex(standIn), standIn);
  }
  const fix = (text: string) => {
    if (renamed.size === 0) return text;
    return text.replace(new RegExp([...renamed.keys()].join('|'), 'g'), (old) => renamed.get(old)!);
  };
  // Blobs naming a renamed digest get new bytes and so a new digest themselves: repeat until nothing changes.
  for (let changed = true; changed; ) {
    changed = false;
    for (const [hex, body] of original) {
      const text = body.toString('latin1');
      const rewritten = Buffer.from(fix(text), 'latin1');
      const newHex = sha256Hex(rewritten);
      if (newHex !== hex && renamed.get(hex) !== newHex) {
        renamed.set(hex, newHex);
        bytes.set(newHex, rewritten);
        changed = true;
      }
    }
  }
  return { get: (hex) => bytes.get(hex), fix };
}
