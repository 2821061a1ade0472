/**
 * /metrics after real traffic: a push and pull over HTTP against a started server, then the
 * request, latency, byte, upload, storage and database series are read back from the scrape, and
 * the counts must have moved by what the traffic did. Labels must stay bounded: no repository
 * name, digest or upload id in any request or storage series.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { http } from '../support/http.js';
import { makeImage, pushImage, randomBlob, OCI_MANIFEST } from '../support/oci.js';
import { testStorage } from '../support/s3.js';
import { describeOnEachDatabase } from '../support/suite.js';

type Samples = Map<string, number>;

/** Every sample of the exposition text, keyed by `name{labels}` exactly as written. */
function parse(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const cut = line.lastIndexOf(' ');
    samples.set(line.slice(0, cut), Number(line.slice(cut + 1)));
  }
  return samples;
}

async function scrape(base: string): Promise<{ text: string; samples: Samples }> {
  const response = await http('GET', `${base}/metrics`);
  assert.equal(response.status, 200);
  const text = response.text();
  return { text, samples: parse(text) };
}

function key(name: string, labels: Record<string, string>): string {
  const inner = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');
  return `${name}{${inner}}`;
}

const value = (samples: Samples, name: string, labels: Record<string, string>) => samples.get(key(name, labels)) ?? 0;

