/**
 * A cgroup per step that holds its limits, with runc's container cgroup inside it:
 *
 *   <parent>/<step id>        ours: memory (no swap) and pids limits, and the counters that say
 *                             which limit was hit; it outlives the container, so the counters can
 *                             be read after runc has removed its own cgroup
 *   <parent>/<step id>/ctr    runc's (linux.cgroupsPath), created and removed by runc
 *
 * Both cgroup v2 and v1 (also the "hybrid" layout, where runc uses v1) are handled. On v2 the
 * step cgroups live under the root (`/<parent>`), where controllers can be enabled for children;
 * on v1 under this process's own cgroup in each hierarchy, as runc places containers by default.
 */
import { mkdir, readFile, readdir, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface CgroupLimits {
  readonly memoryBytes: number;
  readonly pids: number;
}

export interface CgroupCounters {
  /** Processes the kernel's OOM killer ended because of the memory limit. */
  readonly oomKills: number;
  /** Forks refused because of the pids limit. */
  readonly pidsLimitHits: number;
}

interface Hierarchy {
  /** The directory under which step cgroups are made in this hierarchy. */
  readonly base: string;
  readonly controllers: readonly string[];
}

const V2_ROOT = '/sys/fs/cgroup';

export class CgroupHost {
  private constructor(
    readonly version: 1 | 2,
    private readonly hierarchies: readonly Hierarchy[],
    private readonly parent: string,
  ) {}

  /** The host's cgroup layout, or a reason why memory and pids limits cannot be set on it. */
  static async detect(parent: string): Promise<CgroupHost | string> {
    const mounts = parseCgroupMounts(await readFile('/proc/self/mountinfo', 'utf8'));
    const v2 = mounts.find((m) => m.mountPoint === V2_ROOT && m.type === 'cgroup2');
    if (v2) {
      const available = (await readFile(join(V2_ROOT, 'cgroup.controllers'), 'utf8')).split(/\s+/);
      const missing = ['memory', 'pids'].filter((c) => !available.includes(c));
      if (missing.length > 0) return `cgroup v2 lacks the ${missing.join(' and ')} controller`;
      return new CgroupHost(2, [{ base: join(V2_ROOT, parent), controllers: ['memory', 'pids'] }], parent);
    }
    const own = parseOwnCgroups(await readFile('/proc/self/cgroup', 'utf8'));
    const hierarchies = mounts
      .flatMap((m) => {
        const path = m.controllers.map((c) => own.get(c)).find((p) => p !== undefined);
        return path === undefined ? [] : [{ base: join(m.mountPoint, path, parent), controllers: m.controllers }];
      });
    const missing = ['memory', 'pids'].filter((c) => !hierarchies.some((h) => h.controllers.includes(c)));
    if (missing.length > 0) return `no cgroup ${missing.join(' or ')} controller is mounted (cgroup v2 or v1)`;
    return new CgroupHost(1, hierarchies, parent);
  }

  /** Creates the step's cgroup with its limits set. */
  async create(id: string, limits: CgroupLimits): Promise<StepCgroup> {
    const cgroup = new StepCgroup(this.version, this.hierarchies, id, this.version === 2 ? `/${this.parent}/${id}/ctr` : `${this.parent}/${id}/ctr`);
    try {
      await cgroup.setUp(limits);
    } catch (err) {
      await cgroup.remove();
      throw err;
    }
    return cgroup;
  }
}

export class StepCgroup {
  constructor(
    private readonly version: 1 | 2,
    private readonly hierarchies: readonly Hierarchy[],
    private readonly id: string,
    /** linux.cgroupsPath for runc: relative paths are taken from runc's own cgroup (v1). */
    readonly runcPath: string,
  ) {}

  private dir(controller: string): string {
    const h = this.hierarchies.find((x) => x.controllers.includes(controller)) ?? this.hierarchies[0]!;
    return join(h.base, this.id);
  }

  async setUp(limits: CgroupLimits): Promise<void> {
    const memory = String(limits.memoryBytes);
    if (this.version === 2) {
      const base = this.hierarchies[0]!.base;
      await enableControllers(V2_ROOT);
      await mkdir(base, { recursive: true });
      await enableControllers(base);
      await mkdir(join(base, this.id));
      await enableControllers(join(base, this.id));
      const dir = this.dir('memory');
      await writeFile(join(dir, 'memory.max'), memory);
      await writeFile(join(dir, 'memory.swap.max'), '0').catch(ignoreMissing);
      // One OOM kill ends the whole step, not just its largest process.
      await writeFile(join(dir, 'memory.oom.group'), '1');
      await writeFile(join(dir, 'pids.max'), String(limits.pids));
      return;
    }
    for (const controller of ['memory', 'pids']) await mkdir(this.dir(controller), { recursive: true });
    const mem = this.dir('memory');
    await writeFile(join(mem, 'memory.limit_in_bytes'), memory);
    // memory+swap equal to memory: no swap (absent when the kernel does not account swap).
    await writeFile(join(mem, 'memory.memsw.limit_in_bytes'), memory).catch(ignoreMissing);
    await writeFile(join(mem, 'memory.swappiness'), '0').catch(() => undefined);
    await writeFile(join(this.dir('pids'), 'pids.max'), String(limits.pids));
  }

  async counters(): Promise<CgroupCounters> {
    const memoryFile = this.version === 2 ? 'memory.events' : 'memory.oom_control';
    const oomKills = keyedValue(await readOrEmpty(join(this.dir('memory'), memoryFile)), 'oom_kill');
    // Where a refused fork is counted changed across kernels (the limiting cgroup or the forking
    // one): read both ours and runc's inside it.
    const pidsDir = this.dir('pids');
    const hits = await Promise.all([pidsDir, join(pidsDir, 'ctr')].map(async (d) => keyedValue(await readOrEmpty(join(d, 'pids.events')), 'max')));
    return { oomKills, pidsLimitHits: Math.max(...hits) };
  }

  /**
   * Removes the step's cgroup in every hierarchy (runc's, if runc could not, and ours). Processes
   * still inside (only after a runc failure) are killed first.
   */
  async remove(): Promise<void> {
    for (const h of this.hierarchies) {
      const dir = join(h.base, this.id);
      await removeCgroupDir(join(dir, 'ctr'));
      await removeCgroupDir(dir);
    }
  }
}

async function removeCgroupDir(dir: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt >= 50) throw err;
      for (const pid of await cgroupPids(dir)) killQuietly(pid);
      await sleep(20);
    }
  }
}

