/**
 * Blob deletes keep images whole: a blob that a manifest of the repository references (config,
 * layer, through an index or not) is refused with 405 UNSUPPORTED naming that manifest; an
 * unreferenced one is deleted. The check holds against a manifest push racing the delete. With
 * deletes off (`--no-deletes`), every blob, manifest and tag DELETE is 405 UNSUPPORTED, and upload
 * cancels still work.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { errorCode, http, type TestResponse } from '../support/http.js';
import { OCI_INDEX, OCI_MANIFEST, blobOf, descriptorOf, makeImage, pushBlob, pushImage, putManifest, randomBlob } from '../support/oci.js';
import { describeOnEachDatabase } from '../support/suite.js';

interface OciError {
  code: string;
  message: string;
  detail: unknown;
}

function onlyError(response: TestResponse): OciError {
  assert.match(response.headers['content-type'] ?? '', /^application\/json/);
  const body = response.json<{ errors: OciError[] }>();
  assert.equal(body.errors.length, 1, response.text());
  const [error] = body.errors;
  assert.deepEqual(Object.keys(error!).sort(), ['code', 'detail', 'message']);
  return error!;
}

function assertInUse(response: TestResponse, blob: string, manifest: string, tag: string | null, manifests = 1): void {
  assert.equal(response.status, 405, response.text());
  const error = onlyError(response);
  assert.equal(error.code, 'UNSUPPORTED');
  assert.ok(error.message.includes(blob), error.message);
  assert.ok(error.message.includes(manifest), error.message);
  assert.ok(error.message.includes(tag === null ? '(untagged)' : `(tag ${tag})`), error.message);
  assert.deepEqual(error.detail, { digest: blob, manifest, tag, manifests });
}

async function pullable(base: string, name: string, reference: string, blobs: string[]): Promise<void> {
  assert.equal((await http('GET', `${base}/v2/${name}/manifests/${reference}`)).status, 200, `${name}:${reference} manifest`);
  for (const digest of blobs) assert.equal((await http('GET', `${base}/v2/${name}/blobs/${digest}`)).status, 200, `${name}@${digest}`);
}

describeOnEachDatabase('blob deletes keep images whole', (ctx) => {
  const del = (name: string, digest: string) => http('DELETE', `${ctx.base}/v2/${name}/blobs/${digest}`);

  test('a layer or config of a tagged manifest is refused, naming the manifest and its tag; the image still pulls', async () => {
    const name = 'deletes/tagged';
    const img = makeImage({ layers: 2 });
    await pushImage(ctx.base, name, img, 'v1');
    assertInUse(await del(name, img.layers[1]!.digest), img.layers[1]!.digest, img.manifest.digest, 'v1');
    assertInUse(await del(name, img.config.digest), img.config.digest, img.manifest.digest, 'v1');
    await pullable(ctx.base, name, 'v1', [img.config.digest, ...img.layers.map((l) => l.digest)]);
  });

  test('an untagged manifest protects its blobs too', async () => {
    const name = 'deletes/untagged';
    const img = makeImage();
    await pushImage(ctx.base, name, img, img.manifest.digest);
    assertInUse(await del(name, img.layers[0]!.digest), img.layers[0]!.digest, img.manifest.digest, null);
    await pullable(ctx.base, name, img.manifest.digest, [img.layers[0]!.digest]);
  });

  test('a blob of an index child is refused, with the index tag that reaches it', async () => {
    const name = 'deletes/index';
    const child = makeImage();
    await pushImage(ctx.base, name, child, child.manifest.digest);
    const entry = { ...descriptorOf(child.manifest, OCI_MANIFEST), platform: { os: 'linux', architecture: 'amd64' } };
    const index = blobOf(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [entry] }));
    await putManifest(ctx.base, name, 'multi', index.bytes, OCI_INDEX, 201);
    assertInUse(await del(name, child.layers[0]!.digest), child.layers[0]!.digest, child.manifest.digest, 'multi');
    await pullable(ctx.base, name, 'multi', [child.layers[0]!.digest]);
  });

  test('a blob shared by several manifests names a tagged one and counts the others', async () => {
    const name = 'deletes/shared';
    const img = makeImage();
    await pushImage(ctx.base, name, img, img.manifest.digest); // untagged
    const other = blobOf(JSON.stringify({ ...JSON.parse(img.manifest.bytes.toString()), annotations: { other: 'yes' } }));
    await putManifest(ctx.base, name, 'z-tag', other.bytes, OCI_MANIFEST, 201);
    const response = await del(name, img.layers[0]!.digest);
    assertInUse(response, img.layers[0]!.digest, other.digest, 'z-tag', 2);
    assert.match(onlyError(response).message, /and 1 other manifest:/);
  });

  test('an unreferenced blob is deleted (202), then unknown (404 BLOB_UNKNOWN)', async () => {
    const name = 'deletes/loose';
    const blob = randomBlob(300);
    await pushBlob(ctx.base, name, blob);
    assert.equal((await del(name, blob.digest)).status, 202);
    assert.equal((await http('HEAD', `${ctx.base}/v2/${name}/blobs/${blob.digest}`)).status, 404);
    const again = await del(name, blob.digest);
    assert.equal(again.status, 404);
    assert.equal(errorCode(again), 'BLOB_UNKNOWN');
  });

  test('manifest first, then its blobs: each delete is accepted', async () => {
    const name = 'deletes/ordered';
    const img = makeImage();
    await pushImage(ctx.base, name, img, 'v1');
    assert.equal((await http('DELETE', `${ctx.base}/v2/${name}/manifests/${img.manifest.digest}`)).status, 202);
    for (const blob of [img.config, img.layers[0]!]) assert.equal((await del(name, blob.digest)).status, 202, blob.digest);
  });

  test('references count per repository: a blob used only by another repository is deleted here', async () => {
    const img = makeImage();
    await pushImage(ctx.base, 'deletes/user', img, 'v1');
    await pushBlob(ctx.base, 'deletes/bystander', img.layers[0]!);
    assert.equal((await del('deletes/bystander', img.layers[0]!.digest)).status, 202);
    await pullable(ctx.base, 'deletes/user', 'v1', [img.layers[0]!.digest]);
  });

  test('a manifest push racing the delete of its blob: never both succeed, never a broken image', async (t) => {
    const name = 'deletes/race';
    const outcomes = { pushed: 0, deleted: 0 };
    for (let i = 0; i < 25; i++) {
      const img = makeImage();
      for (const blob of [img.config, img.layers[0]!]) await pushBlob(ctx.base, name, blob);
      const tag = `race-${i}`;
      const [put, removed] = await Promise.all([
        putManifest(ctx.base, name, tag, img.manifest.bytes, OCI_MANIFEST),
        del(name, img.layers[0]!.digest),
      ]);
      if (put.status === 201) {
        assert.equal(removed.status, 405, `#${i}: manifest stored, so the delete must be refused: ${removed.text()}`);
        await pullable(ctx.base, name, tag, [img.config.digest, img.layers[0]!.digest]);
        outcomes.pushed++;
      } else {
        assert.equal(removed.status, 202, `#${i}: ${put.status} ${put.text()} / ${removed.status}`);
        assert.equal(put.status, 400, put.text());
        assert.equal(errorCode(put), 'MANIFEST_BLOB_UNKNOWN');
        assert.equal((await http('GET', `${ctx.base}/v2/${name}/manifests/${tag}`)).status, 404);
        outcomes.deleted++;
      }
    }
    assert.equal(outcomes.pushed + outcomes.deleted, 25);
    t.diagnostic(`pushed first ${outcomes.pushed}, deleted first ${outcomes.deleted}`);
  });
});

describeOnEachDatabase(
  'deletes turned off (--no-deletes)',
  (ctx) => {
    const name = 'deletes/off';
    const img = makeImage();
    const loose = randomBlob(100);

    const assertUnsupported = (response: TestResponse, what: string) => {
      assert.equal(response.status, 405, `${what}: ${response.text()}`);
      const error = onlyError(response);
      assert.equal(error.code, 'UNSUPPORTED', what);
      assert.match(error.message, /deletes are disabled on this registry/, what);
      assert.equal(error.detail, null, what);
      // RFC 9110: a 405 lists what the resource does serve, and DELETE is not among it now.
      const allow = response.headers.allow ?? '';
      assert.ok(allow.includes('GET') && !allow.includes('DELETE'), `${what}: Allow: ${allow}`);
    };

    test('every DELETE of a blob, manifest or tag is 405 UNSUPPORTED and changes nothing', async () => {
      await pushImage(ctx.base, name, img, 'v1');
      await pushBlob(ctx.base, name, loose);
      const urls = {
        'unreferenced blob': `/v2/${name}/blobs/${loose.digest}`,
        'referenced blob': `/v2/${name}/blobs/${img.layers[0]!.digest}`,
        'unknown blob': `/v2/${name}/blobs/${randomBlob(5).digest}`,
        'manifest by digest': `/v2/${name}/manifests/${img.manifest.digest}`,
        tag: `/v2/${name}/manifests/v1`,
        'unknown tag': `/v2/${name}/manifests/nope`,
      };
      for (const [what, url] of Object.entries(urls)) assertUnsupported(await http('DELETE', `${ctx.base}${url}`), what);
      await pullable(ctx.base, name, 'v1', [img.config.digest, img.layers[0]!.digest, loose.digest]);
      assert.equal((await http('GET', `${ctx.base}/v2/${name}/manifests/${img.manifest.digest}`)).status, 200);
    });

    test('other methods\' 405 answers do not offer DELETE either', async () => {
      const response = await http('PROPFIND', `${ctx.base}/v2/${name}/manifests/v1`);
      assert.equal(response.status, 405);
      assert.equal(response.headers.allow, 'GET, HEAD, PUT');
    });

    test('cancelling an upload still works: it removes nothing anyone can pull', async () => {
      const start = await http('POST', `${ctx.base}/v2/${name}/blobs/uploads/`);
      assert.equal(start.status, 202);
      const location = new URL(start.headers.location!, ctx.base).toString();
      assert.equal((await http('DELETE', location)).status, 204);
      assert.equal((await http('GET', location)).status, 404);
    });
  },
  { extraArgs: ['--no-deletes'] },
);

test('--deletes takes true or false; a bad value or both flags is one line on stderr and exit 2', () => {
  const bin = fileURLToPath(new URL('../../../bin/cairn.js', import.meta.url));
  for (const args of [['--deletes', 'maybe'], ['--no-deletes', '--deletes', 'true']]) {
    const run = spawnSync(process.execPath, [bin, 'migrate', ...args], { encoding: 'utf8', env: { ...process.env, CAIRN_DELETES: '' } });
    assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
    assert.equal(run.stderr.trim().split('\n').length, 1, run.stderr);
    assert.match(run.stderr, /deletes/);
  }
  const env = spawnSync(process.execPath, [bin, 'migrate'], { encoding: 'utf8', env: { ...process.env, CAIRN_DELETES: 'sometimes' } });
  assert.equal(env.status, 2, env.stderr);
  assert.match(env.stderr, /^cairn: CAIRN_DELETES: "sometimes" is not true or false\n$/);
});
