#!/usr/bin/env node
// Per-step overhead of the RUN executor (src/build/executor): the median wall time of trivial
// steps (`/bin/true`) through RuncExecutor.run, beside the same container run by a bare
// `runc run` on a bundle made once (runc's own cost, which the executor cannot go below). The
// difference is the executor's share: bundle, cgroup, stub handling, watchdog and clean-up.
// Also prints this process's CPU per step. Needs root, runc and a busybox rootfs (busybox-static).
//
//   npm run build && node bench/executor-overhead.mjs [steps=20]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ociConfig } from '../dist/src/build/executor/bundle.js';
import { RuncExecutor } from '../dist/src/build/executor/runc-executor.js';
import { seccompProfile } from '../dist/src/build/executor/seccomp.js';
import { makeBusyboxRootfs } from '../dist/test/support/busybox-rootfs.js';

const steps = Number(process.argv[2] ?? 20);
const root = await mkdtemp('/tmp/cairn-bench-exec-');
const names = { bundleRoot: `/run/cxb-${process.pid}`, stateDir: `/run/cairn-runc-bench-${process.pid}`, cgroupParent: `cairn-bench-${process.pid}` };
const limits = { memoryBytes: 256 << 20, pids: 256, timeoutMs: 60_000, diskBytes: 256 << 20 };

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function timed(fn) {
  const wall = [];
  const cpu = [];
  await fn(); // warm-up: the first run loads code and fills caches
  for (let i = 0; i < steps; i++) {
    const usage = process.cpuUsage();
    const started = performance.now();
    await fn();
    wall.push(performance.now() - started);
    const used = process.cpuUsage(usage);
    cpu.push((used.user + used.system) / 1000);
  }
  return { wall: median(wall), cpu: median(cpu) };
}

try {
  const lower = join(root, 'lower');
  await makeBusyboxRootfs(lower);
  const executor = new RuncExecutor(names);
  await executor.check();

  let n = 0;
  const viaExecutor = await timed(async () => {
    const upperDir = join(root, `upper-${n++}`);
    await mkdir(upperDir);
    const result = await executor.run({
      lowerDirs: [lower], upperDir, argv: ['/bin/true'], env: ['PATH=/bin'], cwd: '/', user: '', mounts: [], network: 'none',
      hostname: 'bench', limits, signal: new AbortController().signal, onOutput: () => undefined,
    });
    if (result.exitCode !== 0) throw new Error(`step failed: ${JSON.stringify(result)}`);
  });

  // The same container from a bundle made once; only the upper and work directories are fresh.
  const bundle = join(root, 'bundle');
  await mkdir(join(bundle, 'rootfs'), { recursive: true });
  await Promise.all([writeFile(join(bundle, 'hosts'), '127.0.0.1\tlocalhost\n'), writeFile(join(bundle, 'resolv.conf'), ''), symlink(lower, join(bundle, '0'))]);
  const config = (cgroupsPath) =>
    ociConfig({
      spec: { argv: ['/bin/true'], env: ['PATH=/bin'], cwd: '/', mounts: [], hostname: 'bench', limits },
      user: { uid: 0, gid: 0, additionalGids: [], home: '/root' },
      paths: { lowerLinks: [join(bundle, '0')], upperLink: join(bundle, 'u'), workLink: join(bundle, 'w'), hostsFile: join(bundle, 'hosts'), resolvConfFile: join(bundle, 'resolv.conf'), fileSources: [] },
      cgroupsPath,
      seccomp: seccompProfile(process.arch === 'arm64' ? 'arm64' : 'x64'),
    });
  const bare = await timed(async () => {
    const id = `bench-${n++}`;
    await rm(join(bundle, 'u'), { force: true });
    await rm(join(bundle, 'w'), { force: true });
    await mkdir(join(root, id, 'u'), { recursive: true });
    await mkdir(join(root, id, 'w'));
    await symlink(join(root, id, 'u'), join(bundle, 'u'));
    await symlink(join(root, id, 'w'), join(bundle, 'w'));
    await writeFile(join(bundle, 'config.json'), JSON.stringify(config(`${names.cgroupParent}-bare/${id}`)));
    const child = spawn('runc', ['--root', names.stateDir, 'run', '--bundle', bundle, id], { stdio: ['ignore', 'pipe', 'pipe'] });
    const [code] = await once(child, 'close');
    if (code !== 0) throw new Error(`bare runc failed: ${code}`);
  });

  const load = (await import('node:os')).loadavg()[0].toFixed(1);
  console.log(`executor per-step overhead, median of ${steps} \`true\` steps (load average ${load}):`);
  console.log(`  RuncExecutor.run   wall ${viaExecutor.wall.toFixed(1)} ms   node CPU ${viaExecutor.cpu.toFixed(1)} ms`);
  console.log(`  bare runc run      wall ${bare.wall.toFixed(1)} ms   node CPU ${bare.cpu.toFixed(1)} ms`);
  console.log(`  executor's share   wall ${(viaExecutor.wall - bare.wall).toFixed(1)} ms   node CPU ${(viaExecutor.cpu - bare.cpu).toFixed(1)} ms`);
} finally {
  await rm(root, { recursive: true, force: true });
  await Promise.all([names.bundleRoot, names.stateDir].map((dir) => rm(dir, { recursive: true, force: true })));
  // The (empty) parents of the step cgroups, in every hierarchy.
  const { readdir, rmdir } = await import('node:fs/promises');
  const walk = async (dir, depth) => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!e.isDirectory()) continue;
      if (e.name.startsWith(names.cgroupParent)) await rmdir(join(dir, e.name)).catch(() => undefined);
      else if (depth < 4) await walk(join(dir, e.name), depth + 1);
    }
  };
  await walk('/sys/fs/cgroup', 0);
}
