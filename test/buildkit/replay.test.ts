/**
 * Replays what real BuildKit v0.24 sent the reference registry (test/fixtures/buildkit/) against a fresh Cairn,
 * for every scenario and database: the same requests in the same order, the same headers and bodies, and every
 * answer compared with the reference's — status, Docker-Content-Digest, Content-Length, Content-Type of
 * manifests, Location, and byte-exact bodies of everything BuildKit read (manifests, cacheconfigs, configs,
 * layers). After the runs the tags must hold the recorded digests.
 *
 * Per scenario: base image push (base/requests-export), then what earlier scenarios left in the reference
 * registry, then each recorded run: export, import, change (third run); or the numbered steps of g-two-refs,
 * h-overwrite (each export replaces the tag: after-step1..3 snapshots, last writer wins) and i-cross-repo
 * (image push mounts lazily imported layers from app/cache: the recorded mounts answered 201).
 * f-local exports to a local OCI layout: its only registry traffic is resolving the FROM image, replayed as is.
 * j-tls-fallback is not replayed here: it stores no blobs, and its point is TLS hellos on the plain-HTTP port.
 *
 * Where the reference answered differently from the spec it would be noted next to the check; in these
 * recordings it never did (every answer is one the distribution spec prescribes).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startCairn, testDatabases } from '../support/registry.js';
import { loadBlobPool, loadScenario, scenarioNames } from './fixtures.js';
import { priorState, Replayer } from './replayer.js';

const pool = loadBlobPool();
const base = loadScenario('base');

for (const database of testDatabases()) {
  describe(`BuildKit request replay (${database})`, () => {
    for (const name of scenarioNames()) {
      test(name, async (t) => {
        const scenario = loadScenario(name);
        const cairn = await startCairn({ database });
        t.after(() => cairn.stop());
        const replayer = new Replayer(cairn.url, pool);
        const baseRequests = base.steps.flatMap((s) => s.requests);
        const requests = scenario.steps.flatMap((s) => s.requests);
        if (!scenario.finalTags) {
          // No registry tags (f-local writes an OCI layout): then BuildKit only resolved the FROM image.
          assert.ok(requests.every((r) => r.uri.startsWith('/v2/base/busybox/')), 'registry traffic besides FROM');
        }

        await t.test('push base image', async () => {
          for (const r of baseRequests) await replayer.replay(r, 'base/export');
        });
        await t.test('state left by earlier scenarios', () => replayer.seed(priorState([...baseRequests, ...requests], pool)));
        for (const step of scenario.steps) {
          await t.test(step.name, async () => {
            for (const r of step.requests) await replayer.replay(r, `${name}/${step.name}`);
            if (step.tagsAfter) await replayer.checkTags(step.tagsAfter);
          });
        }
        if (scenario.finalTags) await t.test('final tags', () => replayer.checkTags(scenario.finalTags!));
      });
    }
  });
}
