/**
 * The Executor under runc: one `runc run` per step from a bundle made for it (see bundle.ts for
 * the container it describes), with a cgroup of ours around runc's for the limits (cgroups.ts),
 * an optional slirp4netns network (network.ts), and a watchdog that ends the step when a limit
 * is hit, the time is up or the build is cancelled.
 *
 * One process per step on the hot path: the bundle, the cgroup and the mount stubs are handled
 * in-process, runc mounts the overlay itself inside the container's mount namespace (so no mount
 * or umount runs, and none can be left behind), and the step's stdout/stderr pipes are handed to
 * the container's process by runc as they are, so output streams with no copy in between.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MOUNT_OPTIONS_MAX, mountTargets, ociConfig, overlayOptions, type BundlePaths } from './bundle.js';
import { CgroupHost, type StepCgroup } from './cgroups.js';
import { checkEnvironment } from './check.js';
import { MountTargetInvalidError, SandboxStartError } from './errors.js';
import type { ExecResult, ExecSpec, Executor } from './executor.js';
import { LayeredView } from './layered-view.js';
import { SLIRP_DNS, startOutboundNetwork, type OutboundNetwork } from './network.js';
import { seccompProfile, type SeccompProfile } from './seccomp.js';
import { findMountStubs, removeMountStubs } from './stubs.js';
import { resolveUser } from './user.js';
import { Watchdog } from './watchdog.js';

export interface RuncExecutorOptions {
  readonly runc?: string;
  readonly slirp4netns?: string;
  /** runc's state directory (`runc --root`), ours alone. */
  readonly stateDir?: string;
  /**
   * Where step bundles are made. Keep it short: the overlay's lower directories are named by
   * links in the bundle, and all of them must fit in one page of mount options.
   */
  readonly bundleRoot?: string;
  /** Name of the cgroup under which each step gets its own. */
  readonly cgroupParent?: string;
  /** Whether steps may have network 'outbound' (check() then requires slirp4netns). Default true. */
  readonly outbound?: boolean;
}

interface Environment {
  readonly cgroups: CgroupHost;
  readonly seccomp: SeccompProfile;
}

const CANCELLED: ExecResult = { exitCode: 137, killedBy: 'cancel', durationMs: 0 };

export class RuncExecutor implements Executor {
  private readonly runc: string;
  private readonly slirp4netns: string;
  private readonly stateDir: string;
  private readonly bundleRoot: string;
  private readonly cgroupParent: string;
  private readonly outbound: boolean;
  private environment: Promise<Environment> | undefined;

  constructor(options: RuncExecutorOptions = {}) {
    this.runc = options.runc ?? 'runc';
    this.slirp4netns = options.slirp4netns ?? 'slirp4netns';
    this.stateDir = options.stateDir ?? '/run/cairn-runc';
    this.bundleRoot = options.bundleRoot ?? '/run/cairn-exec';
    this.cgroupParent = options.cgroupParent ?? 'cairn-build';
    this.outbound = options.outbound ?? true;
  }

  check(): Promise<void> {
    return this.ready().then(() => undefined);
  }

  private ready(): Promise<Environment> {
    this.environment ??= checkEnvironment({ runc: this.runc, slirp4netns: this.outbound ? this.slirp4netns : undefined, cgroupParent: this.cgroupParent }).then(
      ({ cgroups, arch }) => ({ cgroups, seccomp: seccompProfile(arch) }),
    );
    // A failed check is not cached: the administrator may install what was missing.
    this.environment.catch(() => (this.environment = undefined));
    return this.environment;
  }

  async run(spec: ExecSpec): Promise<ExecResult> {
    const started = performance.now();
    const env = await this.ready();
    if (spec.signal.aborted) return CANCELLED;
    if (spec.network === 'outbound' && !this.outbound) throw new SandboxStartError('outbound networking is turned off for this worker');
    for (const mount of spec.mounts) checkMountTarget(mount.target);

    const lowers = [...spec.lowerDirs].reverse();
    const view = new LayeredView([spec.upperDir, ...lowers]);
    const [passwd, group] = await Promise.all([view.readFile('/etc/passwd'), view.readFile('/etc/group')]);
    const user = resolveUser(spec.user, passwd, group);
    const stubs = await findMountStubs(new LayeredView(lowers), mountTargets(spec.mounts));

    const step = new StepResources();
    try {
      await mkdir(this.bundleRoot, { recursive: true, mode: 0o700 });
      const bundle = step.add(await mkdtemp(`${this.bundleRoot}/`), (dir) => rm(dir, { recursive: true, force: true }));
      const workDir = step.add(await mkdtemp(join(dirname(spec.upperDir), `.${basename(spec.upperDir)}.work-`)), (dir) => rm(dir, { recursive: true, force: true }));
      const network = spec.network === 'outbound' ? step.add(await startOutboundNetwork(this.slirp4netns), (n: OutboundNetwork) => n.close()) : undefined;
      const paths = await writeBundleFiles(bundle, spec, workDir, network !== undefined);
      const id = `cairn-${randomBytes(8).toString('hex')}`;
      const cgroup = step.add(await env.cgroups.create(id, spec.limits), (c: StepCgroup) => c.remove());
      const config = ociConfig({ spec, user, paths, cgroupsPath: cgroup.runcPath, networkNamespace: network?.namespacePath, seccomp: env.seccomp });
      await writeFile(join(bundle, 'config.json'), JSON.stringify(config));

      const outcome = await this.runContainer(id, bundle, spec, cgroup);
      const result = { ...outcome, durationMs: Math.round(performance.now() - started) };
      await step.close();
      await removeMountStubs(spec.upperDir, stubs);
      return result;
    } finally {
      await step.close();
    }
  }

