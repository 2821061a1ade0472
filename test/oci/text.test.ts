/** What counts as storable text in a manifest, and how the offending field is named. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseManifest } from '../../src/oci/manifest.js';
import { findTextFault, textFault } from '../../src/oci/text.js';

test('U+0000 and unpaired surrogates are not text; everything else is', () => {
  assert.equal(textFault('a\u0000b'), 'contains U+0000');
  assert.equal(textFault('\ud800'), 'contains an unpaired UTF-16 surrogate');
  assert.equal(textFault('x\udc00'), 'contains an unpaired UTF-16 surrogate');
  assert.equal(textFault('\udc00\ud800'), 'contains an unpaired UTF-16 surrogate');
  for (const ok of ['', 'plain', '\ud83d\ude00', '\uffff\ufffe', '\u0001\u001f\u007f', '\u202e\u0301', 'é'.repeat(1000)]) {
    assert.equal(textFault(ok), undefined, JSON.stringify(ok));
  }
});

test('the first fault in document order is named by its path', () => {
  const doc = JSON.parse('{"a":[1,{"b":"ok","c d":"\\u0000"}],"z":"\\ud800"}');
  assert.deepEqual(findTextFault(doc), { path: 'a[1]["c d"]', fault: 'contains U+0000' });
  assert.deepEqual(findTextFault(JSON.parse('{"k\\u0000":1}')), { path: '["k\\u0000"]', fault: 'has a member name that contains U+0000' });
  assert.deepEqual(findTextFault('\ud800'), { path: '(document)', fault: 'contains an unpaired UTF-16 surrogate' });
  assert.equal(findTextFault({ a: [{ b: ['fine'] }], n: null, t: true }), undefined);
});

test('nesting deeper than the call stack is walked without overflow', () => {
  const deep = JSON.parse(`${'['.repeat(200_000)}"\\u0000"${']'.repeat(200_000)}`);
  assert.equal(findTextFault(deep)?.fault, 'contains U+0000');
});

test('parseManifest refuses non-UTF-8 bytes and non-text strings, naming the field', () => {
  const manifest = (annotation: string) =>
    Buffer.from(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"annotations":{"x":"${annotation}"}}`);
  assert.deepEqual(parseManifest(manifest('\\u0000'), ''), { ok: false, reason: 'annotations.x contains U+0000, which the registry cannot store', field: 'annotations.x' });
  assert.equal(parseManifest(manifest('\\ud83d\\ude00'), '').ok, true);
  const latin1 = manifest('XX');
  latin1[latin1.indexOf('XX')] = 0xe9;
  assert.deepEqual(parseManifest(latin1, ''), { ok: false, reason: 'manifest is not valid UTF-8' });
  assert.deepEqual(parseManifest(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), manifest('a')]), ''), { ok: false, reason: 'manifest is not valid JSON' });
});
