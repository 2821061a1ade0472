/**
 * Port of conformance/04_management_test.go (opencontainers/distribution-spec @ 3c7a4ac8186fe1307bac6857bfdb48fc190ed57f).
 * Spec for spec, in order; each test is named after its g.Specify text. Registered by 00_conformance_suite.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WithDigest, WithReference } from './reggie.js';
import {
  Equal,
  Is2xx,
  SatisfyAny,
  UNSUPPORTED,
  contentManagement,
  errorCodes,
  expectEqual,
  expectStatus,
  responseErrors,
  titleContentManagement,
  unmarshalTagList,
  type Suite,
} from './setup.js';

export function test04ContentManagement(s: Suite): void {
  const client = s.client;

  describe(titleContentManagement, () => {
    const defaultTagName = 'tagtest0';
    let tagToDelete = '';
    let numTags = 0;
    let blobDeleteAllowed = true;

    describe('Setup', () => {
      test('Populate registry with test config blob', async (t) => {
        if (s.SkipIfDisabled(t, contentManagement) || s.RunOnlyIf(t, s.runContentManagementSetup)) return;
        let req = client.NewRequest('POST', '/v2/<name>/blobs/uploads/');
        let resp = await client.Do(req);
        req = client
          .NewRequest('PUT', resp.GetRelativeLocation())
          .SetHeader('Content-Length', s.configs[3]!.ContentLength)
          .SetHeader('Content-Type', 'application/octet-stream')
          .SetQueryParam('digest', s.configs[3]!.Digest)
          .SetBody(s.configs[3]!.Content);
        resp = await client.Do(req);
        expectStatus(resp, Is2xx);
      });

      test('Populate registry with test layer', async (t) => {
        if (s.SkipIfDisabled(t, contentManagement) || s.RunOnlyIf(t, s.runContentManagementSetup)) return;
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

      test('Populate registry with test tag', async (t) => {
        if (s.SkipIfDisabled(t, contentManagement) || s.RunOnlyIf(t, s.runContentManagementSetup)) return;
        tagToDelete = defaultTagName;
        const req = client
          .NewRequest('PUT', '/v2/<name>/manifests/<reference>', WithReference(tagToDelete))
          .SetHeader('Content-Type', 'application/vnd.oci.image.manifest.v1+json')
          .SetBody(s.manifests[3]!.Content);
        const resp = await client.Do(req);
        expectStatus(resp, Is2xx);
      });

      test('Check how many tags there are before anything gets deleted', async (t) => {
        if (s.SkipIfDisabled(t, contentManagement) || s.RunOnlyIf(t, s.runContentManagementSetup)) return;
        const req = client.NewRequest('GET', '/v2/<name>/tags/list');
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
        const { tags, err } = unmarshalTagList(resp.String());
        assert.equal(err, undefined, `Expected json.Unmarshal error to be nil\n${resp.describe()}`);
        numTags = tags.length;
      });
    });

    describe('Manifest delete', () => {
      test('DELETE request to manifest tag should return 202, unless tag deletion is disallowed (400/405)', async (t) => {
        if (s.SkipIfDisabled(t, contentManagement)) return;
        const req = client.NewRequest('DELETE', '/v2/<name>/manifests/<reference>', WithReference(tagToDelete));
        const resp = await client.Do(req);
        expectStatus(resp, SatisfyAny(Equal(400), Equal(202), Equal(405)));
        if (resp.StatusCode() === 400) {
          const { codes, err } = responseErrors(resp);
          assert.equal(err, undefined, `Expected resp.Errors() error to be nil\n${resp.describe()}`);
          assert.ok(codes.length > 0, `Expected errorResponses not to be empty\n${resp.describe()}`);
          expectEqual(codes[0], errorCodes[UNSUPPORTED], resp, 'error code');
        }
      });

      test('DELETE request to manifest (digest) should yield 202 response unless already deleted', async (t) => {
        if (s.SkipIfDisabled(t, contentManagement)) return;
        const req = client.NewRequest('DELETE', '/v2/<name>/manifests/<digest>', WithDigest(s.manifests[3]!.Digest));
        const resp = await client.Do(req);
        // In the case that the previous request was accepted, this may or may not fail (which is ok)
        expectStatus(resp, SatisfyAny(Equal(202), Equal(404)));
      });

      test('GET request to deleted manifest URL should yield 404 response, unless delete is disallowed', async (t) => {
        if (s.SkipIfDisabled(t, contentManagement)) return;
        const req = client.NewRequest('GET', '/v2/<name>/manifests/<digest>', WithDigest(s.manifests[3]!.Digest));
        const resp = await client.Do(req);
        expectStatus(resp, SatisfyAny(Equal(404), Equal(200)));
      });

      test('GET request to tags list should reflect manifest deletion', async (t) => {
        if (s.SkipIfDisabled(t, contentManagement)) return;
        const req = client.NewRequest('GET', '/v2/<name>/tags/list');
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
        const { tags, err } = unmarshalTagList(resp.String());
        assert.equal(err, undefined, `Expected json.Unmarshal error to be nil\n${resp.describe()}`);
        assert.ok(tags.length < numTags, `Expected len(tagList.Tags) ${tags.length} < ${numTags}\n${resp.describe()}`);
      });
    });

    describe('Blob delete', () => {
      test('DELETE request to blob URL should yield 202 response', async (t) => {
        if (s.SkipIfDisabled(t, contentManagement) || s.RunOnlyIf(t, s.runContentManagementSetup)) return;
        // config blob
        let req = client.NewRequest('DELETE', '/v2/<name>/blobs/<digest>', WithDigest(s.configs[3]!.Digest));
        let resp = await client.Do(req);
        expectStatus(resp, SatisfyAny(Equal(202), Equal(404), Equal(405)));
        // layer blob
        req = client.NewRequest('DELETE', '/v2/<name>/blobs/<digest>', WithDigest(s.layerBlobDigest));
        resp = await client.Do(req);
        expectStatus(resp, SatisfyAny(Equal(202), Equal(404), Equal(405)));
        if (resp.StatusCode() === 405) blobDeleteAllowed = false;
      });

      test('GET request to deleted blob URL should yield 404 response', async (t) => {
        if (s.SkipIfDisabled(t, contentManagement) || s.RunOnlyIf(t, s.runContentManagementSetup) || s.RunOnlyIf(t, blobDeleteAllowed)) return;
        const req = client.NewRequest('GET', '/v2/<name>/blobs/<digest>', WithDigest(s.configs[3]!.Digest));
        const resp = await client.Do(req);
        expectStatus(resp, Equal(404));
      });
    });

    // g.Context("Teardown"): TODO: delete blob+tag? No teardown required at this time for content management tests
  });
}
