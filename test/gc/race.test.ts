/**
 * Garbage collection racing pushes. The collector runs every 250 ms with a 3 s review delay while
 * 8 clients push new images, re-push old ones (whose blobs may have been collected meanwhile),
 * mount and re-upload shared layers, skip uploads of blobs they find present, and delete tags,
 * for CAIRN_GC_RACE_SECONDS (default 120). Then:
 *   - every tag points at the manifest last acknowledged for it, and every blob of it reads back
 *     byte-exact (nothing a client was told is stored was lost);
 *   - once the delay has passed and a pass has run, storage holds exactly the blobs of those
 *     manifests and of the base image: every unreferenced byte older than the delay is gone;
 *   - no request got a 5xx, and no review failed (no deadlock, no foreign-key surprise).
 * Clients pause up to a third of the delay between their last blob and the manifest, as BuildKit
 * does between layers and manifest. A manifest PUT may legitimately be refused only when a client
 * skipped uploading a blob it found present, more than one delay after that blob's last link,
 * while nothing referenced it (src/gc/index.ts). Here the only blobs clients skip are the shared
 * layers, which the base image references throughout: so no refusal is expected, and one fails
 * the test.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { errorCode, http } from '../support/http.js';
import { OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, blobOf, descriptorOf, pushImage, type Blob, type ImageParts } from '../support/oci.js';
import { testDatabases } from '../support/registry.js';
import { testStorage } from '../support/s3.js';
import { assertBlobReadsBack, gcStatus, runGc, sleep, startGcServer, type GcServer } from './support.js';

const SECONDS = Number(process.env.CAIRN_GC_RACE_SECONDS ?? 120);
const CLIENTS = 8;
const DELAY_MS = 3_000;
const TAGS = ['t0', 't1', 't2'];
const BASE_REPO = 'race/base';

interface Counters {
  pushes: number;
  repushes: number;
  deletes: number;
  mounts: number;
  skippedUploads: number;
  refused: number;
  failures: string[];
}

for (const database of testDatabases()) {
  describe(`garbage collection racing pushes [${database}, ${testStorage()}] (${SECONDS}s)`, { timeout: (SECONDS + 180) * 1000 }, () => {
    let gc: GcServer;
    before(async () => {
      gc = await startGcServer(database, testStorage(), {
        CAIRN_GC_REVIEW_DELAY: `${DELAY_MS}ms`,
        CAIRN_GC_INTERVAL: '250ms',
        CAIRN_GC_SWEEP_INTERVAL: '1s',
      });
    });
    after(async () => {
      await gc?.stop();
    });

    test('every acknowledged manifest keeps its blobs; every unreferenced byte goes', async () => {
      const base = gc.base;
      const shared = Array.from({ length: 4 }, () => blobOf(randomBytes(2048 + randomInt(4096))));
      const baseImage = image(shared);
      await pushImage(base, BASE_REPO, baseImage, 'latest');

      const counters: Counters = { pushes: 0, repushes: 0, deletes: 0, mounts: 0, skippedUploads: 0, refused: 0, failures: [] };
      const deadline = Date.now() + SECONDS * 1000;
      const clients = Array.from({ length: CLIENTS }, (_, i) => new RaceClient(base, `race/c${i}`, shared, counters));
      await Promise.all(clients.map((c) => c.run(deadline)));
      assert.deepEqual(counters.failures.slice(0, 20), [], `requests failed: ${counters.failures.length}`);
      assert.ok(counters.pushes > CLIENTS, `the clients pushed (${JSON.stringify({ ...counters, failures: counters.failures.length })})`);

      // Nothing acknowledged was lost.
      const expected = new Set([baseImage.config, ...shared].map((b) => b.digest));
      for (const client of clients) {
        for (const [tag, pushed] of client.tagged) {
          const response = await http('GET', `${base}/v2/${client.repo}/manifests/${tag}`, { headers: { accept: OCI_MANIFEST } });
          assert.equal(response.status, 200, `${client.repo}:${tag}`);
          assert.equal(response.headers['docker-content-digest'], pushed.manifest.digest, `${client.repo}:${tag} points at the last acknowledged push`);
          for (const blob of [pushed.config, ...pushed.layers]) {
            await assertBlobReadsBack(base, client.repo, blob.digest, blob.bytes);
            expected.add(blob.digest);
          }
        }
      }

      // Every unreferenced byte older than the delay goes: wait it out, then one pass (with sweep).
      await sleep(DELAY_MS + 500);
      await runGc(base);
      const stored = await gc.storedDigests();
      const leftover = [...stored].filter((d) => !expected.has(d));
      const missing = [...expected].filter((d) => !stored.has(d));
      assert.deepEqual(missing, [], 'blobs of tagged manifests are all stored');
      assert.deepEqual(leftover, [], 'no unreferenced blob outlives the delay');
      assert.equal((await gcStatus(base)).due, 0);

      const failedReviews = gc.server.logs.filter((line) => line.includes('garbage collection review failed') || line.includes('"level":50'));
      assert.deepEqual(failedReviews.slice(0, 5), [], 'no review failed and nothing was logged as an error');
      process.stdout.write(`# race: ${JSON.stringify({ ...counters, failures: counters.failures.length, stored: stored.size })}\n`);
    });
  });
}

/** One client: its own repository, three tags, and what it was told is stored under each. */
class RaceClient {
  readonly tagged = new Map<string, ImageParts>();
  private readonly history: ImageParts[] = [];
  /** When each image lost its last tag (as far as this client knows). */
  private readonly untaggedAt = new Map<ImageParts, number>();

