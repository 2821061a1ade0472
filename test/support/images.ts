// Builds a tiny busybox-based test image without pulling anything: the machine has no internet, so the
// clients' base image is made here from /bin/busybox (Debian's busybox-static) and written either as an
// OCI image layout directory (skopeo, podman, buildah, ctr import) or as a `docker save` archive (dockerd
// 20.10's `docker load` does not read OCI layouts).
//
// Output is deterministic for the same options: tar runs with fixed owners and mtimes and gzip with node's
// zlib, so digests are stable across runs and machines with the same busybox.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const BUSYBOX = '/bin/busybox';
// What the tests' Containerfiles and `run` commands need; everything else stays out to keep the layer small.
const APPLETS = ['sh', 'ls', 'cat', 'echo', 'true', 'false', 'mkdir', 'rm', 'sleep', 'env', 'touch', 'test'];

export const MediaTypes = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export interface ImageOptions {
  /** Adds one regular file to the rootfs so that images from different tests have different digests. */
  extraFile?: { path: string; content: string };
}

export interface LayoutOptions extends ImageOptions {
  /** The tag recorded as org.opencontainers.image.ref.name in index.json. */
  tag: string;
}

export interface BuiltImage {
  manifestDigest: string;
  manifestSize: number;
  configDigest: string;
  layerDigest: string;
  /** sha256 of the uncompressed layer tar, as listed in the config's rootfs.diff_ids. */
  diffId: string;
  manifest: Buffer;
  config: Buffer;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

function hex(digest: string): string {
  return digest.slice('sha256:'.length);
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}): ${r.stderr || r.error?.message}`);
  }
}

/** Writes a rootfs with busybox, its applet symlinks and the optional extra file into dir. */
export function makeBusyboxRootfs(dir: string, options: ImageOptions = {}): void {
  if (!existsSync(BUSYBOX)) {
    throw new Error(`${BUSYBOX} not found: apt-get install busybox-static (scripts/ci/install-clients.sh)`);
  }
  mkdirSync(join(dir, 'bin'), { recursive: true });
  mkdirSync(join(dir, 'tmp'), { recursive: true });
  copyFileSync(BUSYBOX, join(dir, 'bin', 'busybox'));
  for (const applet of APPLETS) symlinkSync('busybox', join(dir, 'bin', applet));
  if (options.extraFile) {
    const path = join(dir, options.extraFile.path.replace(/^\/+/, ''));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, options.extraFile.content);
  }
}

/** Packs the rootfs as one layer: returns the uncompressed tar and its gzip. */
function packLayer(options: ImageOptions): { tar: Buffer; gz: Buffer } {
  const work = mkdtempSync('/tmp/cairn-clients-layer-');
  try {
    const rootfs = join(work, 'rootfs');
    makeBusyboxRootfs(rootfs, options);
    const tarFile = join(work, 'layer.tar');
    // Fixed owner, mtime and order: the layer digest must not depend on when or by whom it was built.
    run('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--format=gnu',
      '-C', rootfs, '-cf', tarFile, '.']);
    const tar = readFileSync(tarFile);
    return { tar, gz: gzipSync(tar) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function imageConfig(diffId: string): Buffer {
  const config = {
    created: '1970-01-01T00:00:00Z',
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/bin'], Cmd: ['sh'] },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created: '1970-01-01T00:00:00Z', created_by: 'cairn test/support/images.ts' }],
  };
  return Buffer.from(JSON.stringify(config));
}

/** Builds the blobs of the busybox image (layer, config, OCI manifest) in memory. */
export function buildBusyboxImage(options: ImageOptions = {}): BuiltImage & { layer: Buffer; layerTar: Buffer } {
  const { tar, gz } = packLayer(options);
  const diffId = sha256(tar);
  const layerDigest = sha256(gz);
  const config = imageConfig(diffId);
  const configDigest = sha256(config);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: { mediaType: MediaTypes.ociConfig, digest: configDigest, size: config.length },
    layers: [{ mediaType: MediaTypes.ociLayerGzip, digest: layerDigest, size: gz.length }],
  }));
  return {
    manifest, manifestDigest: sha256(manifest), manifestSize: manifest.length,
    config, configDigest, layer: gz, layerTar: tar, layerDigest, diffId,
  };
}

function writeBlob(layoutDir: string, data: Buffer): void {
  const path = join(layoutDir, 'blobs', 'sha256', hex(sha256(data)));
  if (!existsSync(path)) writeFileSync(path, data);
}

function readIndexManifests(layoutDir: string): Descriptor[] {
  const indexPath = join(layoutDir, 'index.json');
  if (!existsSync(indexPath)) return [];
  return (JSON.parse(readFileSync(indexPath, 'utf8')) as { manifests?: Descriptor[] }).manifests ?? [];
}

/**
 * Writes (or adds to) an OCI image layout at dir holding the busybox image under `tag`. An existing entry
 * with the same tag is replaced, so several tags/images can share one layout. Clients address it as
 * `oci:DIR:TAG`. podman and buildah name the image after DIR, so keep DIR lowercase (see tempDir()).
 */
export function buildBusyboxOciLayout(dir: string, options: LayoutOptions): BuiltImage {
  const image = buildBusyboxImage(options);
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  for (const blob of [image.layer, image.config, image.manifest]) writeBlob(dir, blob);

  const refName = 'org.opencontainers.image.ref.name';
  const manifests = readIndexManifests(dir).filter((d) => d.annotations?.[refName] !== options.tag);
  manifests.push({
    mediaType: MediaTypes.ociManifest,
    digest: image.manifestDigest,
    size: image.manifestSize,
    annotations: { [refName]: options.tag },
  });
  writeFileSync(join(dir, 'index.json'),
    JSON.stringify({ schemaVersion: 2, mediaType: MediaTypes.ociIndex, manifests }));
  return stripBlobs(image);
}

/**
 * Writes a `docker save`-format tar (manifest.json + config + uncompressed layer.tar) loadable by
 * `docker load` in docker 20.10, which predates OCI-layout support in `docker load` (docker 25).
 * The image is tagged repoTag (e.g. "cairn-test/busybox:v1") once loaded.
 */
export function buildBusyboxDockerArchive(file: string, repoTag: string, options: ImageOptions = {}): BuiltImage {
  const image = buildBusyboxImage(options);
  const staging = mkdtempSync('/tmp/cairn-clients-archive-');
  try {
    const configName = `${hex(image.configDigest)}.json`;
    const layerName = `${hex(image.diffId)}/layer.tar`;
    writeFileSync(join(staging, configName), image.config);
    mkdirSync(join(staging, hex(image.diffId)));
    writeFileSync(join(staging, layerName), image.layerTar);
    writeFileSync(join(staging, 'manifest.json'),
      JSON.stringify([{ Config: configName, RepoTags: [repoTag], Layers: [layerName] }]));
    run('tar', ['--owner=0', '--group=0', '--numeric-owner', '-C', staging, '-cf', file, '.']);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return stripBlobs(image);
}

function stripBlobs(image: BuiltImage & { layer: Buffer; layerTar: Buffer }): BuiltImage {
  const { layer: _layer, layerTar: _layerTar, ...rest } = image;
  return rest;
}
