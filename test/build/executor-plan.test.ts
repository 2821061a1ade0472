/**
 * The executor's pure parts: user resolution, the seccomp profile generated from its list, the
 * OCI config planned for a step, and the reading of cgroup mounts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MOUNT_OPTIONS_MAX, ociConfig, overlayOptions } from '../../src/build/executor/bundle.js';
import { keyedValue, parseCgroupMounts } from '../../src/build/executor/cgroups.js';
import { UserNotFoundError } from '../../src/build/executor/errors.js';
import { ALLOWED_SYSCALLS, seccompProfile } from '../../src/build/executor/seccomp.js';
import { resolveUser } from '../../src/build/executor/user.js';
import { GROUP, PASSWD } from '../support/busybox-rootfs.js';

describe('executor: user resolution', () => {
  test('names, ids and pairs as Docker resolves them', () => {
    assert.deepEqual(resolveUser('', PASSWD, GROUP), { uid: 0, gid: 0, additionalGids: [], home: '/root' });
    assert.deepEqual(resolveUser('builder', PASSWD, GROUP), { uid: 1000, gid: 1000, additionalGids: [50], home: '/home/builder' });
    assert.deepEqual(resolveUser('1000', PASSWD, GROUP), { uid: 1000, gid: 1000, additionalGids: [50], home: '/home/builder' });
    assert.deepEqual(resolveUser('777', PASSWD, GROUP), { uid: 777, gid: 0, additionalGids: [], home: '/' });
    assert.deepEqual(resolveUser('builder:staff', PASSWD, GROUP), { uid: 1000, gid: 50, additionalGids: [], home: '/home/builder' });
    assert.deepEqual(resolveUser('5:6', undefined, undefined), { uid: 5, gid: 6, additionalGids: [], home: '/' });
  });

  test('unknown names fail, with the file that lacks them', () => {
    assert.throws(() => resolveUser('ghost', PASSWD, GROUP), (e: unknown) => e instanceof UserNotFoundError && e.file === '/etc/passwd');
    assert.throws(() => resolveUser('root:ghosts', PASSWD, GROUP), (e: unknown) => e instanceof UserNotFoundError && e.file === '/etc/group');
    assert.throws(() => resolveUser('builder', undefined, undefined), UserNotFoundError);
    assert.throws(() => resolveUser('99999999999', PASSWD, GROUP), UserNotFoundError);
  });
});

describe('executor: seccomp profile', () => {
  const profile = seccompProfile('x64');
  const allowed = new Set(profile.syscalls.filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names));

  test('denies by default with EPERM; the everyday calls are allowed', () => {
    assert.equal(profile.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(profile.defaultErrnoRet, 1);
    for (const name of ['read', 'write', 'openat', 'execve', 'fork', 'wait4', 'chown', 'arch_prctl', 'chroot', 'io_uring_setup']) assert.ok(allowed.has(name), name);
  });

  test("what Docker reserves for capabilities a step lacks stays denied", () => {
    for (const name of ['mount', 'umount2', 'unshare', 'setns', 'pivot_root', 'sethostname', 'reboot', 'init_module', 'kexec_load', 'bpf', 'perf_event_open', 'keyctl', 'add_key', 'clock_settime', 'swapon', 'acct', 'open_by_handle_at']) {
      assert.ok(!profile.syscalls.some((r) => r.action === 'SCMP_ACT_ALLOW' && r.names.includes(name)), name);
    }
  });

  test('clone without namespace flags only, clone3 ENOSYS, socket without AF_VSOCK', () => {
    const clone = profile.syscalls.find((r) => r.names.includes('clone'));
    assert.deepEqual(clone?.args, [{ index: 0, value: 0x7e020000, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }]);
    assert.deepEqual(profile.syscalls.find((r) => r.names.includes('clone3')), { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 });
    assert.deepEqual(profile.syscalls.find((r) => r.names.includes('socket'))?.args, [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }]);
  });

  test('each name is listed once, per architecture', () => {
    const names = Object.values(ALLOWED_SYSCALLS).flat();
    assert.equal(new Set(names).size, names.length);
    assert.deepEqual(seccompProfile('arm64').architectures, ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    assert.ok(!seccompProfile('arm64').syscalls[0]!.names.includes('arch_prctl'));
  });
});

describe('executor: OCI config', () => {
  const plan = {
    spec: { argv: ['/bin/sh', '-c', 'true'], env: ['A=1'], cwd: '/w', hostname: 'h', limits: { memoryBytes: 1, pids: 1, timeoutMs: 1, diskBytes: 4096 }, mounts: [
      { kind: 'file' as const, content: Buffer.from('x'), target: '/run/s', mode: 0o400, uid: 0, gid: 0 },
      { kind: 'bind' as const, source: '/src', target: '/b', readonly: true },
    ] },
    user: { uid: 1, gid: 2, additionalGids: [3], home: '/home/u' },
    paths: { lowerLinks: ['/b/1', '/b/0'], upperLink: '/b/u', workLink: '/b/w', hostsFile: '/b/hosts', resolvConfFile: '/b/resolv.conf', fileSources: ['/b/s0'] },
    cgroupsPath: 'cairn-build/x/ctr',
    seccomp: seccompProfile('x64'),
  };

  test('overlay root first, then kernel file systems, /etc files and the step mounts; new namespaces', () => {
    const config = ociConfig(plan) as { mounts: Array<{ destination: string; source: string; options: string[] }>; process: { env: string[]; rlimits: unknown[] }; linux: { namespaces: Array<{ type: string; path?: string }> } };
    assert.deepEqual(config.mounts[0], { destination: '/', type: 'overlay', source: 'overlay', options: ['lowerdir=/b/1:/b/0,upperdir=/b/u,workdir=/b/w'] });
    assert.deepEqual(config.mounts.map((m) => m.destination), ['/', '/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/etc/resolv.conf', '/etc/hosts', '/run/s', '/b']);
    assert.deepEqual(config.mounts.at(-1)?.options, ['rbind', 'ro']);
    assert.equal(config.mounts.at(-2)?.source, '/b/s0');
    assert.deepEqual(config.process.env, ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/home/u', 'A=1']);
    assert.deepEqual(config.process.rlimits, [{ type: 'RLIMIT_FSIZE', soft: 4096, hard: 4096 }]);
    assert.deepEqual(config.linux.namespaces.map((n) => n.type), ['pid', 'ipc', 'uts', 'mount', 'cgroup', 'network']);
    const joined = ociConfig({ ...plan, networkNamespace: '/proc/9/ns/net' }) as typeof config;
    assert.deepEqual(joined.linux.namespaces.at(-1), { type: 'network', path: '/proc/9/ns/net' });
  });

  test('the overlay options of 150 layers under a short bundle path fit in a page', () => {
    const lowerLinks = Array.from({ length: 150 }, (_, i) => `/run/cairn-exec/AbCdEf/${149 - i}`);
    assert.ok(overlayOptions({ lowerLinks, upperLink: '/run/cairn-exec/AbCdEf/u', workLink: '/run/cairn-exec/AbCdEf/w' }).length <= MOUNT_OPTIONS_MAX);
  });
});

describe('executor: cgroup mounts', () => {
  test('v1 hierarchies by controller or name, and the hybrid v2 mount', () => {
    const mountinfo = [
      '30 25 0:26 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
      '31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct',
      '32 25 0:28 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd',
      '33 25 0:29 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate',
      '34 25 0:30 / /proc proc rw - proc proc rw',
    ].join('\n');
    assert.deepEqual(parseCgroupMounts(mountinfo), [
      { mountPoint: '/sys/fs/cgroup/memory', type: 'cgroup', controllers: ['memory'] },
      { mountPoint: '/sys/fs/cgroup/cpu,cpuacct', type: 'cgroup', controllers: ['cpu', 'cpuacct'] },
      { mountPoint: '/sys/fs/cgroup/systemd', type: 'cgroup', controllers: ['name=systemd'] },
      { mountPoint: '/sys/fs/cgroup/unified', type: 'cgroup2', controllers: [''] },
    ]);
    assert.equal(keyedValue('oom_kill_disable 1\nunder_oom 1\noom_kill 0\n', 'under_oom'), 1);
    assert.equal(keyedValue('max 0\n', 'oom_kill'), 0);
  });
});
