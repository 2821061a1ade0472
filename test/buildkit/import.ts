/**
 * BuildKit's import of a registry cache, replayed against any cache tag: the request sequence and headers
 * recorded from BuildKit v0.24 (h-overwrite, step 4: a full build importing the cache), with the recorded
 * cache reference swapped for the one under test:
 *
 *   HEAD manifests/<tag>      resolve (Accept: every manifest type), read Docker-Content-Digest
 *   GET  manifests/<digest>   the manifest, by the digest the HEAD gave
 *   GET  blobs/<cacheconfig>  Accept: the cacheconfig media type, then any
 *   GET  blobs/<layer>        Accept: the layer's media type, then any — lazily, only the layers a step needs
 *
 * Every answer is checked as BuildKit depends on it: status, Docker-Content-Digest, Content-Type of the
 * manifest, and each body against its digest. Layers: the ones the recorded build fetched from the cache
 * repository (`recorded`: the deps stage's four; its base layer came with the FROM image, from
 * base/busybox), or every layer the cacheconfig names (`all`: a build that needs all of them).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { http } from '../support/http.js';
import { sha256 } from '../support/oci.js';
import { FIXTURES, loadScenario, type Recorded } from './fixtures.js';

const RECORDED_REPOSITORY = '/v2/app/cache/';

export interface ImportedCache {
  digest: string;
  manifest: Buffer;
  config: Buffer;
  /** Layer blobs fetched, by digest. */
  layers: Map<string, Buffer>;
}

interface RawManifest {
  mediaType: string;
  config: { mediaType: string; digest: string };
  layers: Array<{ mediaType: string; digest: string }>;
}

function recordedImport(): Recorded[] {
  const step = loadScenario('h-overwrite').steps.find((s) => s.name === '4-full-import-X');
  assert.ok(step, `no recorded import under ${join(FIXTURES, 'h-overwrite')}`);
  return step.requests.filter((r) => r.uri.startsWith(RECORDED_REPOSITORY));
}

/** The recorded layer fetches from the cache repository: their digests, in order. */
export function recordedLayerFetches(): string[] {
  const [, , config, ...layers] = recordedImport();
  assert.ok(config && /cacheconfig/.test(config.req_headers.Accept ?? ''), 'the third cache request is the cacheconfig');
  return layers.map((r) => r.uri.split('/').pop()!);
}

export async function importLikeBuildKit(base: string, repository: string, tag: string, layers: 'recorded' | 'all'): Promise<ImportedCache> {
  const [head, get, configGet, layerGet] = recordedImport();
  assert.ok(head?.method === 'HEAD' && get?.method === 'GET' && configGet && layerGet, 'recorded import: HEAD, GET manifest, GET cacheconfig, GET layers');
  const url = (path: string) => `${base}/v2/${repository}/${path}`;

  const resolved = await http('HEAD', url(`manifests/${tag}`), { headers: head.req_headers });
  assert.equal(resolved.status, 200, `HEAD ${repository}:${tag}`);
  const digest = resolved.headers['docker-content-digest'];
  assert.ok(digest, 'HEAD answers Docker-Content-Digest');

  const fetched = await http('GET', url(`manifests/${digest}`), { headers: { ...get.req_headers, 'Accept-Encoding': 'gzip' } });
  assert.equal(fetched.status, 200, `GET manifest ${digest}`);
  assert.equal(sha256(fetched.body), digest, 'the manifest matches the digest the HEAD gave');
  assert.equal(fetched.headers['content-type'], resolved.headers['content-type'], 'BuildKit takes the media type from Content-Type');
  const manifest = JSON.parse(fetched.body.toString('utf8')) as RawManifest;
  assert.equal(manifest.config.mediaType, 'application/vnd.buildkit.cacheconfig.v0');

  const config = await http('GET', url(`blobs/${manifest.config.digest}`), { headers: { ...configGet.req_headers, 'Accept-Encoding': 'gzip' } });
  assert.equal(config.status, 200, `GET cacheconfig ${manifest.config.digest}`);
  assert.equal(sha256(config.body), manifest.config.digest, 'the cacheconfig matches its digest');

  const listed = new Map(manifest.layers.map((d) => [d.digest, d.mediaType]));
  const wanted = layers === 'all' ? [...listed.keys()] : recordedLayerFetches();
  const out = new Map<string, Buffer>();
  for (const layer of wanted) {
    const mediaType = listed.get(layer);
    assert.ok(mediaType, `layer ${layer} is listed in the manifest`);
    const headers = { ...layerGet.req_headers, Accept: `${mediaType}, */*`, 'Accept-Encoding': 'gzip' };
    const blob = await http('GET', url(`blobs/${layer}`), { headers });
    assert.equal(blob.status, 200, `GET layer ${layer}`);
    assert.equal(sha256(blob.body), layer, `layer ${layer} reads back byte-exact`);
    out.set(layer, blob.body);
  }
  return { digest, manifest: fetched.body, config: config.body, layers: out };
}
