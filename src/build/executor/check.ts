/**
 * What a machine needs to run RUN steps, checked once at start-up so that a build fails with a
 * message that says what to install, never halfway through a step.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { CgroupHost } from './cgroups.js';
import { ExecutorUnavailableError } from './errors.js';
import { hostArch, type SupportedArch } from './seccomp.js';

const run = promisify(execFile);

export interface CheckOptions {
  readonly runc: string;
  /** Checked only when steps may use outbound networking. */
  readonly slirp4netns: string | undefined;
  readonly cgroupParent: string;
}

export async function checkEnvironment(options: CheckOptions): Promise<{ cgroups: CgroupHost; arch: SupportedArch }> {
  const arch = hostArch();
  if (process.platform !== 'linux' || !arch) {
    throw new ExecutorUnavailableError(`RUN steps need Linux on x86-64 or arm64 (this is ${process.platform}/${process.arch})`, 'run the build worker on such a machine');
  }
  if (process.getuid?.() !== 0) throw new ExecutorUnavailableError('the build worker is not running as root', 'run `cairn serve` or `cairn worker` as root');
  await run(options.runc, ['--version']).catch(() => {
    throw new ExecutorUnavailableError(`runc was not found (${options.runc})`, 'apt-get install runc');
  });
  const filesystems = await readFile('/proc/filesystems', 'utf8');
  if (!/\toverlay$/m.test(filesystems)) throw new ExecutorUnavailableError('the kernel has no overlayfs', 'modprobe overlay');
  const cgroups = await CgroupHost.detect(options.cgroupParent);
  if (typeof cgroups === 'string') {
    throw new ExecutorUnavailableError(cgroups, 'boot with cgroup v2 (systemd.unified_cgroup_hierarchy=1) and the memory and pids controllers');
  }
  if (options.slirp4netns) {
    await run(options.slirp4netns, ['--version']).catch(() => {
      throw new ExecutorUnavailableError(`slirp4netns was not found (${options.slirp4netns}), needed for outbound networking`, 'apt-get install slirp4netns');
    });
  }
  return { cgroups, arch };
}
