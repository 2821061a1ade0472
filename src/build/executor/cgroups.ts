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
 *
 * Files here are the kernel's (cgroupfs): reads and writes never wait for a disk, so they are made
 * synchronously, which costs a fraction of a round trip through libuv's thread pool; the watchdog
 * reads the counters every 100 ms.
 */
import { mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface CgroupLimits {
  readonly memoryBytes: number;
  readonly pids: number;
}

export interface CgroupCounters {
  /**
   * Times the step ran out of memory: processes the OOM killer ended (v2, where one kill takes the
   * whole step down), or 1 while the step waits at its limit with the OOM killer turned off (v1).
   */
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

  /** The step cgroup named `id` (existing or not). */
  step(id: string): StepCgroup {
    return new StepCgroup(this.version, this.hierarchies, id, this.version === 2 ? `/${this.parent}/${id}/ctr` : `${this.parent}/${id}/ctr`);
  }

  /** Names of the step cgroups that exist, in any hierarchy. */
  stepIds(): string[] {
    const ids = this.hierarchies.flatMap((h) => {
      try {
        return readdirSync(h.base, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
      } catch {
        return [];
      }
    });
    return [...new Set(ids)];
  }

  /** Creates the step's cgroup with its limits set. */
  async create(id: string, limits: CgroupLimits): Promise<StepCgroup> {
    const cgroup = this.step(id);
    try {
      cgroup.setUp(limits);
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

  setUp(limits: CgroupLimits): void {
    const memory = String(limits.memoryBytes);
    if (this.version === 2) {
      const base = this.hierarchies[0]!.base;
      enableControllers(V2_ROOT);
      mkdirSync(base, { recursive: true });
      enableControllers(base);
      mkdirSync(join(base, this.id));
      enableControllers(join(base, this.id));
      const dir = this.dir('memory');
      writeFileSync(join(dir, 'memory.max'), memory);
      writeIfPresent(join(dir, 'memory.swap.max'), '0');
      // One OOM kill ends the whole step, not just its largest process.
      writeFileSync(join(dir, 'memory.oom.group'), '1');
      writeFileSync(join(dir, 'pids.max'), String(limits.pids));
      return;
    }
    const mem = this.dir('memory');
    const pids = this.dir('pids');
    mkdirSync(mem, { recursive: true });
    writeFileSync(join(mem, 'memory.limit_in_bytes'), memory);
    // memory+swap equal to memory: no swap (absent when the kernel does not account swap).
    writeIfPresent(join(mem, 'memory.memsw.limit_in_bytes'), memory);
    writeIfPresent(join(mem, 'memory.swappiness'), '0');
    // v1 has no memory.oom.group, and counts OOM kills in the victim's cgroup (runc's, removed
    // with the container). With the OOM killer off, a step at its limit waits instead, visibly
    // (under_oom in our cgroup), and the watchdog ends it whole.
    writeFileSync(join(mem, 'memory.oom_control'), '1');
    mkdirSync(pids, { recursive: true });
    writeFileSync(join(pids, 'pids.max'), String(limits.pids));
  }

  /**
   * On v2 events count up the hierarchy, so ours has them all, also after runc removed its
   * cgroup. Where v1 counts a refused fork changed across kernels (the limiting cgroup or the
   * forking one): both are read while the step runs, and pids.peak in ours tells afterwards.
   */
  counters(): CgroupCounters {
    const memory = this.version === 2 ? { file: 'memory.events', key: 'oom_kill' } : { file: 'memory.oom_control', key: 'under_oom' };
    const oomKills = keyedValue(readOrEmpty(join(this.dir('memory'), memory.file)), memory.key);
    const pidsDir = this.dir('pids');
    const hits = [pidsDir, join(pidsDir, 'ctr')].map((d) => keyedValue(readOrEmpty(join(d, 'pids.events')), 'max'));
    return { oomKills, pidsLimitHits: Math.max(...hits) };
  }

  /** Whether the step had as many processes as its limit allows at some point. */
  pidsPeakAtLimit(limit: number): boolean {
    return Number(readOrEmpty(join(this.dir('pids'), 'pids.peak'))) >= limit;
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
      rmdirSync(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || attempt >= 50) throw err;
      for (const pid of cgroupPids(dir)) killQuietly(pid);
      await sleep(20);
    }
  }
}

function cgroupPids(dir: string): number[] {
  const own = readOrEmpty(join(dir, 'cgroup.procs')).split('\n').filter(Boolean).map(Number);
  const children = readdirSync(dir, { withFileTypes: true }).filter((c) => c.isDirectory());
  return [...own, ...children.flatMap((c) => cgroupPids(join(dir, c.name)))];
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function enableControllers(dir: string): void {
  writeFileSync(join(dir, 'cgroup.subtree_control'), '+memory +pids');
}

function writeIfPresent(path: string, value: string): void {
  try {
    writeFileSync(path, value);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
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
    if (controllers === undefined || path === undefined) continue;
    for (const c of controllers.split(',')) own.set(c, path);
  }
  return own;
}