  constructor(
    private readonly base: string,
    readonly repo: string,
    private readonly shared: readonly Blob[],
    private readonly counters: Counters,
  ) {}

  async run(deadline: number): Promise<void> {
    while (Date.now() < deadline && this.counters.failures.length < 20) {
      const roll = randomInt(100);
      if (roll < 60 || this.history.length === 0) await this.pushNew();
      else if (roll < 85) await this.repushOld();
      else await this.deleteTag();
    }
  }

  private async pushNew(): Promise<void> {
    const picked = this.shared.filter(() => randomInt(2) === 0).slice(0, 2);
    const layers = [...picked, blobOf(randomBytes(1024 + randomInt(32 * 1024)))];
    const pushed = image(layers);
    for (const blob of [pushed.config, ...layers]) {
      if (picked.includes(blob)) await this.sendShared(blob);
      else await this.upload(blob);
    }
    await this.putManifest(pushed);
    this.counters.pushes++;
  }

  /**
   * An image pushed before, perhaps untagged and collected since: every blob goes up again.
   * Half the time one untagged about one delay ago, which the collector is deleting right now
   * (with its blobs, in the same pass): the re-upload must keep those blobs.
   */
  private async repushOld(): Promise<void> {
    const now = Date.now();
    const ripe = this.history.filter((h) => Math.abs(now - (this.untaggedAt.get(h) ?? 0) - DELAY_MS) < 600);
    const pool = ripe.length > 0 && randomInt(2) === 0 ? ripe : this.history;
    const old = pool[randomInt(pool.length)]!;
    for (const blob of [old.config, ...old.layers]) await this.upload(blob);
    await this.putManifest(old);
    this.counters.repushes++;
  }

  private async deleteTag(): Promise<void> {
    const tag = [...this.tagged.keys()][randomInt(Math.max(1, this.tagged.size))];
    if (!tag) return;
    const response = await http('DELETE', `${this.base}/v2/${this.repo}/manifests/${tag}`);
    if (response.status !== 202) return this.fail(`DELETE tag ${tag}`, response.status, response.text());
    const previous = this.tagged.get(tag)!;
    this.tagged.delete(tag);
    this.noteUntagged(previous);
    this.counters.deletes++;
  }

  /** A shared layer arrives by mount, by upload (already stored: dedup), or not at all when present. */
  private async sendShared(blob: Blob): Promise<void> {
    const how = randomInt(3);
    if (how === 0) {
      const response = await http('POST', `${this.base}/v2/${this.repo}/blobs/uploads/?mount=${blob.digest}&from=${BASE_REPO}`);
      if (response.status === 201) {
        this.counters.mounts++;
        return;
      }
      if (response.status !== 202) return this.fail('mount', response.status, response.text());
      return this.finishUpload(response.headers.location!, blob);
    }
    if (how === 1) {
      const head = await http('HEAD', `${this.base}/v2/${this.repo}/blobs/${blob.digest}`);
      if (head.status === 200) {
        this.counters.skippedUploads++;
        return;
      }
      if (head.status !== 404) return this.fail('HEAD blob', head.status, '');
    }
    await this.upload(blob);
  }

  private async upload(blob: Blob): Promise<void> {
    const start = await http('POST', `${this.base}/v2/${this.repo}/blobs/uploads/`);
    if (start.status !== 202) return this.fail('POST upload', start.status, start.text());
    await this.finishUpload(start.headers.location!, blob);
  }

  private async finishUpload(location: string, blob: Blob): Promise<void> {
    const url = new URL(location, this.base);
    url.searchParams.set('digest', blob.digest);
    const put = await http('PUT', url.toString(), { headers: { 'content-type': 'application/octet-stream' }, body: blob.bytes });
    if (put.status !== 201) this.fail('PUT upload', put.status, put.text());
  }

  private async putManifest(pushed: ImageParts): Promise<void> {
    // BuildKit and others upload every layer, then (a while later) the manifest.
    if (randomInt(3) === 0) await sleep(randomInt(DELAY_MS / 3));
    const tag = TAGS[randomInt(TAGS.length)]!;
    const response = await http('PUT', `${this.base}/v2/${this.repo}/manifests/${tag}`, {
      headers: { 'content-type': OCI_MANIFEST },
      body: pushed.manifest.bytes,
    });
    if (response.status === 201) {
      const previous = this.tagged.get(tag);
      this.tagged.set(tag, pushed);
      this.untaggedAt.delete(pushed);
      if (previous && previous !== pushed) this.noteUntagged(previous);
      if (!this.history.includes(pushed)) this.history.push(pushed);
      return;
    }
    if (response.status === 400 && errorCode(response) === 'MANIFEST_BLOB_UNKNOWN') this.counters.refused++;
    this.fail(`PUT manifest ${tag}`, response.status, response.text());
  }

  private noteUntagged(image: ImageParts): void {
    if (![...this.tagged.values()].includes(image)) this.untaggedAt.set(image, Date.now());
  }

  private fail(what: string, status: number, body: string): void {
    this.counters.failures.push(`${this.repo} ${what}: ${status} ${body.slice(0, 200)}`);
  }
}

function image(layers: readonly Blob[]): ImageParts {
  const config = blobOf(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, salt: randomBytes(8).toString('hex') }));
  const body = { schemaVersion: 2, mediaType: OCI_MANIFEST, config: descriptorOf(config, OCI_CONFIG), layers: layers.map((l) => descriptorOf(l, OCI_LAYER)) };
  return { config, layers: [...layers], manifest: blobOf(JSON.stringify(body)) };
}
