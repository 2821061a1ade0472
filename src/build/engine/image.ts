/**
 * Image configs and manifests as BuildKit writes them (learned from BuildKit v0.24 results in
 * test/fixtures/buildkit and its `dockerfile2llb`): one history entry per instruction with
 * `comment: buildkit.dockerfile.v0`, `empty_layer: true` for config-only ones, RUN/COPY/ADD texts
 * ending in ` # buildkit`, `COPY --from` shown without its flag, CMD/ENTRYPOINT as Go prints a
 * string slice. Pure: base images are read by the caller.
 */
import type { ImageConfigState, Step } from '../dockerfile/model.js';

export const MEDIA_TYPES = {
  oci: {
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: { gzip: 'application/vnd.oci.image.layer.v1.tar+gzip', zstd: 'application/vnd.oci.image.layer.v1.tar+zstd', none: 'application/vnd.oci.image.layer.v1.tar' },
  },
  docker: {
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layer: { gzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip', zstd: 'application/vnd.oci.image.layer.v1.tar+zstd', none: 'application/vnd.docker.image.rootfs.diff.tar' },
  },
} as const;

export const INDEX_TYPES: ReadonlySet<string> = new Set(['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json']);
export const MANIFEST_TYPES: ReadonlySet<string> = new Set([MEDIA_TYPES.oci.manifest, MEDIA_TYPES.docker.manifest]);

export interface Layer {
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
  readonly diffId: string;
  /** When the layer was made (BuildKit's `buildkit/createdat`). */
  readonly createdAt?: string;
}

export interface HistoryEntry {
  created?: string;
  created_by?: string;
  comment?: string;
  empty_layer?: boolean;
  author?: string;
}

/** The image config JSON (OCI image config; Docker's is the same document). */
export interface ImageConfigJson {
  architecture: string;
  os: string;
  variant?: string;
  config: Record<string, unknown>;
  created?: string;
  history: HistoryEntry[];
  rootfs: { type: 'layers'; diff_ids: string[] };
  [other: string]: unknown;
}

export interface Platform {
  readonly os: string;
  readonly architecture: string;
  readonly variant?: string;
}

export const EMPTY_CONFIG: ImageConfigState = { env: [], exposedPorts: [], volumes: [], labels: {} };

/** BuildKit's PATH for images that set none (scratch included). */
export const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The config state a stage starts from, read from its base image's config. */
export function configState(image: ImageConfigJson | undefined): ImageConfigState {
  const c = (image?.config ?? {}) as Record<string, unknown>;
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined);
  const keys = (v: unknown) => (v && typeof v === 'object' ? Object.keys(v as object) : []);
  const env = strings(c.Env) ?? [];
  const hc = c.Healthcheck as Record<string, unknown> | undefined;
  const state: Record<string, unknown> = {
    env: env.some((e) => e.startsWith('PATH=')) ? env : [DEFAULT_PATH, ...env],
    exposedPorts: keys(c.ExposedPorts),
    volumes: keys(c.Volumes),
    labels: { ...((c.Labels as Record<string, string> | undefined) ?? {}) },
    entrypoint: strings(c.Entrypoint),
    cmd: strings(c.Cmd),
    user: typeof c.User === 'string' && c.User !== '' ? c.User : undefined,
    workingDir: typeof c.WorkingDir === 'string' && c.WorkingDir !== '' ? c.WorkingDir : undefined,
    stopSignal: typeof c.StopSignal === 'string' ? c.StopSignal : undefined,
    shell: strings(c.Shell),
    onBuild: strings(c.OnBuild),
    argsEscaped: c.ArgsEscaped === true ? true : undefined,
    author: typeof image?.author === 'string' && image.author !== '' ? image.author : undefined,
    healthcheck: hc && Array.isArray(hc.Test)
      ? dropUndefined({
          test: strings(hc.Test) ?? [],
          interval: num(hc.Interval),
          timeout: num(hc.Timeout),
          startPeriod: num(hc.StartPeriod),
          startInterval: num(hc.StartInterval),
          retries: num(hc.Retries),
        })
      : undefined,
  };
  return dropUndefined(state) as unknown as ImageConfigState;
}

