/** Media types Cairn understands, named as in the OCI image spec and Docker's distribution docs. */
export const MediaType = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  dockerSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  buildkitCacheConfig: 'application/vnd.buildkit.cacheconfig.v0',
} as const;

/** Manifest media types accepted on PUT and served on GET. */
export const MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set([
  MediaType.ociManifest,
  MediaType.ociIndex,
  MediaType.dockerManifest,
  MediaType.dockerManifestList,
]);

export const SCHEMA1_MEDIA_TYPES: ReadonlySet<string> = new Set([
  MediaType.dockerSchema1,
  MediaType.dockerSchema1Signed,
]);

export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MediaType.ociIndex || mediaType === MediaType.dockerManifestList;
}
