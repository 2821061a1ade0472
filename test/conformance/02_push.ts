/**
 * Port of conformance/02_push_test.go (opencontainers/distribution-spec @ 11b8e3fba7d2d7329513d0cff53058243c334858).
 * Spec for spec, in order; each test is named after its g.Specify text. Registered by 00_conformance_suite.test.ts.
 *
 * The `SetHeader("Content-Length", ...)` calls are kept although Go's client drops them (see reggie.ts): the
 * bodies go out chunked, and the PUT that closes the streamed upload (no body) carries `Content-Length: 0`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WithDigest, WithName, WithReference, type Response } from './reggie.js';
import {
  Equal,
  Is2xx,
  SatisfyAny,
  Warn,
  emptyLayerTestTag,
  expectEqual,
  expectNotEmpty,
  expectStatus,
  push,
  titlePush,
  type Suite,
} from './setup.js';

export function test02Push(s: Suite): void {
  const client = s.client;

  describe(titlePush, () => {
    let lastResponse: Response | undefined;
    let prevResponse: Response | undefined;
    let emptyLayerManifestRef = '';

    /** A nil *reggie.Response dereferenced in Go panics, failing the spec. */
    const deref = (r: Response | undefined, name: string): Response => {
      if (!r) throw new Error(`runtime error: invalid memory address or nil pointer dereference (${name})`);
      return r;
    };

    // g.Context("Setup"): no setup required at this time for push tests

    describe('Blob Upload Streamed', () => {
      test('PATCH request with blob in body should yield 202 response', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        let req = client.NewRequest('POST', '/v2/<name>/blobs/uploads/');
        let resp = await client.Do(req);
        const location = resp.Header('Location');
        expectNotEmpty(location, resp, 'Location');

        req = client
          .NewRequest('PATCH', resp.GetRelativeLocation())
          .SetHeader('Content-Type', 'application/octet-stream')
          .SetBody(s.testBlobA);
        resp = await client.Do(req);
        expectStatus(resp, Equal(202));
        lastResponse = resp;
      });

      test('PUT request to session URL with digest should yield 201 response', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        assert.ok(lastResponse, 'Expected lastResponse not to be nil');
        const req = client
          .NewRequest('PUT', lastResponse.GetRelativeLocation())
          .SetQueryParam('digest', s.testBlobADigest)
          .SetHeader('Content-Type', 'application/octet-stream')
          .SetHeader('Content-Length', s.testBlobALength);
        const resp = await client.Do(req);
        expectStatus(resp, Equal(201));
        const location = resp.Header('Location');
        expectNotEmpty(location, resp, 'Location');
      });
    });

    describe('Blob Upload Monolithic', () => {
      test('GET nonexistent blob should result in 404 response', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        const req = client.NewRequest('GET', '/v2/<name>/blobs/<digest>', WithDigest(s.dummyDigest));
        const resp = await client.Do(req);
        expectStatus(resp, Equal(404));
      });

      test('POST request with digest and blob should yield a 201 or 202', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        const req = client
          .NewRequest('POST', '/v2/<name>/blobs/uploads/')
          .SetHeader('Content-Length', s.configs[1]!.ContentLength)
          .SetHeader('Content-Type', 'application/octet-stream')
          .SetQueryParam('digest', s.configs[1]!.Digest)
          .SetBody(s.configs[1]!.Content);
        const resp = await client.Do(req);
        const location = resp.Header('Location');
        expectNotEmpty(location, resp, 'Location');
        expectStatus(resp, SatisfyAny(Equal(201), Equal(202)));
        lastResponse = resp;
      });

      test('GET request to blob URL from prior request should yield 200 or 404 based on response code', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        assert.ok(lastResponse, 'Expected lastResponse not to be nil');
        const req = client.NewRequest('GET', '/v2/<name>/blobs/<digest>', WithDigest(s.configs[1]!.Digest));
        const resp = await client.Do(req);
        if (lastResponse.StatusCode() === 202) expectStatus(resp, Equal(404));
        else expectStatus(resp, Equal(200));
      });

      test('POST request should yield a session ID', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        const req = client.NewRequest('POST', '/v2/<name>/blobs/uploads/');
        const resp = await client.Do(req);
        expectStatus(resp, Equal(202));
        lastResponse = resp;
      });

      test('PUT upload of a blob should yield a 201 Response', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        const req = client
          .NewRequest('PUT', deref(lastResponse, 'lastResponse').GetRelativeLocation())
          .SetHeader('Content-Length', s.configs[1]!.ContentLength)
          .SetHeader('Content-Type', 'application/octet-stream')
          .SetQueryParam('digest', s.configs[1]!.Digest)
          .SetBody(s.configs[1]!.Content);
        const resp = await client.Do(req);
        const location = resp.Header('Location');
        expectNotEmpty(location, resp, 'Location');
        expectStatus(resp, Equal(201));
      });

      test('GET request to existing blob should yield 200 response', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        const req = client.NewRequest('GET', '/v2/<name>/blobs/<digest>', WithDigest(s.configs[1]!.Digest));
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
      });

      test('PUT upload of a layer blob should yield a 201 Response', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        let req = client.NewRequest('POST', '/v2/<name>/blobs/uploads/');
        let resp = await client.Do(req);
        req = client
          .NewRequest('PUT', resp.GetRelativeLocation())
          .SetHeader('Content-Length', s.layerBlobContentLength)
          .SetHeader('Content-Type', 'application/octet-stream')
          .SetQueryParam('digest', s.layerBlobDigest)
          .SetBody(s.layerBlobData);
        resp = await client.Do(req);
        const location = resp.Header('Location');
        expectNotEmpty(location, resp, 'Location');
        expectStatus(resp, Equal(201));
      });

      test('GET request to existing layer should yield 200 response', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        const req = client.NewRequest('GET', '/v2/<name>/blobs/<digest>', WithDigest(s.layerBlobDigest));
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
      });
    });

    describe('Blob Upload Chunked', () => {
      test('Out-of-order blob upload should return 416', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        let req = client.NewRequest('POST', '/v2/<name>/blobs/uploads/').SetHeader('Content-Length', '0');
        let resp = await client.Do(req);
        const location = resp.Header('Location');
        expectNotEmpty(location, resp, 'Location');

        // rebuild chunked blob if min size is above our chunk size
        const minSizeStr = resp.Header('OCI-Chunk-Min-Length');
        if (minSizeStr !== '') {
          // strconv.Atoi
          assert.match(minSizeStr, /^[+-]?\d+$/, `Expected strconv.Atoi(${JSON.stringify(minSizeStr)}) error to be nil\n${resp.describe()}`);
          const minSize = Number(minSizeStr);
          if (minSize > s.testBlobBChunk1.length) s.setupChunkedBlob(minSize * 2 - 2);
        }

        req = client
          .NewRequest('PATCH', resp.GetRelativeLocation())
          .SetHeader('Content-Type', 'application/octet-stream')
          .SetHeader('Content-Length', s.testBlobBChunk2Length)
          .SetHeader('Content-Range', s.testBlobBChunk2Range)
          .SetBody(s.testBlobBChunk2);
        resp = await client.Do(req);
        expectStatus(resp, Equal(416));
      });

      test('PATCH request with first chunk should return 202', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        let req = client.NewRequest('POST', '/v2/<name>/blobs/uploads/').SetHeader('Content-Length', '0');
        let resp = await client.Do(req);
        const location = resp.Header('Location');
        expectNotEmpty(location, resp, 'Location');
        prevResponse = resp;
        req = client
          .NewRequest('PATCH', resp.GetRelativeLocation())
          .SetHeader('Content-Type', 'application/octet-stream')
          .SetHeader('Content-Length', s.testBlobBChunk1Length)
          .SetHeader('Content-Range', s.testBlobBChunk1Range)
          .SetBody(s.testBlobBChunk1);
        resp = await client.Do(req);
        expectStatus(resp, Equal(202));
        expectEqual(resp.Header('Range'), s.testBlobBChunk1Range, resp, 'Range');
        lastResponse = resp;
      });

      test('Retry previous blob chunk should return 416', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        const req = client
          .NewRequest('PATCH', deref(prevResponse, 'prevResponse').GetRelativeLocation())
          .SetHeader('Content-Type', 'application/octet-stream')
          .SetHeader('Content-Length', s.testBlobBChunk1Length)
          .SetHeader('Content-Range', s.testBlobBChunk1Range)
          .SetBody(s.testBlobBChunk1);
        const resp = await client.Do(req);
        expectStatus(resp, Equal(416));
      });

      test('Get on stale blob upload should return 204 with a range and location', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        const req = client.NewRequest('GET', deref(prevResponse, 'prevResponse').GetRelativeLocation());
        const resp = await client.Do(req);
        expectStatus(resp, Equal(204));
        expectNotEmpty(resp.Header('Location'), resp, 'Location');
        expectEqual(resp.Header('Range'), s.testBlobBChunk1Range, resp, 'Range');
        lastResponse = resp;
      });

      test('PATCH request with second chunk should return 202', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        const req = client
          .NewRequest('PATCH', deref(lastResponse, 'lastResponse').GetRelativeLocation())
          .SetHeader('Content-Length', s.testBlobBChunk2Length)
          .SetHeader('Content-Range', s.testBlobBChunk2Range)
          .SetHeader('Content-Type', 'application/octet-stream')
          .SetBody(s.testBlobBChunk2);
        const resp = await client.Do(req);
        const location = resp.Header('Location');
        expectStatus(resp, Equal(202));
        expectNotEmpty(location, resp, 'Location');
        lastResponse = resp;
      });

      test('PUT request with digest should return 201', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        const req = client
          .NewRequest('PUT', deref(lastResponse, 'lastResponse').GetRelativeLocation())
          .SetHeader('Content-Length', '0')
          .SetHeader('Content-Type', 'application/octet-stream')
          .SetQueryParam('digest', s.testBlobBDigest);
        const resp = await client.Do(req);
        expectStatus(resp, Equal(201));
        const location = resp.Header('Location');
        expectNotEmpty(location, resp, 'Location');
      });
    });

    describe('Cross-Repository Blob Mount', () => {
      test('Cross-mounting of a blob without the from argument should yield session id', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        const req = client
          .NewRequest('POST', '/v2/<name>/blobs/uploads/', WithName(s.crossmountNamespace))
          .SetQueryParam('mount', s.dummyDigest);
        const resp = await client.Do(req);
        expectStatus(resp, Equal(202));
        expectNotEmpty(resp.GetAbsoluteLocation(), resp, 'Location');
      });

      test("POST request to mount another repository's blob should return 201 or 202", async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        const req = client
          .NewRequest('POST', '/v2/<name>/blobs/uploads/', WithName(s.crossmountNamespace))
          .SetQueryParam('mount', s.testBlobADigest)
          .SetQueryParam('from', client.Config.DefaultName);
        const resp = await client.Do(req);
        expectStatus(resp, SatisfyAny(Equal(201), Equal(202)));
        lastResponse = resp;
      });

      test('GET request to test digest within cross-mount namespace should return 200', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        const last = deref(lastResponse, 'lastResponse');
        if (s.RunOnlyIf(t, last.StatusCode() === 201)) return;
        expectEqual(last.GetRelativeLocation(), `/v2/${s.crossmountNamespace}/blobs/${s.testBlobADigest}`, last, 'relative Location');
        const req = client.NewRequest('GET', last.GetRelativeLocation());
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
      });

      test('Cross-mounting of nonexistent blob should yield session id', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        const last = deref(lastResponse, 'lastResponse');
        if (s.RunOnlyIf(t, last.StatusCode() === 202)) return;
        const prefix = `/v2/${s.crossmountNamespace}/blobs/uploads/`;
        assert.ok(last.GetRelativeLocation().startsWith(prefix), `Expected ${JSON.stringify(last.GetRelativeLocation())} to have prefix ${prefix}\n${last.describe()}`);
      });

      test('Cross-mounting without from, and automatic content discovery enabled should return a 201', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        if (s.RunOnlyIf(t, s.runAutomaticCrossmountTest)) return;
        if (s.RunOnlyIf(t, deref(lastResponse, 'lastResponse').StatusCode() === 201)) return;
        if (s.RunOnlyIf(t, s.automaticCrossmountEnabled)) return;
        const req = client
          .NewRequest('POST', '/v2/<name>/blobs/uploads/', WithName(s.crossmountNamespace))
          .SetQueryParam('mount', s.testBlobADigest);
        const resp = await client.Do(req);
        expectStatus(resp, Equal(201));
      });

      test('Cross-mounting without from, and automatic content discovery disabled should return a 202', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        if (s.RunOnlyIf(t, s.runAutomaticCrossmountTest)) return;
        if (s.RunOnlyIf(t, deref(lastResponse, 'lastResponse').StatusCode() === 201)) return;
        if (s.RunOnlyIfNot(t, s.automaticCrossmountEnabled)) return;
        const req = client
          .NewRequest('POST', '/v2/<name>/blobs/uploads/', WithName(s.crossmountNamespace))
          .SetQueryParam('mount', s.testBlobADigest);
        const resp = await client.Do(req);
        expectStatus(resp, Equal(202));
      });
    });

    describe('Manifest Upload', () => {
      test('GET nonexistent manifest should return 404', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        const req = client.NewRequest('GET', '/v2/<name>/manifests/<reference>', WithReference(s.nonexistentManifest));
        const resp = await client.Do(req);
        expectStatus(resp, Equal(404));
      });

      test('PUT should accept a manifest upload', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        for (let i = 0; i < 4; i++) {
          const tag = `test${i}`;
          const req = client
            .NewRequest('PUT', '/v2/<name>/manifests/<reference>', WithReference(tag))
            .SetHeader('Content-Type', 'application/vnd.oci.image.manifest.v1+json')
            .SetBody(s.manifests[1]!.Content);
          const resp = await client.Do(req);
          const location = resp.Header('Location');
          expectNotEmpty(location, resp, 'Location');
          expectStatus(resp, Equal(201));
        }
      });

      test('Registry should accept a manifest upload with no layers', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        const req = client
          .NewRequest('PUT', '/v2/<name>/manifests/<reference>', WithReference(emptyLayerTestTag))
          .SetHeader('Content-Type', 'application/vnd.oci.image.manifest.v1+json')
          .SetBody(s.emptyLayerManifestContent);
        const resp = await client.Do(req);
        if (resp.StatusCode() === 201) {
          const location = resp.Header('Location');
          emptyLayerManifestRef = location;
          expectNotEmpty(location, resp, 'Location');
          expectStatus(resp, Equal(201));
        } else {
          Warn(t, 'image manifest with no layers is not supported');
        }
      });

      test('GET request to manifest URL (digest) should yield 200 response', async (t) => {
        if (s.SkipIfDisabled(t, push)) return;
        const req = client
          .NewRequest('GET', '/v2/<name>/manifests/<digest>', WithDigest(s.manifests[1]!.Digest))
          .SetHeader('Accept', 'application/vnd.oci.image.manifest.v1+json');
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
      });
    });

    describe('Teardown', () => {
      const deleteManifests = async () => {
        let req = client.NewRequest('DELETE', '/v2/<name>/manifests/<digest>', WithDigest(s.manifests[1]!.Digest));
        let resp = await client.Do(req);
        expectStatus(resp, SatisfyAny(Is2xx, Equal(405)));
        if (emptyLayerManifestRef !== '') {
          req = client.NewRequest('DELETE', '/v2/<name>/manifests/<reference>', WithReference(s.emptyLayerManifestDigest));
          resp = await client.Do(req);
          expectStatus(resp, SatisfyAny(Is2xx, Equal(405)));
        }
      };

      if (s.deleteManifestBeforeBlobs) {
        test('Delete manifest created in tests', async (t) => {
          if (s.SkipIfDisabled(t, push) || s.RunOnlyIf(t, s.runPushSetup)) return;
          await deleteManifests();
        });
      }

      test('Delete config blob created in tests', async (t) => {
        if (s.SkipIfDisabled(t, push) || s.RunOnlyIf(t, s.runPushSetup)) return;
        const req = client.NewRequest('DELETE', '/v2/<name>/blobs/<digest>', WithDigest(s.configs[1]!.Digest));
        const resp = await client.Do(req);
        expectStatus(resp, SatisfyAny(Is2xx, Equal(404), Equal(405)));
      });

      test('Delete layer blob created in setup', async (t) => {
        if (s.SkipIfDisabled(t, push) || s.RunOnlyIf(t, s.runPushSetup)) return;
        const req = client.NewRequest('DELETE', '/v2/<name>/blobs/<digest>', WithDigest(s.layerBlobDigest));
        const resp = await client.Do(req);
        expectStatus(resp, SatisfyAny(Is2xx, Equal(404), Equal(405)));
      });

      if (!s.deleteManifestBeforeBlobs) {
        test('Delete manifest created in tests', async (t) => {
          if (s.SkipIfDisabled(t, push) || s.RunOnlyIf(t, s.runPushSetup)) return;
          await deleteManifests();
        });
      }
    });
  });
}
