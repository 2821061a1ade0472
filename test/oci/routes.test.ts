/** The OCI routing helpers: targets to routes, `Allow`, and the `%` escaping done for Fastify's router. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allowHeader, routeOfTarget } from '../../src/http/oci/path.js';
import { escapeOciPath } from '../../src/http/server.js';

test('targets map to routes from the raw path; anything else is no route', () => {
  assert.deepEqual(routeOfTarget('/v2/'), { kind: 'base' });
  assert.deepEqual(routeOfTarget('/v2?x=1'), { kind: 'base' });
  assert.deepEqual(routeOfTarget('/v2/a/b/manifests/v1?x'), { kind: 'manifest', name: 'a/b', reference: 'v1' });
  assert.deepEqual(routeOfTarget('/v2/%FF/tags/list'), { kind: 'tags', name: '%FF' });
  for (const target of ['/v%32/', '/v2/a/tags/list/', '/v2/a/manifests/v1/', '/v3/', '*', 'example.com:443', '']) {
    assert.equal(routeOfTarget(target), undefined, target);
  }
});

test('Allow lists exactly the methods a route serves', () => {
  assert.equal(allowHeader({ kind: 'manifest', name: 'a', reference: 'v1' }), 'GET, HEAD, PUT, DELETE');
  assert.equal(allowHeader({ kind: 'uploads', name: 'a' }), 'POST');
});

test('only /v2/ paths have % escaped, and only in the path', () => {
  assert.equal(escapeOciPath('/v2/%FF/tags/list?last=%00'), '/v2/%25FF/tags/list?last=%00');
  assert.equal(escapeOciPath('/v2/a/tags/list'), '/v2/a/tags/list');
  assert.equal(escapeOciPath('/api/v1/%FF'), '/api/v1/%FF');
});
