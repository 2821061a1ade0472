/**
 * Replays recorded BuildKit requests against a running Cairn and compares every answer with what the reference
 * registry (distribution 2.8.2) answered: status, the headers BuildKit reads, and body bytes.
 */
import assert from 'node:assert/strict';
import { http } from '../support/http.js';
import { blobOf, pushBlob, putManifest } from '../support/oci.js';
import type { BlobPool, Recorded, RecordedTag } from './fixtures.js';

/** The Accept of BuildKit's (containerd resolver's) HEAD by tag. */
const RESOLVE_ACCEPT = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  '*/*',
].join(', ');

type Target = { kind: 'blob' | 'manifest' | 'uploads' | 'upload'; repo: string; ref: string };

function target(uri: string): Target {
  const path = uri.split('?')[0]!;
  const upload = /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/.exec(path);
  if (upload) return { kind: upload[2] ? 'upload' : 'uploads', repo: upload[1]!, ref: upload[2]! };
  const item = /^\/v2\/(.+)\/(blobs|manifests)\/([^/]+)$/.exec(path);
  if (!item) throw new Error(`unexpected recorded URI ${uri}`);
  return { kind: item[2] === 'blobs' ? 'blob' : 'manifest', repo: item[1]!, ref: item[3]! };
}

const hexOf = (digest: string | null | undefined) => (digest ?? '').replace(/^sha256:/, '');
const query = (uri: string) => new URL(uri, 'http://recorded').searchParams;

/** Something the registry already held when a recorded run started. */
export type Prior = { kind: 'blob'; repo: string; hex: string } | { kind: 'manifest'; repo: string; tag?: string; hex: string };

/**
 * What the recording shows existing before the run wrote it: the reference ran every scenario one after
 * another on one registry, so a scenario sees what earlier ones left (in b-index, `HEAD app/cache/blobs/<base
 * layer>` answers 200 because a-image-manifest pushed it; i-cross-repo imports a-image-manifest's cache).
 * Exactly those objects — every 200 answered before the run itself wrote the object — are pushed beforehand.
 */
export function priorState(requests: Recorded[], pool: BlobPool): Prior[] {
  const fix = pool.fix;
  const have = new Set<string>();
  const prior: Prior[] = [];
  const holds = (repo: string, ref: string) => have.has(`${repo} ${hexOf(ref)}`);
  const add = (repo: string, ...refs: string[]) => refs.forEach((ref) => have.add(`${repo} ${hexOf(ref)}`));
  for (const r of requests) {
    const uri = fix(r.uri);
    const t = target(uri);
    const digest = fix(r.resp_headers['Docker-Content-Digest'] ?? '');
    if (t.kind === 'uploads' && r.status === 201) {
      const mount = query(uri).get('mount')!;
      const from = query(uri).get('from')!;
      if (!holds(from, mount)) prior.push({ kind: 'blob', repo: from, hex: hexOf(mount) });
      add(from, mount);
      add(t.repo, mount);
    } else if (t.kind === 'upload' && r.status === 201) {
      add(t.repo, query(uri).get('digest')!);
    } else if (t.kind === 'manifest' && r.method === 'PUT' && r.status === 201) {
      add(t.repo, t.ref, digest);
    } else if ((t.kind === 'blob' || t.kind === 'manifest') && r.status === 200 && !holds(t.repo, t.ref)) {
      const byTag = !t.ref.startsWith('sha256:');
      prior.push(t.kind === 'blob' ? { kind: 'blob', repo: t.repo, hex: hexOf(t.ref) } : { kind: 'manifest', repo: t.repo, tag: byTag ? t.ref : undefined, hex: hexOf(digest) });
      add(t.repo, t.ref, digest);
      if (t.kind === 'manifest') add(t.repo, ...references(pool.get(hexOf(digest))));
    }
  }
  return prior;
}

/** The digests a manifest names (config, layers, or index entries): pushing the manifest needs them first. */
function references(manifest: Buffer | undefined): string[] {
  if (!manifest) return [];
  const m = JSON.parse(manifest.toString('utf8')) as { config?: { digest: string }; layers?: { digest: string }[]; manifests?: { digest: string }[] };
  return [m.config, ...(m.layers ?? []), ...(m.manifests ?? [])].flatMap((d) => (d ? [d.digest] : []));
}

export class Replayer {
  /** Cairn's Location for each upload, by the id the reference gave it, and the query keys of the reference's Location. */
  private readonly uploads = new Map<string, { location: string; recordedKeys: Set<string> }>();

  constructor(
    private readonly baseUrl: string,
    private readonly pool: BlobPool,
  ) {}

  private body(hex: string, what: string): Buffer {
    const bytes = this.pool.get(hex);
    assert.ok(bytes, `${what}: no fixture bytes for sha256:${hex}`);
    return bytes;
  }

  /** Pushes what an earlier scenario left behind (see priorState), with ordinary monolithic uploads. */
  async seed(prior: Prior[]): Promise<void> {
    for (const p of prior) {
      const bytes = this.body(p.hex, `seeding ${p.repo}`);
      if (p.kind === 'blob') {
        await pushBlob(this.baseUrl, p.repo, blobOf(bytes));
        continue;
      }
      for (const d of references(bytes)) await pushBlob(this.baseUrl, p.repo, blobOf(this.body(hexOf(d), `seeding ${p.repo}`)));
      const { mediaType } = JSON.parse(bytes.toString('utf8')) as { mediaType: string };
      await putManifest(this.baseUrl, p.repo, p.tag ?? `sha256:${p.hex}`, bytes, mediaType, 201);
    }
  }

