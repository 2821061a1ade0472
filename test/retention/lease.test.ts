/**
 * The policy lease, on both databases: of several claimants exactly one gets a policy, the
 * lease ends with release (which schedules the next run), and a lapsed lease can be taken over.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { openTestDatabase, type TestMetadataDatabase } from '../support/databases.js';
import { testDatabases } from '../support/registry.js';

for (const kind of testDatabases()) {
  describe(`retention policy lease on ${kind}`, () => {
    let t: TestMetadataDatabase;
    before(async () => {
      t = await openTestDatabase(kind);
    });
    after(async () => {
      await t?.close();
    });

    test('one claimant at a time; release schedules the next run', async () => {
      const store = t.metadata.stores.retention;
      await store.savePolicy('p', { repositories: ['**'] }, 60);
      assert.deepEqual(await store.duePolicies(), [], 'first run is one interval away');
      await sql`UPDATE retention_policies SET next_run_at = now() - interval '1 second'`.execute(t.metadata.db);
      assert.deepEqual(await store.duePolicies(), ['p']);
      const claims = await Promise.all(['a', 'b', 'c', 'd'].map((owner) => store.claim('p', owner, 600)));
      assert.equal(claims.filter(Boolean).length, 1, 'exactly one replica wins');
      assert.deepEqual(await store.duePolicies(), [], 'a held policy is not due');
      const winner = ['a', 'b', 'c', 'd'][claims.indexOf(true)]!;
      await store.release('p', winner === 'a' ? 'b' : 'a');
      assert.equal(await store.claim('p', 'z', 600), false, 'only the owner releases');
      await store.release('p', winner);
      assert.deepEqual(await store.duePolicies(), [], 'the next run is an interval away');
      assert.equal(await store.claim('p', 'z', 600), true);
    });

    test('a lapsed lease (a replica died mid-run) can be taken over', async () => {
      const store = t.metadata.stores.retention;
      await store.savePolicy('q', { repositories: ['**'] }, null);
      assert.equal(await store.claim('q', 'dead', 600), true);
      assert.equal(await store.claim('q', 'alive', 600), false);
      await sql`UPDATE retention_policies SET lease_until = now() - interval '1 second' WHERE name = 'q'`.execute(t.metadata.db);
      assert.equal(await store.claim('q', 'alive', 600), true);
    });
  });
}
