/**
 * Port of conformance/01_pull_test.go (opencontainers/distribution-spec @ 47008ca930b575b3f1cd422414c00d3b0752a7cb).
 * Spec for spec, in order; each test is named after its g.Specify text. Registered by 00_conformance_suite.test.ts.
 */
import { describe, test } from 'node:test';
import { WithDigest, WithReference } from './reggie.js';
import {
  Equal,
  Is2xx,
  SatisfyAny,
  envVarTagName,
  errorCodes,
  expectEqual,
  expectStatus,
  pull,
  responseErrors,
  testTagName,
  titlePull,
  type Suite,
} from './setup.js';
import assert from 'node:assert/strict';

export function test01Pull(s: Suite): void {
  const client = s.client;

  describe(titlePull, () => {
    let tag = '';

    describe('Setup', () => {
      test('Populate registry with test blob', async (t) => {
        if (s.SkipIfDisabled(t, pull) || s.RunOnlyIf(t, s.runPullSetup)) return;
        let req = client.NewRequest('POST', '/v2/<name>/blobs/uploads/');
        let resp = await client.Do(req);
        req = client
          .NewRequest('PUT', resp.GetRelativeLocation())
          .SetQueryParam('digest', s.configs[0]!.Digest)
          .SetHeader('Content-Type', 'application/octet-stream')
          .SetHeader('Content-Length', s.configs[0]!.ContentLength)
          .SetBody(s.configs[0]!.Content);
        resp = await client.Do(req);
        expectStatus(resp, Is2xx);
      });

      test('Populate registry with test blob', async (t) => {
        if (s.SkipIfDisabled(t, pull) || s.RunOnlyIf(t, s.runPullSetup)) return;
        let req = client.NewRequest('POST', '/v2/<name>/blobs/uploads/');
        let resp = await client.Do(req);
        req = client
          .NewRequest('PUT', resp.GetRelativeLocation())
          .SetQueryParam('digest', s.configs[1]!.Digest)
          .SetHeader('Content-Type', 'application/octet-stream')
          .SetHeader('Content-Length', s.configs[1]!.ContentLength)
          .SetBody(s.configs[1]!.Content);
        resp = await client.Do(req);
        expectStatus(resp, Is2xx);
      });

      test('Populate registry with test layer', async (t) => {
        if (s.SkipIfDisabled(t, pull) || s.RunOnlyIf(t, s.runPullSetup)) return;
        let req = client.NewRequest('POST', '/v2/<name>/blobs/uploads/');
        let resp = await client.Do(req);
        req = client
          .NewRequest('PUT', resp.GetRelativeLocation())
          .SetQueryParam('digest', s.layerBlobDigest)
          .SetHeader('Content-Type', 'application/octet-stream')
          .SetHeader('Content-Length', s.layerBlobContentLength)
          .SetBody(s.layerBlobData);
        resp = await client.Do(req);
        expectStatus(resp, Is2xx);
      });

      test('Populate registry with test manifest', async (t) => {
        if (s.SkipIfDisabled(t, pull) || s.RunOnlyIf(t, s.runPullSetup)) return;
        tag = testTagName;
        const req = client
          .NewRequest('PUT', '/v2/<name>/manifests/<reference>', WithReference(tag))
          .SetHeader('Content-Type', 'application/vnd.oci.image.manifest.v1+json')
          .SetBody(s.manifests[0]!.Content);
        const resp = await client.Do(req);
        expectStatus(resp, Is2xx);
      });

      test('Populate registry with test manifest', async (t) => {
        if (s.SkipIfDisabled(t, pull) || s.RunOnlyIf(t, s.runPullSetup)) return;
        const req = client
          .NewRequest('PUT', '/v2/<name>/manifests/<reference>', WithReference(s.manifests[1]!.Digest))
          .SetHeader('Content-Type', 'application/vnd.oci.image.manifest.v1+json')
          .SetBody(s.manifests[1]!.Content);
        const resp = await client.Do(req);
        expectStatus(resp, Is2xx);
      });

      test('Get tag name from environment', async (t) => {
        if (s.SkipIfDisabled(t, pull) || s.RunOnlyIfNot(t, s.runPullSetup)) return;
        const tmp = process.env[envVarTagName] ?? '';
        if (tmp !== '') tag = tmp;
      });
    });

    describe('Pull blobs', () => {
      test('HEAD request to nonexistent blob should result in 404 response', async (t) => {
        if (s.SkipIfDisabled(t, pull)) return;
        const req = client.NewRequest('HEAD', '/v2/<name>/blobs/<digest>', WithDigest(s.dummyDigest));
        const resp = await client.Do(req);
        expectStatus(resp, Equal(404));
      });

      test('HEAD request to existing blob should yield 200', async (t) => {
        if (s.SkipIfDisabled(t, pull)) return;
        const req = client.NewRequest('HEAD', '/v2/<name>/blobs/<digest>', WithDigest(s.configs[0]!.Digest));
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
        const h = resp.Header('Docker-Content-Digest');
        if (h !== '') expectEqual(h, s.configs[0]!.Digest, resp, 'Docker-Content-Digest');
      });

      test('GET nonexistent blob should result in 404 response', async (t) => {
        if (s.SkipIfDisabled(t, pull)) return;
        const req = client.NewRequest('GET', '/v2/<name>/blobs/<digest>', WithDigest(s.dummyDigest));
        const resp = await client.Do(req);
        expectStatus(resp, Equal(404));
      });

      test('GET request to existing blob URL should yield 200', async (t) => {
        if (s.SkipIfDisabled(t, pull)) return;
        const req = client.NewRequest('GET', '/v2/<name>/blobs/<digest>', WithDigest(s.configs[0]!.Digest));
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
      });
    });

    describe('Pull manifests', () => {
      test('HEAD request to nonexistent manifest should return 404', async (t) => {
        if (s.SkipIfDisabled(t, pull)) return;
        const req = client.NewRequest('HEAD', '/v2/<name>/manifests/<reference>', WithReference(s.nonexistentManifest));
        const resp = await client.Do(req);
        expectStatus(resp, Equal(404));
      });

      test('HEAD request to manifest[0] path (digest) should yield 200 response', async (t) => {
        if (s.SkipIfDisabled(t, pull)) return;
        const req = client
          .NewRequest('HEAD', '/v2/<name>/manifests/<digest>', WithDigest(s.manifests[0]!.Digest))
          .SetHeader('Accept', 'application/vnd.oci.image.manifest.v1+json');
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
        const h = resp.Header('Docker-Content-Digest');
        if (h !== '') expectEqual(h, s.manifests[0]!.Digest, resp, 'Docker-Content-Digest');
      });

      test('HEAD request to manifest[1] path (digest) should yield 200 response', async (t) => {
        if (s.SkipIfDisabled(t, pull)) return;
        const req = client
          .NewRequest('HEAD', '/v2/<name>/manifests/<digest>', WithDigest(s.manifests[1]!.Digest))
          .SetHeader('Accept', 'application/vnd.oci.image.manifest.v1+json');
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
        const h = resp.Header('Docker-Content-Digest');
        if (h !== '') expectEqual(h, s.manifests[1]!.Digest, resp, 'Docker-Content-Digest');
      });

      test('HEAD request to manifest path (tag) should yield 200 response', async (t) => {
        if (s.SkipIfDisabled(t, pull)) return;
        assert.ok(tag !== '', 'Expected tag not to be empty');
        const req = client
          .NewRequest('HEAD', '/v2/<name>/manifests/<reference>', WithReference(tag))
          .SetHeader('Accept', 'application/vnd.oci.image.manifest.v1+json');
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
        const h = resp.Header('Docker-Content-Digest');
        if (h !== '') expectEqual(h, s.manifests[0]!.Digest, resp, 'Docker-Content-Digest');
      });

      test('GET nonexistent manifest should return 404', async (t) => {
        if (s.SkipIfDisabled(t, pull)) return;
        const req = client.NewRequest('GET', '/v2/<name>/manifests/<reference>', WithReference(s.nonexistentManifest));
        const resp = await client.Do(req);
        expectStatus(resp, Equal(404));
      });

      test('GET request to manifest[0] path (digest) should yield 200 response', async (t) => {
        if (s.SkipIfDisabled(t, pull)) return;
        const req = client
          .NewRequest('GET', '/v2/<name>/manifests/<digest>', WithDigest(s.manifests[0]!.Digest))
          .SetHeader('Accept', 'application/vnd.oci.image.manifest.v1+json');
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
      });

      test('GET request to manifest[1] path (digest) should yield 200 response', async (t) => {
        if (s.SkipIfDisabled(t, pull)) return;
        const req = client
          .NewRequest('GET', '/v2/<name>/manifests/<digest>', WithDigest(s.manifests[1]!.Digest))
          .SetHeader('Accept', 'application/vnd.oci.image.manifest.v1+json');
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
      });

      test('GET request to manifest path (tag) should yield 200 response', async (t) => {
        if (s.SkipIfDisabled(t, pull)) return;
        assert.ok(tag !== '', 'Expected tag not to be empty');
        const req = client
          .NewRequest('GET', '/v2/<name>/manifests/<reference>', WithReference(tag))
          .SetHeader('Accept', 'application/vnd.oci.image.manifest.v1+json');
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
      });
    });

    describe('Error codes', () => {
      test('400 response body should contain OCI-conforming JSON message', async (t) => {
        if (s.SkipIfDisabled(t, pull)) return;
        // sic: a GET with a Content-Type and a body (sent, chunked, as Go does)
        const req = client
          .NewRequest('GET', '/v2/<name>/manifests/<reference>', WithReference('sha256:totallywrong'))
          .SetHeader('Content-Type', 'application/vnd.oci.image.manifest.v1+json')
          .SetBody(s.invalidManifestContent);
        const resp = await client.Do(req);
        expectStatus(resp, SatisfyAny(Equal(400), Equal(404)));
        if (resp.StatusCode() === 400) {
          const { codes, err } = responseErrors(resp);
          assert.equal(err, undefined, `Expected resp.Errors() error to be nil\n${resp.describe()}`);
          assert.ok(codes.length > 0, `Expected errorResponses not to be empty\n${resp.describe()}`);
          assert.ok(errorCodes.includes(codes[0]!), `Expected errorCodes to contain ${JSON.stringify(codes[0])}\n${resp.describe()}`);
        }
      });
    });

    describe('Teardown', () => {
      if (s.deleteManifestBeforeBlobs) {
        test('Delete manifest[0] created in setup', async (t) => {
          if (s.SkipIfDisabled(t, pull) || s.RunOnlyIf(t, s.runPullSetup)) return;
          const req = client.NewRequest('DELETE', '/v2/<name>/manifests/<digest>', WithDigest(s.manifests[0]!.Digest));
          const resp = await client.Do(req);
          expectStatus(resp, SatisfyAny(Is2xx, Equal(405)));
        });
        test('Delete manifest[1] created in setup', async (t) => {
          if (s.SkipIfDisabled(t, pull) || s.RunOnlyIf(t, s.runPullSetup)) return;
          const req = client.NewRequest('DELETE', '/v2/<name>/manifests/<digest>', WithDigest(s.manifests[1]!.Digest));
          const resp = await client.Do(req);
          expectStatus(resp, SatisfyAny(Is2xx, Equal(405)));
        });
      }

      test('Delete config[0] blob created in setup', async (t) => {
        if (s.SkipIfDisabled(t, pull) || s.RunOnlyIf(t, s.runPullSetup)) return;
        const req = client.NewRequest('DELETE', '/v2/<name>/blobs/<digest>', WithDigest(s.configs[0]!.Digest));
        const resp = await client.Do(req);
        expectStatus(resp, SatisfyAny(Is2xx, Equal(404), Equal(405)));
      });
      test('Delete config[1] blob created in setup', async (t) => {
        if (s.SkipIfDisabled(t, pull) || s.RunOnlyIf(t, s.runPullSetup)) return;
        const req = client.NewRequest('DELETE', '/v2/<name>/blobs/<digest>', WithDigest(s.configs[1]!.Digest));
        const resp = await client.Do(req);
        expectStatus(resp, SatisfyAny(Is2xx, Equal(404), Equal(405)));
      });

      test('Delete layer blob created in setup', async (t) => {
        if (s.SkipIfDisabled(t, pull) || s.RunOnlyIf(t, s.runPullSetup)) return;
        const req = client.NewRequest('DELETE', '/v2/<name>/blobs/<digest>', WithDigest(s.layerBlobDigest));
        const resp = await client.Do(req);
        expectStatus(resp, SatisfyAny(Is2xx, Equal(404), Equal(405)));
      });

      if (!s.deleteManifestBeforeBlobs) {
        test('Delete manifest[0] created in setup', async (t) => {
          if (s.SkipIfDisabled(t, pull) || s.RunOnlyIf(t, s.runPullSetup)) return;
          const req = client.NewRequest('DELETE', '/v2/<name>/manifests/<digest>', WithDigest(s.manifests[0]!.Digest));
          const resp = await client.Do(req);
          expectStatus(resp, SatisfyAny(Is2xx, Equal(405)));
        });
        test('Delete manifest[1] created in setup', async (t) => {
          if (s.SkipIfDisabled(t, pull) || s.RunOnlyIf(t, s.runPullSetup)) return;
          const req = client.NewRequest('DELETE', '/v2/<name>/manifests/<digest>', WithDigest(s.manifests[1]!.Digest));
          const resp = await client.Do(req);
          expectStatus(resp, SatisfyAny(Is2xx, Equal(405)));
        });
      }
    });
  });
}