/** The `config` object of the image config for a stage's final state (Docker's field names). */
export function configObject(state: ImageConfigState): Record<string, unknown> {
  const set = (list: readonly string[]) => (list.length > 0 ? Object.fromEntries([...list].sort().map((p) => [p, {}])) : undefined);
  const hc = state.healthcheck;
  return dropUndefined({
    User: state.user,
    ExposedPorts: set(state.exposedPorts),
    Env: state.env.length > 0 ? [...state.env] : undefined,
    Entrypoint: state.entrypoint ? [...state.entrypoint] : undefined,
    Cmd: state.cmd ? [...state.cmd] : undefined,
    Volumes: set(state.volumes),
    WorkingDir: state.workingDir,
    Labels: Object.keys(state.labels).length > 0 ? { ...state.labels } : undefined,
    StopSignal: state.stopSignal,
    Shell: state.shell ? [...state.shell] : undefined,
    OnBuild: state.onBuild && state.onBuild.length > 0 ? [...state.onBuild] : undefined,
    Healthcheck: hc
      ? dropUndefined({ Test: [...hc.test], Interval: hc.interval, Timeout: hc.timeout, StartPeriod: hc.startPeriod, StartInterval: hc.startInterval, Retries: hc.retries })
      : undefined,
    ArgsEscaped: state.argsEscaped ? true : undefined,
  });
}

/** The step's history entry: BuildKit's text (from the frontend), the step's time, empty or not. */
export function historyEntry(step: Step, created: string | undefined, emptyLayer: boolean): HistoryEntry {
  return dropUndefined({ created, created_by: step.createdBy, comment: 'buildkit.dockerfile.v0', empty_layer: emptyLayer ? true : undefined });
}

/** The image config of a stage's result. */
export function imageConfig(args: {
  base: ImageConfigJson | undefined;
  platform: Platform;
  state: ImageConfigState;
  history: readonly HistoryEntry[];
  layers: readonly Layer[];
}): ImageConfigJson {
  const created = [...args.history].reverse().find((h) => h.created)?.created;
  return dropUndefined({
    architecture: args.platform.architecture,
    os: args.platform.os,
    variant: args.platform.variant,
    author: args.state.author,
    config: configObject(args.state),
    created,
    history: [...args.history],
    rootfs: { type: 'layers' as const, diff_ids: args.layers.map((l) => l.diffId) },
  }) as ImageConfigJson;
}

/** A layer's media type in the requested format (a Docker base's layers in an OCI image, and back). */
export function layerMediaType(mediaType: string, format: 'oci' | 'docker'): string {
  const compression = /zstd/.test(mediaType) ? 'zstd' : /gzip/.test(mediaType) ? 'gzip' : /tar$/.test(mediaType) ? 'none' : undefined;
  return compression ? MEDIA_TYPES[format].layer[compression] : mediaType;
}

export function imageManifest(format: 'oci' | 'docker', config: { digest: string; size: number }, layers: readonly Layer[]): Buffer {
  const types = MEDIA_TYPES[format];
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: types.manifest,
      config: { mediaType: types.config, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: layerMediaType(l.mediaType, format), digest: l.digest, size: l.size })),
    }),
  );
}

/** The host's platform in OCI terms (Node's names mapped). */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch, ...(process.arch === 'arm64' ? { variant: 'v8' } : {}) };
}

/** Parses `os/arch[/variant]`. */
export function parsePlatform(text: string): Platform | undefined {
  const [os, architecture, variant] = text.split('/');
  if (!os || !architecture) return undefined;
  return { os, architecture, ...(variant ? { variant } : {}) };
}

/**
 * The entry of an index to build on: the wanted platform, else linux/amd64, else the only
 * linux one. Attestation manifests (`unknown/unknown`) are never picked.
 */
export function pickPlatform(
  entries: ReadonlyArray<{ digest: string; mediaType: string; platform?: { os?: string; architecture?: string; variant?: string } }>,
  wanted: Platform,
): { digest: string; mediaType: string } | undefined {
  const usable = entries.filter((e) => e.platform?.os && e.platform.os !== 'unknown');
  const match = (p: Platform) =>
    usable.find((e) => e.platform!.os === p.os && e.platform!.architecture === p.architecture && (!p.variant || !e.platform!.variant || e.platform!.variant === p.variant));
  return match(wanted) ?? match({ os: 'linux', architecture: 'amd64' }) ?? (usable.length === 1 ? usable[0] : undefined);
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

function dropUndefined<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}
