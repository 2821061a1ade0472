/**
 * The seccomp profile of a RUN step, equivalent in effect to Docker's default profile
 * (moby/moby profiles/seccomp/default.json, Apache-2.0) as it applies to a container with Docker's
 * default capabilities (see sandbox-defaults.ts): the rules Docker gates on capabilities that a
 * step does not have (CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_MODULE, ...) are left out, the ones
 * gated on capabilities it has (CAP_SYS_CHROOT) are kept. Everything not listed fails with EPERM.
 *
 * The allow-list is kept readable, by what the calls do; `seccompProfile()` turns it into the OCI
 * runtime spec's `linux.seccomp` section. Names the local libseccomp does not know are skipped by
 * runc, so the list may name calls newer than the host's kernel or library.
 */

/** Syscalls allowed with any arguments, grouped by what they do. */
export const ALLOWED_SYSCALLS: Readonly<Record<string, readonly string[]>> = {
  files: [
    'access', 'chdir', 'chmod', 'chown', 'chown32', 'close', 'close_range', 'copy_file_range', 'creat',
    'dup', 'dup2', 'dup3', 'faccessat', 'faccessat2', 'fadvise64', 'fadvise64_64', 'fallocate',
    'fchdir', 'fchmod', 'fchmodat', 'fchown', 'fchown32', 'fchownat', 'fcntl', 'fcntl64', 'fdatasync',
    'flock', 'fstat', 'fstat64', 'fstatat64', 'fstatfs', 'fstatfs64', 'fsync', 'ftruncate',
    'ftruncate64', 'futimesat', 'getcwd', 'getdents', 'getdents64', 'lchown', 'lchown32', 'link',
    'linkat', '_llseek', 'lseek', 'lstat', 'lstat64', 'mkdir', 'mkdirat', 'mknod', 'mknodat',
    'name_to_handle_at', 'newfstatat', 'open', 'openat', 'openat2', 'pread64', 'preadv', 'preadv2',
    'pwrite64', 'pwritev', 'pwritev2', 'read', 'readahead', 'readlink', 'readlinkat', 'readv', 'rename',
    'renameat', 'renameat2', 'rmdir', 'sendfile', 'sendfile64', 'splice', 'stat', 'stat64', 'statfs',
    'statfs64', 'statx', 'symlink', 'symlinkat', 'sync', 'sync_file_range', 'syncfs', 'tee', 'truncate',
    'truncate64', 'umask', 'unlink', 'unlinkat', 'utime', 'utimensat', 'utimensat_time64', 'utimes',
    'vmsplice', 'write', 'writev',
  ],
  xattrs: [
    'fgetxattr', 'flistxattr', 'fremovexattr', 'fsetxattr', 'getxattr', 'lgetxattr', 'listxattr',
    'llistxattr', 'lremovexattr', 'lsetxattr', 'removexattr', 'setxattr',
  ],
  events: [
    'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_pwait', 'epoll_pwait2',
    'epoll_wait', 'epoll_wait_old', 'eventfd', 'eventfd2', 'fanotify_mark', 'inotify_add_watch',
    'inotify_init', 'inotify_init1', 'inotify_rm_watch', '_newselect', 'pipe', 'pipe2', 'poll', 'ppoll',
    'ppoll_time64', 'pselect6', 'pselect6_time64', 'select', 'signalfd', 'signalfd4',
  ],
  asyncIo: [
    'io_cancel', 'io_destroy', 'io_getevents', 'io_pgetevents', 'io_pgetevents_time64', 'io_setup',
    'io_submit', 'io_uring_enter', 'io_uring_register', 'io_uring_setup', 'ioctl', 'ioprio_get',
    'ioprio_set',
  ],
  processes: [
    'capget', 'capset', 'execve', 'execveat', 'exit', 'exit_group', 'fork', 'getcpu', 'getegid',
    'getegid32', 'geteuid', 'geteuid32', 'getgid', 'getgid32', 'getgroups', 'getgroups32', 'getpgid',
    'getpgrp', 'getpid', 'getppid', 'getpriority', 'getresgid', 'getresgid32', 'getresuid',
    'getresuid32', 'getrlimit', 'get_robust_list', 'getrusage', 'getsid', 'get_thread_area', 'gettid',
    'getuid', 'getuid32', 'kill', 'landlock_add_rule', 'landlock_create_ruleset',
    'landlock_restrict_self', 'pidfd_open', 'pidfd_send_signal', 'prctl', 'prlimit64', 'restart_syscall',
    'rseq', 'seccomp', 'setfsgid', 'setfsgid32', 'setfsuid', 'setfsuid32', 'setgid', 'setgid32',
    'setgroups', 'setgroups32', 'setpgid', 'setpriority', 'setregid', 'setregid32', 'setresgid',
    'setresgid32', 'setresuid', 'setresuid32', 'setreuid', 'setreuid32', 'setrlimit', 'set_robust_list',
    'setsid', 'set_thread_area', 'set_tid_address', 'setuid', 'setuid32', 'tgkill', 'tkill',
    'ugetrlimit', 'uname', 'vfork', 'wait4', 'waitid', 'waitpid',
  ],
  signals: [
    'alarm', 'pause', 'rt_sigaction', 'rt_sigpending', 'rt_sigprocmask', 'rt_sigqueueinfo',
    'rt_sigreturn', 'rt_sigsuspend', 'rt_sigtimedwait', 'rt_sigtimedwait_time64', 'rt_tgsigqueueinfo',
    'sigaltstack', 'sigprocmask', 'sigreturn',
  ],
  memory: [
    'brk', 'madvise', 'membarrier', 'memfd_create', 'memfd_secret', 'mincore', 'mlock', 'mlock2',
    'mlockall', 'mmap', 'mmap2', 'mprotect', 'mremap', 'msync', 'munlock', 'munlockall', 'munmap',
    'pkey_alloc', 'pkey_free', 'pkey_mprotect', 'process_mrelease', 'remap_file_pages',
  ],
  time: [
    'adjtimex', 'clock_adjtime', 'clock_adjtime64', 'clock_getres', 'clock_getres_time64',
    'clock_gettime', 'clock_gettime64', 'clock_nanosleep', 'clock_nanosleep_time64', 'getitimer',
    'gettimeofday', 'nanosleep', 'setitimer', 'time', 'timer_create', 'timer_delete', 'timer_getoverrun',
    'timer_gettime', 'timer_gettime64', 'timer_settime', 'timer_settime64', 'timerfd_create',
    'timerfd_gettime', 'timerfd_gettime64', 'timerfd_settime', 'timerfd_settime64', 'times',
  ],
  scheduling: [
    'futex', 'futex_time64', 'futex_waitv', 'sched_getaffinity', 'sched_getattr', 'sched_getparam',
    'sched_get_priority_max', 'sched_get_priority_min', 'sched_getscheduler', 'sched_rr_get_interval',
    'sched_rr_get_interval_time64', 'sched_setaffinity', 'sched_setattr', 'sched_setparam',
    'sched_setscheduler', 'sched_yield',
  ],
  /** `socket` itself is allowed below, for every family but AF_VSOCK. */
  sockets: [
    'accept', 'accept4', 'bind', 'connect', 'getpeername', 'getsockname', 'getsockopt', 'listen', 'recv',
    'recvfrom', 'recvmmsg', 'recvmmsg_time64', 'recvmsg', 'send', 'sendmmsg', 'sendmsg', 'sendto',
    'setsockopt', 'shutdown', 'socketcall', 'socketpair',
  ],
  ipc: [
    'ipc', 'mq_getsetattr', 'mq_notify', 'mq_open', 'mq_timedreceive', 'mq_timedreceive_time64',
    'mq_timedsend', 'mq_timedsend_time64', 'mq_unlink', 'msgctl', 'msgget', 'msgrcv', 'msgsnd', 'semctl',
    'semget', 'semop', 'semtimedop', 'semtimedop_time64', 'shmat', 'shmctl', 'shmdt', 'shmget',
  ],
  misc: ['getrandom', 'sysinfo'],
  /** Docker allows these from kernel 4.8 on (where ptrace can no longer bypass seccomp). */
  tracing: ['ptrace', 'process_vm_readv', 'process_vm_writev'],
  /** Gated on CAP_SYS_CHROOT, which steps have. */
  chroot: ['chroot'],
};

