/** The collector's rules, with an injected clock: no database, no storage. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decideBlob, decideManifest, decideOrphan } from '../../src/gc/index.js';
import { parseDuration } from '../../src/config/gc.js';

const DELAY = 60_000;
const now = new Date('2026-06-01T12:00:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms);
const unreferenced = { tags: 0, parents: 0, subjectPresent: false };

describe('decideManifest', () => {
  test('an untagged manifest with no parent and no subject is deleted once one delay old', () => {
    assert.deepEqual(decideManifest(ago(DELAY), unreferenced, now, DELAY), { delete: true });
    assert.deepEqual(decideManifest(ago(DELAY * 10), unreferenced, now, DELAY), { delete: true });
  });

  test('a younger one is kept until pushedAt + delay (a multi-arch child waiting for its index)', () => {
    const verdict = decideManifest(ago(DELAY - 1), unreferenced, now, DELAY);
    assert.deepEqual(verdict, { delete: false, reason: 'young', until: new Date(now.getTime() + 1) });
  });

  test('a tag, a parent index or a present subject keeps it, whatever its age', () => {
    const old = ago(DELAY * 100);
    assert.deepEqual(decideManifest(old, { ...unreferenced, tags: 2 }, now, DELAY), { delete: false, reason: 'tagged' });
    assert.deepEqual(decideManifest(old, { ...unreferenced, parents: 1 }, now, DELAY), { delete: false, reason: 'in_index' });
    assert.deepEqual(decideManifest(old, { ...unreferenced, subjectPresent: true }, now, DELAY), { delete: false, reason: 'has_subject' });
  });

  test('a tag wins over youth (reported reason is the reference)', () => {
    assert.deepEqual(decideManifest(now, { ...unreferenced, tags: 1 }, now, DELAY), { delete: false, reason: 'tagged' });
  });
});

describe('decideBlob', () => {
  test('referenced by any manifest: kept, however old its last link', () => {
    assert.deepEqual(decideBlob({ manifests: 1, lastLinkedAt: ago(DELAY * 100) }, now, DELAY), { delete: false, reason: 'referenced' });
    assert.deepEqual(decideBlob({ manifests: 3, lastLinkedAt: null }, now, DELAY), { delete: false, reason: 'referenced' });
  });

  test('unreferenced and linked less than a delay ago (a push in flight): kept until the link is one delay old', () => {
    const linked = ago(1_000);
    assert.deepEqual(decideBlob({ manifests: 0, lastLinkedAt: linked }, now, DELAY), {
      delete: false,
      reason: 'young',
      until: new Date(linked.getTime() + DELAY),
    });
  });

  test('unreferenced, last linked a delay ago or more, or not linked at all: deleted', () => {
    assert.deepEqual(decideBlob({ manifests: 0, lastLinkedAt: ago(DELAY) }, now, DELAY), { delete: true });
    assert.deepEqual(decideBlob({ manifests: 0, lastLinkedAt: null }, now, DELAY), { delete: true });
  });

  test('the clock decides: the same facts flip from kept to deleted as time passes', () => {
    const facts = { manifests: 0, lastLinkedAt: new Date('2026-06-01T11:59:30Z') };
    assert.equal(decideBlob(facts, now, DELAY).delete, false);
    assert.equal(decideBlob(facts, new Date('2026-06-01T12:00:30Z'), DELAY).delete, true);
  });
});

describe('decideOrphan', () => {
  test('bytes without a row are deleted only once one delay old (an upload between commit and record is younger)', () => {
    assert.deepEqual(decideOrphan(ago(DELAY + 1), now, DELAY), { delete: true });
    assert.equal(decideOrphan(ago(DELAY - 1), now, DELAY).delete, false);
  });
});

describe('parseDuration', () => {
  test('units and bare seconds', () => {
    assert.equal(parseDuration('x', '90s'), 90_000);
    assert.equal(parseDuration('x', '5m'), 300_000);
    assert.equal(parseDuration('x', '24h'), 86_400_000);
    assert.equal(parseDuration('x', '2d'), 172_800_000);
    assert.equal(parseDuration('x', '250ms'), 250);
    assert.equal(parseDuration('x', '1.5h'), 5_400_000);
    assert.equal(parseDuration('x', '30'), 30_000);
    assert.equal(parseDuration('x', 0), 0);
  });

  test('anything else is refused with the setting named', () => {
    for (const bad of ['', 'soon', '5 minutes', '-1s', '1w', '1e3s']) {
      assert.throws(() => parseDuration('gcReviewDelay', bad), /gcReviewDelay must be a duration/);
    }
  });
});