describeOnEachDatabase('metrics', (ctx) => {
  test('a push and a pull move the request, byte, storage and database series, with bounded labels', async () => {
    const backend = testStorage();
    const name = 'metrics/secret-project';
    const before = (await scrape(ctx.base)).samples;

    const image = makeImage({ layers: 2 });
    await pushImage(ctx.base, name, image, 'v1');
    // A chunked upload (no Content-Length): its bytes are counted where they are stored.
    const chunked = randomBlob(4096);
    const start = await http('POST', `${ctx.base}/v2/${name}/blobs/uploads/`);
    assert.equal(start.status, 202);
    const location = new URL(start.headers.location!, ctx.base);
    const patch = await http('PATCH', location.toString(), {
      headers: { 'content-type': 'application/octet-stream' },
      body: (async function* () {
        yield chunked.bytes.subarray(0, 1000);
        yield chunked.bytes.subarray(1000);
      })(),
    });
    assert.equal(patch.status, 202, patch.text());
    location.searchParams.set('digest', chunked.digest);
    assert.equal((await http('PUT', location.toString())).status, 201);

    const manifest = await http('GET', `${ctx.base}/v2/${name}/manifests/v1`, { headers: { accept: OCI_MANIFEST } });
    assert.equal(manifest.status, 200);
    for (const layer of image.layers) assert.equal((await http('GET', `${ctx.base}/v2/${name}/blobs/${layer.digest}`)).status, 200);
    assert.equal((await http('HEAD', `${ctx.base}/v2/${name}/blobs/${chunked.digest}`)).status, 200);
    const caches = await http('GET', `${ctx.base}/api/v1/repositories/${name}/caches`);
    assert.equal(caches.status, 200, caches.text());
    const missing = `sha256:${'0'.repeat(64)}`;
    assert.equal((await http('GET', `${ctx.base}/v2/${name}/blobs/${missing}`)).status, 404);

    const { text, samples: after } = await scrape(ctx.base);
    const moved = (metric: string, labels: Record<string, string>) => value(after, metric, labels) - value(before, metric, labels);

    // Requests by route template, method and status.
    const requests = 'cairn_http_requests_total';
    assert.equal(moved(requests, { route: '/v2/{name}/manifests/{reference}', method: 'PUT', status: '201' }), 1);
    assert.equal(moved(requests, { route: '/v2/{name}/manifests/{reference}', method: 'GET', status: '200' }), 1);
    assert.equal(moved(requests, { route: '/v2/{name}/blobs/uploads/', method: 'POST', status: '202' }), 4);
    assert.equal(moved(requests, { route: '/v2/{name}/blobs/uploads/{id}', method: 'PUT', status: '201' }), 4);
    assert.equal(moved(requests, { route: '/v2/{name}/blobs/uploads/{id}', method: 'PATCH', status: '202' }), 1);
    assert.equal(moved(requests, { route: '/v2/{name}/blobs/{digest}', method: 'GET', status: '200' }), 2);
    assert.equal(moved(requests, { route: '/v2/{name}/blobs/{digest}', method: 'HEAD', status: '200' }), 1);
    assert.equal(moved(requests, { route: '/v2/{name}/blobs/{digest}', method: 'GET', status: '404' }), 1);
    assert.ok(value(after, requests, { route: '/metrics', method: 'GET', status: '200' }) >= 1, 'the first scrape is counted');
    // The admin API routes repositories under one wildcard; the label is still the template.
    assert.equal(moved(requests, { route: '/api/v1/repositories/{name}/caches', method: 'GET', status: '200' }), 1);

    // Latency: every observation lands in the +Inf bucket and the count agrees with the requests.
    const blobGets = value(after, 'cairn_http_request_duration_seconds_count', { route: '/v2/{name}/blobs/{digest}', method: 'GET' });
    assert.equal(blobGets - value(before, 'cairn_http_request_duration_seconds_count', { route: '/v2/{name}/blobs/{digest}', method: 'GET' }), 3);
    assert.equal(value(after, 'cairn_http_request_duration_seconds_bucket', { le: '+Inf', route: '/v2/{name}/blobs/{digest}', method: 'GET' }), blobGets);

    // Bytes: the layers served (the HEAD and the 404's error body aside: at least the layers),
    // the monolithic bodies received, and every byte written to storage including the chunked one.
    const layerBytes = image.layers.reduce((sum, l) => sum + l.size, 0);
    const served = moved('cairn_http_served_bytes_total', { route: '/v2/{name}/blobs/{digest}' });
    assert.ok(served >= layerBytes && served < layerBytes + 1024, `served ${served}, layers ${layerBytes}`);
    assert.equal(moved('cairn_http_served_bytes_total', { route: '/v2/{name}/manifests/{reference}' }), image.manifest.size);
    const monolithic = image.config.size + layerBytes;
    assert.equal(moved('cairn_http_received_bytes_total', { route: '/v2/{name}/blobs/uploads/{id}' }), monolithic);
    assert.equal(moved('cairn_storage_written_bytes_total', { backend }), monolithic + chunked.size);
    assert.equal(value(after, 'cairn_uploads_in_flight', {}), 0);

    // Storage operations by backend and operation; a missing blob is an answer, not an error.
    assert.equal(moved('cairn_storage_operations_total', { backend, operation: 'commit_upload' }), 4);
    assert.equal(moved('cairn_storage_operations_total', { backend, operation: 'append_upload' }), 4);
    assert.ok(moved('cairn_storage_operations_total', { backend, operation: 'read' }) >= 2);
    assert.equal(moved('cairn_storage_errors_total', { backend, operation: 'read' }), 0);
    assert.ok(value(after, 'cairn_storage_operation_duration_seconds_count', { backend, operation: 'commit_upload' }) >= 4);

    // Database pool use, read at scrape time.
    assert.ok(value(after, 'cairn_db_connections', { database: ctx.database }) >= 1, text.split('\n').filter((l) => l.startsWith('cairn_db')).join('\n'));
    assert.ok(after.has(key('cairn_db_waiting', { database: ctx.database })));
    assert.ok(after.has(key('cairn_db_connections_idle', { database: ctx.database })));

    // Bounded labels: nothing of the repository, digests or upload ids in request or storage series.
    const bounded = text.split('\n').filter((l) => /^cairn_(http|storage)_/.test(l));
    assert.ok(bounded.length > 0);
    for (const line of bounded) {
      assert.doesNotMatch(line, /secret-project|sha256:|[0-9a-f]{8}-[0-9a-f]{4}-/, line);
    }
  });

  test('paths no route claims are counted as unmatched', async () => {
    const before = (await scrape(ctx.base)).samples;
    assert.equal((await http('GET', `${ctx.base}/no/such/path-${Date.now()}`)).status, 404);
    const after = (await scrape(ctx.base)).samples;
    const labels = { route: 'unmatched', method: 'GET', status: '404' };
    assert.equal(value(after, 'cairn_http_requests_total', labels) - value(before, 'cairn_http_requests_total', labels), 1);
  });
});