  private async runContainer(id: string, bundle: string, spec: ExecSpec, cgroup: StepCgroup): Promise<Omit<ExecResult, 'durationMs'>> {
    const log = join(bundle, 'runc.log');
    const pidFile = join(bundle, 'pid');
    const child = spawn(this.runc, ['--root', this.stateDir, '--log', log, '--log-format', 'json', 'run', '--bundle', bundle, '--pid-file', pidFile, id], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (chunk: Buffer) => spec.onOutput(chunk, 'stdout'));
    child.stderr.on('data', (chunk: Buffer) => spec.onOutput(chunk, 'stderr'));
    const watchdog = new Watchdog({ spec, cgroup, pidFile, runcExited: () => child.exitCode !== null || child.signalCode !== null });
    watchdog.start();
    try {
      const [code] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
      await watchdog.stop();
      const exitCode = code ?? 137;
      const killedBy = watchdog.killedBy ?? (exitCode !== 0 ? await watchdog.limitHitAtExit() : undefined);
      if (exitCode === 1 && !killedBy) {
        const failure = await startFailure(log);
        if (failure) return { exitCode: failure.exitCode };
      }
      return killedBy ? { exitCode, killedBy } : { exitCode };
    } finally {
      await watchdog.stop();
      if (child.exitCode === null && child.signalCode === null) {
        // We are leaving early (an exception): take the container down with us.
        await watchdog.kill();
        child.kill('SIGKILL');
      }
      await this.deleteLeftover(id);
    }
  }

  /** runc removes its container when `run` returns; only after a runc crash is one left. */
  private async deleteLeftover(id: string): Promise<void> {
    const state = join(this.stateDir, id);
    if (!(await readFile(join(state, 'state.json')).catch(() => undefined))) return;
    const child = spawn(this.runc, ['--root', this.stateDir, 'delete', '--force', id], { stdio: 'ignore' });
    await once(child, 'close');
  }
}

/** Things a step set up, torn down in reverse order, once, whatever happened. */
class StepResources {
  private readonly closers: Array<() => Promise<unknown>> = [];

  add<T>(resource: T, close: (resource: T) => Promise<unknown>): T {
    this.closers.push(() => close(resource));
    return resource;
  }

  async close(): Promise<void> {
    const errors: unknown[] = [];
    while (this.closers.length > 0) {
      await this.closers.pop()!().catch((err: unknown) => errors.push(err));
    }
    if (errors.length > 0) throw errors[0];
  }
}

/** A start failure that is the step's fault, as Docker reports it: 127 not found, 126 not executable. */
async function startFailure(log: string): Promise<{ exitCode: number } | undefined> {
  const text = await readFile(log, 'utf8').catch(() => '');
  const error = text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { level?: string; msg?: string })
    .find((entry) => entry.level === 'error' || entry.level === 'fatal');
  if (!error?.msg) return undefined;
  if (/exec: .*(no such file or directory|executable file not found)/.test(error.msg)) return { exitCode: 127 };
  if (/exec: .*permission denied/.test(error.msg)) return { exitCode: 126 };
  throw new SandboxStartError(error.msg);
}

function checkMountTarget(target: string): void {
  if (!target.startsWith('/') || target.split('/').includes('..') || posix.normalize(target) === '/') throw new MountTargetInvalidError(target);
}

/** The bundle's files besides config.json: overlay links, /etc files, secret files. */
async function writeBundleFiles(bundle: string, spec: ExecSpec, workDir: string, outbound: boolean): Promise<BundlePaths> {
  await mkdir(join(bundle, 'rootfs'));
  let lowerLinks: string[];
  if (spec.lowerDirs.length === 0) {
    // overlayfs needs a lower directory: an empty one stands for `scratch`.
    lowerLinks = [join(bundle, 'e')];
    await mkdir(lowerLinks[0]!);
  } else {
    // Lowest layer first in the spec, topmost first for overlayfs.
    lowerLinks = spec.lowerDirs.map((_, i) => join(bundle, String(i))).reverse();
    await Promise.all(spec.lowerDirs.map((dir, i) => symlink(dir, join(bundle, String(i)))));
  }
  const upperLink = join(bundle, 'u');
  const workLink = join(bundle, 'w');
  await Promise.all([symlink(spec.upperDir, upperLink), symlink(workDir, workLink)]);
  if (overlayOptions({ lowerLinks, upperLink, workLink }).length > MOUNT_OPTIONS_MAX) {
    throw new SandboxStartError(`${spec.lowerDirs.length} layers do not fit in overlayfs's mount options`);
  }

  const hostsFile = join(bundle, 'hosts');
  const resolvConfFile = join(bundle, 'resolv.conf');
  await writeFile(hostsFile, `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${spec.hostname}\n`);
  // With no network there is no resolver to name: never the host's (often a loopback address).
  await writeFile(resolvConfFile, outbound ? `nameserver ${SLIRP_DNS}\n` : '');
  const fileSources: string[] = [];
  for (const mount of spec.mounts) {
    if (mount.kind !== 'file') continue;
    const path = join(bundle, `s${fileSources.length}`);
    await writeFile(path, mount.content, { mode: 0o600 });
    await chown(path, mount.uid, mount.gid);
    await chmod(path, mount.mode);
    fileSources.push(path);
  }
  return { lowerLinks, upperLink, workLink, hostsFile, resolvConfFile, fileSources };
}
