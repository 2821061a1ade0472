/**
 * The OCI runtime bundle's config.json for one step, planned from the step's spec and what the
 * executor prepared (pure: no I/O). The root filesystem is an overlay that runc mounts first,
 * inside the container's own mount namespace, so it disappears with the container even when we
 * are not there to unmount it; then the kernel file systems, the read-only /etc/resolv.conf and
 * /etc/hosts, and the step's own mounts.
 */
import type { ExecMount, ExecSpec } from './executor.js';
import { DEFAULT_CAPABILITIES, DEFAULT_PATH, KERNEL_MOUNTS, MASKED_PATHS, READONLY_PATHS, type OciMount } from './sandbox-defaults.js';
import type { SeccompProfile } from './seccomp.js';
import type { ResolvedUser } from './user.js';

/** Paths the executor prepared for the bundle (absolute, short: see overlayOptions). */
export interface BundlePaths {
  /** Symlinks to the lower directories, top first; an empty directory for `scratch`. */
  readonly lowerLinks: readonly string[];
  readonly upperLink: string;
  readonly workLink: string;
  readonly hostsFile: string;
  readonly resolvConfFile: string;
  /** Host files holding the content of the spec's `file` mounts, in the spec's order. */
  readonly fileSources: readonly string[];
}

export interface BundlePlan {
  readonly spec: Pick<ExecSpec, 'argv' | 'env' | 'cwd' | 'mounts' | 'hostname' | 'limits'>;
  readonly user: ResolvedUser;
  readonly paths: BundlePaths;
  readonly cgroupsPath: string;
  /** A network namespace to join (outbound); a new one with only loopback when undefined. */
  readonly networkNamespace?: string;
  readonly seccomp: SeccompProfile;
}

/** mount(2) takes at most a page of options; longer ones are cut short by the kernel. */
export const MOUNT_OPTIONS_MAX = 4095;

export function overlayOptions(paths: Pick<BundlePaths, 'lowerLinks' | 'upperLink' | 'workLink'>): string {
  return `lowerdir=${paths.lowerLinks.join(':')},upperdir=${paths.upperLink},workdir=${paths.workLink}`;
}

export function ociConfig(plan: BundlePlan): object {
  const { spec, user, paths } = plan;
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      args: spec.argv,
      env: environment(spec.env, user.home),
      cwd: spec.cwd || '/',
      capabilities: {
        bounding: DEFAULT_CAPABILITIES,
        effective: DEFAULT_CAPABILITIES,
        permitted: DEFAULT_CAPABILITIES,
      },
      // A file larger than the step's whole disk budget cannot be written: this stops a single-file
      // disk filler at the limit exactly, where the executor's polling is only as quick as its period.
      rlimits: [{ type: 'RLIMIT_FSIZE', soft: spec.limits.diskBytes, hard: spec.limits.diskBytes }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: false },
    hostname: spec.hostname,
    mounts: [
      { destination: '/', type: 'overlay', source: 'overlay', options: [overlayOptions(paths)] },
      ...KERNEL_MOUNTS,
      readOnlyFile(paths.resolvConfFile, '/etc/resolv.conf'),
      readOnlyFile(paths.hostsFile, '/etc/hosts'),
      ...stepMounts(spec.mounts, paths.fileSources),
    ],
    linux: {
      namespaces: [
        { type: 'pid' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
        { type: 'cgroup' },
        plan.networkNamespace ? { type: 'network', path: plan.networkNamespace } : { type: 'network' },
      ],
      cgroupsPath: plan.cgroupsPath,
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
      seccomp: plan.seccomp,
    },
  };
}

/** The step's environment, with Docker's PATH and the user's HOME when it sets neither. */
function environment(env: readonly string[], home: string): string[] {
  const has = (name: string): boolean => env.some((e) => e.startsWith(`${name}=`));
  return [...(has('PATH') ? [] : [DEFAULT_PATH]), ...(has('HOME') ? [] : [`HOME=${home}`]), ...env];
}

function readOnlyFile(source: string, destination: string): OciMount {
  return { destination, type: 'bind', source, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] };
}

function stepMounts(mounts: readonly ExecMount[], fileSources: readonly string[]): OciMount[] {
  let file = 0;
  return mounts.map((m): OciMount => {
    switch (m.kind) {
      case 'bind':
        return { destination: m.target, type: 'bind', source: m.source, options: ['rbind', m.readonly ? 'ro' : 'rw'] };
      case 'tmpfs':
        return { destination: m.target, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', ...(m.sizeBytes ? [`size=${m.sizeBytes}`] : [])] };
      case 'file':
        return readOnlyFile(fileSources[file++]!, m.target);
    }
  });
}

/** The mount targets a step adds to the root filesystem (where runc may have to create stubs). */
export function mountTargets(mounts: readonly ExecMount[]): string[] {
  return ['/proc', '/dev', '/sys', '/etc/resolv.conf', '/etc/hosts', ...mounts.map((m) => m.target)];
}