/** Per-architecture additions (Docker's `includes.arches`). */
const ARCH_SYSCALLS: Readonly<Record<SupportedArch, readonly string[]>> = {
  x64: ['arch_prctl', 'modify_ldt'],
  arm64: ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls'],
};

/**
 * Native architecture first, then the 32-bit one an image's binaries may use. Docker also lists
 * x32; it is left out here: distribution kernels are built without the x32 ABI (its calls fail
 * with ENOSYS anyway, and the filter denies them), and listing it doubles the filter that runc
 * compiles for every step (about 20 ms of CPU measured per step).
 */
const ARCHITECTURES: Readonly<Record<SupportedArch, readonly string[]>> = {
  x64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86'],
  arm64: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
};

export type SupportedArch = 'x64' | 'arm64';

const EPERM = 1;
const ENOSYS = 38;
const AF_VSOCK = 40;
/** CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: clone may not create namespaces. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;
/** personality(2) values Docker allows: PER_LINUX, UNAME26, PER_LINUX32, PER_LINUX32|UNAME26, query. */
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

export interface SeccompArg {
  readonly index: number;
  readonly value: number;
  readonly valueTwo?: number;
  readonly op: 'SCMP_CMP_EQ' | 'SCMP_CMP_NE' | 'SCMP_CMP_MASKED_EQ';
}

export interface SeccompRule {
  readonly names: readonly string[];
  readonly action: 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO';
  readonly errnoRet?: number;
  readonly args?: readonly SeccompArg[];
}

/** The OCI runtime spec's `linux.seccomp`. */
export interface SeccompProfile {
  readonly defaultAction: 'SCMP_ACT_ERRNO';
  readonly defaultErrnoRet: number;
  readonly architectures: readonly string[];
  readonly syscalls: readonly SeccompRule[];
}

export function seccompProfile(arch: SupportedArch): SeccompProfile {
  const allowed = [...Object.values(ALLOWED_SYSCALLS).flat(), ...ARCH_SYSCALLS[arch]];
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    architectures: ARCHITECTURES[arch],
    syscalls: [
      { names: allowed, action: 'SCMP_ACT_ALLOW' },
      { names: ['socket'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }] },
      ...PERSONALITIES.map((value): SeccompRule => ({
        names: ['personality'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, value, op: 'SCMP_CMP_EQ' }],
      })),
      // Threads and processes, never new namespaces (that needs CAP_SYS_ADMIN, which steps lack).
      {
        names: ['clone'],
        action: 'SCMP_ACT_ALLOW',
        args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      },
      // clone3 passes its flags in memory, out of seccomp's reach: ENOSYS makes libc fall back to clone.
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    ],
  };
}

/** The seccomp architecture of this process, or undefined where no profile is defined. */
export function hostArch(): SupportedArch | undefined {
  return process.arch === 'x64' || process.arch === 'arm64' ? process.arch : undefined;
}
