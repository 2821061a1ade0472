/**
 * INTERIM, until the engine session's RegistryBuildHost (src/build/registry-host.ts) is merged:
 * the smallest BuildHost over the registry's services that lets a worker read base manifests and
 * push an image. It does no cache lookups (every step misses). When RegistryBuildHost lands,
 * `createBuildHost` returns it instead and this file goes.
 */
import type { Metadata } from '../../metadata/stores/index.js';
import { RegistryError } from '../../registry/errors.js';
import type { Registry } from '../../registry/index.js';
import type { BuildHost, CacheRecordHit } from '../host.js';

export function createBuildHost(metadata: Metadata, registry: Registry): BuildHost {
  return {
    async manifest(repository, reference) {
      try {
        const found = await registry.manifests.resolve(repository, reference);
        return { digest: found.digest, mediaType: found.mediaType, payload: Buffer.from(found.payload) };
      } catch (error) {
        if (error instanceof RegistryError && (error.kind === 'manifest_unknown' || error.kind === 'name_unknown')) return undefined;
        throw error;
      }
    },
    async openBlob(repository, digest) {
      return registry.blobs.open(await registry.blobs.stat(repository, digest));
    },
    async linkBlob(repository, digest, size) {
      const repositoryId = await registry.repositories.findOrCreate(repository);
      await metadata.transaction(async (stores) => {
        await stores.gc.holdBlobForLink(digest);
        await stores.blobs.addToRepository(repositoryId, digest, size);
      });
    },
    async putManifest(repository, reference, mediaType, payload) {
      return { digest: (await registry.manifests.put(repository, reference, mediaType, payload)).digest };
    },
    async lookupCache(): Promise<Map<string, CacheRecordHit>> {
      return new Map();
    },
    async cacheTags() {
      return [];
    },
    async saveSteps() {},
    async latestSteps() {
      return [];
    },
  };
}