async function cgroupPids(dir: string): Promise<number[]> {
  const text = await readOrEmpty(join(dir, 'cgroup.procs'));
  const children = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const nested = await Promise.all(children.filter((c) => c.isDirectory()).map((c) => cgroupPids(join(dir, c.name))));
  return [...text.split('\n').filter(Boolean).map(Number), ...nested.flat()];
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

async function enableControllers(dir: string): Promise<void> {
  await writeFile(join(dir, 'cgroup.subtree_control'), '+memory +pids');
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}

async function readOrEmpty(path: string): Promise<string> {
  return readFile(path, 'utf8').catch(() => '');
}

/** The number after `key` in a flat-keyed cgroup file ("oom_kill 1\n..."). */
export function keyedValue(text: string, key: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${key} `));
  return line ? Number(line.slice(key.length + 1)) || 0 : 0;
}

interface CgroupMount {
  readonly mountPoint: string;
  readonly type: string;
  readonly controllers: readonly string[];
}

/** cgroup mounts from /proc/self/mountinfo, with the controllers of each v1 hierarchy. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  return mountinfo.split('\n').flatMap((line) => {
    const [left, right] = line.split(' - ');
    if (!left || !right) return [];
    const mountPoint = left.split(' ')[4];
    const [type, , superOptions = ''] = right.split(' ');
    if (!mountPoint || (type !== 'cgroup' && type !== 'cgroup2')) return [];
    // A v1 hierarchy is known by its controllers or its name ("name=systemd"); a v2 one mounted
    // beside v1 hierarchies (hybrid) by the empty name, as /proc/self/cgroup lists it ("0::/").
    const controllers =
      type === 'cgroup2' ? [''] : superOptions.split(',').filter((o) => o.startsWith('name=') || (!['rw', 'ro', 'relatime', 'xattr', 'noprefix', 'clone_children'].includes(o) && !o.includes('=')));
    return [{ mountPoint, type, controllers }];
  });
}

/** This process's cgroup path per v1 controller, from /proc/self/cgroup. */
function parseOwnCgroups(text: string): Map<string, string> {
  const own = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [, controllers, path] = line.split(':');
    if (!controllers || path === undefined) continue;
    for (const c of controllers.split(',')) own.set(c, path);
  }
  return own;
}
