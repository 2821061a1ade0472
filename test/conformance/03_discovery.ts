/**
 * Port of conformance/03_discovery_test.go (opencontainers/distribution-spec @ b5f09ebe541c65857e8721d51a7a3d0e2f1d8749).
 * Spec for spec, in order; each test is named after its g.Specify text. Registered by 00_conformance_suite.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { WithDigest, WithReference, type Request } from './reggie.js';
import {
  Equal,
  Is2xx,
  SatisfyAny,
  Warn,
  artifactTypeFilter,
  contentDiscovery,
  envVarTagList,
  expectEqual,
  expectStatus,
  getTagList,
  goIndex,
  testTagName,
  titleContentDiscovery,
  unmarshalIndex,
  type Suite,
} from './setup.js';

export function test03ContentDiscovery(s: Suite): void {
  const client = s.client;

  describe(titleContentDiscovery, () => {
    let numTags = 4;
    let tagList: string[] = [];

    /** POST an upload, then PUT the whole blob to its Location; expects a 2xx. */
    const pushBlob = async (digest: string, contentLength: string, content: Buffer) => {
      let req = client.NewRequest('POST', '/v2/<name>/blobs/uploads/');
      let resp = await client.Do(req);
      req = client
        .NewRequest('PUT', resp.GetRelativeLocation())
        .SetQueryParam('digest', digest)
        .SetHeader('Content-Type', 'application/octet-stream')
        .SetHeader('Content-Length', contentLength)
        .SetBody(content);
      resp = await client.Do(req);
      expectStatus(resp, Is2xx);
    };

    /** PUT a manifest by reference; expects a 2xx and returns the response. */
    const putManifest = async (reference: string, mediaType: string, content: Buffer) => {
      const req = client
        .NewRequest('PUT', '/v2/<name>/manifests/<reference>', WithReference(reference))
        .SetHeader('Content-Type', mediaType)
        .SetBody(content);
      const resp = await client.Do(req);
      expectStatus(resp, Is2xx);
      return resp;
    };

    describe('Setup', () => {
      test('Populate registry with test blob', async (t) => {
        if (s.SkipIfDisabled(t, contentDiscovery) || s.RunOnlyIf(t, s.runContentDiscoverySetup)) return;
        await pushBlob(s.configs[2]!.Digest, s.configs[2]!.ContentLength, s.configs[2]!.Content);
      });

      test('Populate registry with test layer', async (t) => {
        if (s.SkipIfDisabled(t, contentDiscovery) || s.RunOnlyIf(t, s.runContentDiscoverySetup)) return;
        await pushBlob(s.layerBlobDigest, s.layerBlobContentLength, s.layerBlobData);
      });

      test('Populate registry with test tags', async (t) => {
        if (s.SkipIfDisabled(t, contentDiscovery) || s.RunOnlyIf(t, s.runContentDiscoverySetup)) return;
        for (let i = 0; i < numTags; i++) {
          const tag = `test${i}`;
          tagList.push(tag);
          await putManifest(tag, 'application/vnd.oci.image.manifest.v1+json', s.manifests[2]!.Content);
        }
        const req = client.NewRequest('GET', '/v2/<name>/tags/list');
        const resp = await client.Do(req); // Go ignores err here, then reads resp (a nil resp panics)
        tagList = getTagList(resp);
      });

      test('Populate registry with test tags (no push)', async (t) => {
        if (s.SkipIfDisabled(t, contentDiscovery) || s.RunOnlyIfNot(t, s.runContentDiscoverySetup)) return;
        tagList = (process.env[envVarTagList] ?? '').split(',');
      });

      test('References setup', async (t) => {
        if (s.SkipIfDisabled(t, contentDiscovery) || s.RunOnlyIf(t, s.runContentDiscoverySetup)) return;

        // Populate registry with empty JSON blob
        // validate expected empty JSON blob digest
        expectEqual(s.emptyJSONDescriptor.digest, 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', undefined, 'empty JSON digest');
        await pushBlob(s.emptyJSONDescriptor.digest, String(s.emptyJSONDescriptor.size), s.emptyJSONBlob);

        // Populate registry with reference blob before the image manifest is pushed
        await pushBlob(s.testRefBlobADigest, s.testRefBlobALength, s.testRefBlobA);

        // Populate registry with test references manifest (config.MediaType = artifactType)
        let resp = await putManifest(s.refsManifestAConfigArtifactDigest, 'application/vnd.oci.image.manifest.v1+json', s.refsManifestAConfigArtifactContent);
        expectEqual(resp.Header('OCI-Subject'), s.manifests[4]!.Digest, resp, 'OCI-Subject');

        // Populate registry with test references manifest (ArtifactType, config.MediaType = emptyJSON)
        resp = await putManifest(s.refsManifestALayerArtifactDigest, 'application/vnd.oci.image.manifest.v1+json', s.refsManifestALayerArtifactContent);
        expectEqual(resp.Header('OCI-Subject'), s.manifests[4]!.Digest, resp, 'OCI-Subject');

        // Populate registry with test index manifest
        resp = await putManifest(s.refsIndexArtifactDigest, 'application/vnd.oci.image.index.v1+json', s.refsIndexArtifactContent);
        expectEqual(resp.Header('OCI-Subject'), s.manifests[4]!.Digest, resp, 'OCI-Subject');

        // Populate registry with test blob
        await pushBlob(s.configs[4]!.Digest, s.configs[4]!.ContentLength, s.configs[4]!.Content);

        // Populate registry with test layer
        await pushBlob(s.layerBlobDigest, s.layerBlobContentLength, s.layerBlobData);

        // Populate registry with test manifest
        const tag = testTagName;
        await putManifest(tag, 'application/vnd.oci.image.manifest.v1+json', s.manifests[4]!.Content);

        // Populate registry with reference blob after the image manifest is pushed
        await pushBlob(s.testRefBlobBDigest, s.testRefBlobBLength, s.testRefBlobB);

        // Populate registry with test references manifest (config.MediaType = artifactType)
        resp = await putManifest(s.refsManifestBConfigArtifactDigest, 'application/vnd.oci.image.manifest.v1+json', s.refsManifestBConfigArtifactContent);
        expectEqual(resp.Header('OCI-Subject'), s.manifests[4]!.Digest, resp, 'OCI-Subject');

        // Populate registry with test references manifest (ArtifactType, config.MediaType = emptyJSON)
        resp = await putManifest(s.refsManifestBLayerArtifactDigest, 'application/vnd.oci.image.manifest.v1+json', s.refsManifestBLayerArtifactContent);
        expectEqual(resp.Header('OCI-Subject'), s.manifests[4]!.Digest, resp, 'OCI-Subject');

        // Populate registry with test references manifest to a non-existent subject
        resp = await putManifest(s.refsManifestCLayerArtifactDigest, 'application/vnd.oci.image.manifest.v1+json', s.refsManifestCLayerArtifactContent);
        expectEqual(resp.Header('OCI-Subject'), s.manifests[3]!.Digest, resp, 'OCI-Subject');
      });
    });

    describe('Test content discovery endpoints (listing tags)', () => {
      test('GET request to list tags should yield 200 response', async (t) => {
        if (s.SkipIfDisabled(t, contentDiscovery)) return;
        const req = client.NewRequest('GET', '/v2/<name>/tags/list');
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
        tagList = getTagList(resp);
        numTags = tagList.length;
      });

      test('GET number of tags should be limitable by `n` query parameter', async (t) => {
        if (s.SkipIfDisabled(t, contentDiscovery)) return;
        const numResults = Math.trunc(numTags / 2);
        const req = client.NewRequest('GET', '/v2/<name>/tags/list').SetQueryParam('n', String(numResults));
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
        tagList = getTagList(resp);
        expectEqual(tagList.length, numResults, resp, 'len(tagList)');
      });

      test('GET start of tag is set by `last` query parameter', async (t) => {
        if (s.SkipIfDisabled(t, contentDiscovery)) return;
        const numResults = Math.trunc(numTags / 2);
        let req = client.NewRequest('GET', '/v2/<name>/tags/list').SetQueryParam('n', String(numResults));
        let resp = await client.Do(req);
        tagList = getTagList(resp);
        req = client
          .NewRequest('GET', '/v2/<name>/tags/list')
          .SetQueryParam('n', String(numResults))
          .SetQueryParam('last', goIndex(tagList, numResults - 1));
        resp = await client.Do(req);
        expectStatus(resp, Equal(200));
        // sic: tagList is the first page's, not re-read from this response (as in Go)
        assert.ok(tagList.length <= numResults, `Expected len(tagList) ${tagList.length} <= ${numResults}\n${resp.describe()}`);
        assert.ok(tagList.includes(goIndex(tagList, numResults - 1)));
      });
    });

    describe('Test content discovery endpoints (listing references)', () => {
      test('GET request to nonexistent blob should result in empty 200 response', async (t) => {
        if (s.SkipIfDisabled(t, contentDiscovery)) return;
        const req = client.NewRequest('GET', '/v2/<name>/referrers/<digest>', WithDigest(s.dummyDigest));
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
        expectEqual(resp.Header('Content-Type'), 'application/vnd.oci.image.index.v1+json', resp, 'Content-Type');

        const index = unmarshalIndex(resp);
        expectEqual(index.Manifests.length, 0, resp, 'len(index.Manifests)');
      });

      test('GET request to existing blob should yield 200', async (t) => {
        if (s.SkipIfDisabled(t, contentDiscovery)) return;
        const req = client.NewRequest('GET', '/v2/<name>/referrers/<digest>', WithDigest(s.manifests[4]!.Digest));
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
        expectEqual(resp.Header('Content-Type'), 'application/vnd.oci.image.index.v1+json', resp, 'Content-Type');

        const index = unmarshalIndex(resp);
        expectEqual(index.Manifests.length, 5, resp, 'len(index.Manifests)');
        assert.notEqual(index.Manifests[0]!.Digest, index.Manifests[1]!.Digest, `Expected manifests[0] and [1] to differ\n${resp.describe()}`);
        for (const m of index.Manifests) {
          expectEqual(Object.keys(m.Annotations).length, 1, resp, `len(annotations) of ${m.Digest}`);
          expectEqual(m.Annotations[s.testAnnotationKey] ?? '', s.testAnnotationValues.get(m.Digest) ?? '', resp, `annotation of ${m.Digest}`);
        }
      });

      test('GET request to existing blob with filter should yield 200', async (t) => {
        if (s.SkipIfDisabled(t, contentDiscovery)) return;
        const req = client
          .NewRequest('GET', '/v2/<name>/referrers/<digest>', WithDigest(s.manifests[4]!.Digest))
          .SetQueryParam('artifactType', s.testRefArtifactTypeA);
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
        expectEqual(resp.Header('Content-Type'), 'application/vnd.oci.image.index.v1+json', resp, 'Content-Type');

        const index = unmarshalIndex(resp);

        // also check resp header "OCI-Filters-Applied: artifactType" denoting that an artifactType filter was applied
        if (resp.Header('OCI-Filters-Applied') !== '') {
          expectEqual(index.Manifests.length, 2, resp, 'len(index.Manifests)');
          expectEqual(resp.Header('OCI-Filters-Applied'), artifactTypeFilter, resp, 'OCI-Filters-Applied');
          for (const m of index.Manifests) {
            expectEqual(Object.keys(m.Annotations).length, 1, resp, `len(annotations) of ${m.Digest}`);
            expectEqual(m.Annotations[s.testAnnotationKey] ?? '', s.testAnnotationValues.get(m.Digest) ?? '', resp, `annotation of ${m.Digest}`);
          }
        } else {
          expectEqual(index.Manifests.length, 5, resp, 'len(index.Manifests)');
          for (const m of index.Manifests) {
            expectEqual(Object.keys(m.Annotations).length, 1, resp, `len(annotations) of ${m.Digest}`);
            expectEqual(m.Annotations[s.testAnnotationKey] ?? '', s.testAnnotationValues.get(m.Digest) ?? '', resp, `annotation of ${m.Digest}`);
          }
          Warn(t, 'filtering by artifact-type is not implemented');
        }
      });

      test('GET request to missing manifest should yield 200', async (t) => {
        if (s.SkipIfDisabled(t, contentDiscovery)) return;
        const req = client.NewRequest('GET', '/v2/<name>/referrers/<digest>', WithDigest(s.manifests[3]!.Digest));
        const resp = await client.Do(req);
        expectStatus(resp, Equal(200));
        expectEqual(resp.Header('Content-Type'), 'application/vnd.oci.image.index.v1+json', resp, 'Content-Type');

        const index = unmarshalIndex(resp);
        expectEqual(index.Manifests.length, 1, resp, 'len(index.Manifests)');
        expectEqual(index.Manifests[0]!.Digest, s.refsManifestCLayerArtifactDigest, resp, 'manifests[0].digest');
      });
    });

    describe('Teardown', () => {
      const deleteCreatedManifests = async () => {
        const references = [
          s.refsIndexArtifactDigest,
          s.manifests[2]!.Digest,
          s.manifests[4]!.Digest,
          s.refsManifestAConfigArtifactDigest,
          s.refsManifestALayerArtifactDigest,
          testTagName, // sic: a tag, sent through WithDigest to /manifests/<digest>
          s.refsManifestBConfigArtifactDigest,
          s.refsManifestBLayerArtifactDigest,
          s.refsManifestCLayerArtifactDigest,
        ];
        for (const ref of references) {
          const req = client.NewRequest('DELETE', '/v2/<name>/manifests/<digest>', WithDigest(ref));
          const resp = await client.Do(req);
          expectStatus(resp, SatisfyAny(Is2xx, Equal(405), Equal(404)));
        }
      };

      if (s.deleteManifestBeforeBlobs) {
        test('Delete created manifest & associated tags', async (t) => {
          if (s.SkipIfDisabled(t, contentDiscovery) || s.RunOnlyIf(t, s.runContentDiscoverySetup)) return;
          await deleteCreatedManifests();
        });
      }

      test('Delete config blob created in tests', async (t) => {
        if (s.SkipIfDisabled(t, contentDiscovery) || s.RunOnlyIf(t, s.runContentDiscoverySetup)) return;
        const req = client.NewRequest('DELETE', '/v2/<name>/blobs/<digest>', WithDigest(s.configs[2]!.Digest));
        const resp = await client.Do(req);
        expectStatus(resp, SatisfyAny(Is2xx, Equal(405)));
      });

      test('Delete layer blob created in setup', async (t) => {
        if (s.SkipIfDisabled(t, contentDiscovery) || s.RunOnlyIf(t, s.runContentDiscoverySetup)) return;
        const req = client.NewRequest('DELETE', '/v2/<name>/blobs/<digest>', WithDigest(s.layerBlobDigest));
        const resp = await client.Do(req);
        expectStatus(resp, SatisfyAny(Is2xx, Equal(405)));
      });

      if (!s.deleteManifestBeforeBlobs) {
        test('Delete created manifest & associated tags', async (t) => {
          if (s.SkipIfDisabled(t, contentDiscovery) || s.RunOnlyIf(t, s.runContentDiscoverySetup)) return;
          await deleteCreatedManifests();
        });
      }

      test('References teardown', async (t) => {
        if (s.SkipIfDisabled(t, contentDiscovery) || s.RunOnlyIf(t, s.runContentDiscoverySetup)) return;

        const deleteReq = async (req: Request) => {
          const resp = await client.Do(req);
          expectStatus(resp, SatisfyAny(Is2xx, Equal(405), Equal(404)));
        };
        const deleteManifests = async () => {
          await deleteReq(client.NewRequest('DELETE', '/v2/<name>/manifests/<reference>', WithReference(s.refsIndexArtifactDigest)));
          await deleteReq(client.NewRequest('DELETE', '/v2/<name>/manifests/<reference>', WithReference(s.refsManifestAConfigArtifactDigest)));
          await deleteReq(client.NewRequest('DELETE', '/v2/<name>/manifests/<reference>', WithReference(s.refsManifestALayerArtifactDigest)));
          await deleteReq(client.NewRequest('DELETE', '/v2/<name>/manifests/<digest>', WithDigest(s.manifests[4]!.Digest)));
          await deleteReq(client.NewRequest('DELETE', '/v2/<name>/manifests/<reference>', WithReference(s.refsManifestBConfigArtifactDigest)));
          await deleteReq(client.NewRequest('DELETE', '/v2/<name>/manifests/<reference>', WithReference(s.refsManifestBLayerArtifactDigest)));
        };

        if (s.deleteManifestBeforeBlobs) await deleteManifests();

        // Delete config blob created in setup
        await deleteReq(client.NewRequest('DELETE', '/v2/<name>/blobs/<digest>', WithDigest(s.configs[4]!.Digest)));

        // Delete reference blob created in setup
        await deleteReq(client.NewRequest('DELETE', '/v2/<name>/blobs/<digest>', WithDigest(s.testRefBlobADigest)));
        await deleteReq(client.NewRequest('DELETE', '/v2/<name>/blobs/<digest>', WithDigest(s.testRefBlobBDigest)));

        // Delete empty JSON blob created in setup
        await deleteReq(client.NewRequest('DELETE', '/v2/<name>/blobs/<digest>', WithDigest(s.emptyJSONDescriptor.digest)));

        // Delete manifest created in setup
        if (!s.deleteManifestBeforeBlobs) await deleteManifests();
      });
    });
  });
}
