/**
 * Base images: a FROM (or `COPY --from`) image reference resolved in this registry to one
 * platform's manifest and its config. Docker and OCI manifests and indexes are read; an index
 * yields the wanted platform (FROM --platform, else the host's), else linux/amd64.
 */
import type { BuildHost } from '../host.js';
import type { BuildActor } from '../job.js';
import { INDEX_TYPES, MANIFEST_TYPES, pickPlatform, type ImageConfigJson, type Layer, type Platform } from './image.js';

export class BaseImageError extends Error {}

export interface BaseImage {
  readonly repository: string;
  /** The reference as written (for progress), and the platform manifest's digest (the cache root). */
  readonly reference: string;
  readonly manifestDigest: string;
  readonly config: ImageConfigJson;
  readonly layers: readonly Layer[];
}

/**
 * `registry:port/name:tag@digest` → repository and tag or digest in this registry. A leading
 * component that looks like a host (has `.` or `:`, or is `localhost`) names a registry: the
 * build reads its own, whatever host the Dockerfile names.
 */
export function parseImageReference(text: string): { repository: string; reference: string } {
  let rest = text;
  const at = rest.indexOf('@');
  let digest: string | undefined;
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const parts = rest.split('/');
  if (parts.length > 1 && (/[.:]/.test(parts[0]!) || parts[0] === 'localhost')) parts.shift();
  let last = parts.pop() ?? '';
  let tag: string | undefined;
  const colon = last.lastIndexOf(':');
  if (colon >= 0) {
    tag = last.slice(colon + 1);
    last = last.slice(0, colon);
  }
  parts.push(last);
  if (parts[0] === 'library' && parts.length === 2) parts.shift();
  const repository = parts.join('/');
  if (!repository) throw new BaseImageError(`invalid image reference "${text}"`);
  return { repository, reference: digest ?? tag ?? 'latest' };
}

export async function loadBaseImage(host: BuildHost, actor: BuildActor, text: string, platform: Platform): Promise<BaseImage> {
  const { repository, reference } = parseImageReference(text);
  let manifest = denyUnlessPermitted(await host.manifestAs(actor, repository, reference), actor, text);
  if (!manifest) throw new BaseImageError(`base image ${text} not found in this registry (repository "${repository}", reference "${reference}")`);
  let json = parseJson(manifest.payload, text);
  const mediaType = (json.mediaType as string | undefined) ?? manifest.mediaType;
  if (INDEX_TYPES.has(mediaType)) {
    const entries = (Array.isArray(json.manifests) ? json.manifests : []) as Array<{ digest: string; mediaType: string; platform?: Platform }>;
    const picked = pickPlatform(entries, platform);
    if (!picked) throw new BaseImageError(`base image ${text} has no ${platform.os}/${platform.architecture} manifest`);
    manifest = denyUnlessPermitted(await host.manifestAs(actor, repository, picked.digest), actor, text);
    if (!manifest) throw new BaseImageError(`base image ${text}: manifest ${picked.digest} of its index is missing`);
    json = parseJson(manifest.payload, text);
  }
  const type = (json.mediaType as string | undefined) ?? manifest.mediaType;
  if (!MANIFEST_TYPES.has(type)) throw new BaseImageError(`base image ${text} is not an image (media type ${type})`);
  const config = json.config as { digest: string } | undefined;
  const layers = (Array.isArray(json.layers) ? json.layers : []) as Array<{ digest: string; size: number; mediaType: string }>;
  if (!config?.digest) throw new BaseImageError(`base image ${text} has no config`);
  const configJson = parseJson(await readAll(await host.openBlob(repository, config.digest)), text) as unknown as ImageConfigJson;
  const diffIds = configJson.rootfs?.diff_ids ?? [];
  if (diffIds.length !== layers.length) throw new BaseImageError(`base image ${text}: ${layers.length} layers but ${diffIds.length} diff IDs`);
  const created = typeof configJson.created === 'string' ? configJson.created : undefined;
  return {
    repository,
    reference: text,
    manifestDigest: manifest.digest,
    config: { ...configJson, history: Array.isArray(configJson.history) ? configJson.history : [] },
    layers: layers.map((l, i) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType, diffId: diffIds[i]!, ...(created ? { createdAt: created } : {}) })),
  };
}

/** Image configs are small; anything larger is refused rather than read into memory. */
const CONFIG_LIMIT = 4 * 1024 * 1024;

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = chunk as Buffer;
    size += b.byteLength;
    if (size > CONFIG_LIMIT) throw new BaseImageError(`image config over ${CONFIG_LIMIT} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

function parseJson(bytes: Buffer, what: string): Record<string, unknown> {
  try {
    const value = JSON.parse(bytes.toString('utf8')) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new BaseImageError(`base image ${what}: not a JSON object`);
}

/** The same words whether or not the image exists: a denial must not tell who may not pull it anything. */
function denyUnlessPermitted<T>(found: T | 'denied', actor: BuildActor, text: string): T {
  if (found === 'denied') throw new BaseImageError(`pull access denied for base image ${text}: it does not exist or ${actor.name} may not pull it`);
  return found;
}