  /** Sends one recorded request as BuildKit sent it and checks the answer against the reference's. */
  async replay(r: Recorded, where: string): Promise<void> {
    const uri = this.pool.fix(r.uri);
    const want = Object.fromEntries(Object.entries(r.resp_headers).map(([k, v]) => [k.toLowerCase(), this.pool.fix(v)]));
    const t = target(uri);
    const what = `${where} #${r.seq} ${r.method} ${uri}`;
    const url = t.kind === 'upload' ? this.uploadUrl(t.ref, uri, what) : new URL(uri, this.baseUrl);

    // Bodies: a blob PUT carries the blob named by its ?digest=, a manifest PUT the manifest the reference
    // answered with Docker-Content-Digest.
    let body: Buffer | undefined;
    if (r.method === 'PUT') {
      body = this.body(t.kind === 'upload' ? hexOf(url.searchParams.get('digest')) : hexOf(want['docker-content-digest']), what);
      assert.equal(body.length, r.req_body_bytes, `${what}: fixture body size`);
    }

    // The proxy logged the headers that matter; Go's transport also asked for gzip on every non-HEAD request.
    const headers = r.method === 'HEAD' ? r.req_headers : { ...r.req_headers, 'Accept-Encoding': 'gzip' };
    const res = await http(r.method, url.toString(), { headers, body });
    assert.equal(res.status, r.status, `${what}: status (Cairn answered ${res.status} ${res.text().slice(0, 300)})`);

    if (want['docker-content-digest']) {
      assert.equal(res.headers['docker-content-digest'], want['docker-content-digest'], `${what}: Docker-Content-Digest`);
    }
    if (r.status === 200) assert.equal(res.headers['content-length'], want['content-length'], `${what}: Content-Length`);
    // BuildKit takes a manifest's media type from this Content-Type; for blobs it ignores it.
    if (r.status === 200 && t.kind === 'manifest') assert.equal(res.headers['content-type'], want['content-type'], `${what}: Content-Type`);
    if (want.location) {
      assert.ok(res.headers.location, `${what}: no Location`);
      if (r.status === 202) {
        const recorded = new URL(want.location);
        const id = recorded.pathname.split('/').pop()!;
        this.uploads.set(id, { location: res.headers.location, recordedKeys: new Set(recorded.searchParams.keys()) });
      } else {
        const path = new URL(res.headers.location, this.baseUrl).pathname;
        assert.equal(path, new URL(want.location).pathname, `${what}: Location`);
      }
    }
    if (r.method === 'HEAD') assert.equal(res.body.length, 0, `${what}: HEAD with a body`);
    if (r.method === 'GET' && r.status === 200) {
      assert.equal(res.body.length, r.resp_body_bytes, `${what}: body length`);
      assert.ok(res.body.equals(this.body(hexOf(want['docker-content-digest']), what)), `${what}: body differs from the fixture blob`);
    }
  }

  /**
   * The URL of an upload's PUT: Cairn's own Location (upload ids and state differ from the reference's), plus
   * the query parameters BuildKit appended to the reference's Location (`digest`).
   */
  private uploadUrl(recordedId: string, uri: string, what: string): URL {
    const upload = this.uploads.get(recordedId);
    assert.ok(upload, `${what}: the POST that started this upload got no Location`);
    const url = new URL(upload.location, this.baseUrl);
    for (const [key, value] of query(uri)) if (!upload.recordedKeys.has(key)) url.searchParams.append(key, value);
    return url;
  }

  /** Each tag resolves as BuildKit resolves it (HEAD by tag) to the recorded digest, media type and size. */
  async checkTags(tags: RecordedTag[]): Promise<void> {
    for (const tag of tags) {
      const at = tag.ref.lastIndexOf(':');
      const [repo, name] = [tag.ref.slice(0, at), tag.ref.slice(at + 1)];
      const digest = this.pool.fix(tag.digest);
      const headers = { Accept: RESOLVE_ACCEPT, 'User-Agent': 'buildkit/v0.24' };
      const head = await http('HEAD', `${this.baseUrl}/v2/${repo}/manifests/${name}`, { headers });
      assert.equal(head.status, 200, `HEAD ${tag.ref}`);
      assert.equal(head.headers['docker-content-digest'], digest, `${tag.ref}: digest`);
      assert.equal(head.headers['content-type'], tag.servedContentType ?? tag.mediaType, `${tag.ref}: Content-Type`);
      assert.equal(head.headers['content-length'], String(tag.size), `${tag.ref}: Content-Length`);
      const get = await http('GET', `${this.baseUrl}/v2/${repo}/manifests/${name}`, { headers });
      assert.ok(get.body.equals(this.body(hexOf(digest), tag.ref)), `${tag.ref}: manifest bytes`);
      assert.equal((get.json() as { mediaType: string }).mediaType, tag.mediaType, `${tag.ref}: mediaType`);
    }
  }
}
