/**
 * Shared by the executor's tests: one busybox lower directory per test file, a fresh upper
 * directory per step, and `runStep` that runs a shell command with generous defaults and
 * collects its output.
 */
import { mkdtemp, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecLimits, ExecMount, ExecResult, ExecSpec } from '../../src/build/executor/executor.js';
import { RuncExecutor } from '../../src/build/executor/runc-executor.js';
import { makeBusyboxRootfs } from '../support/busybox-rootfs.js';

export const DEFAULT_LIMITS: ExecLimits = { memoryBytes: 256 * 1024 * 1024, pids: 256, timeoutMs: 60_000, diskBytes: 256 * 1024 * 1024 };

export interface StepOutcome extends ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly upperDir: string;
}

export interface ExecutorFixture {
  readonly executor: RuncExecutor;
  readonly root: string;
  readonly lower: string;
  run(command: string, options?: Partial<Omit<ExecSpec, 'onOutput' | 'upperDir' | 'signal' | 'limits'>> & { limits?: Partial<ExecLimits>; signal?: AbortSignal; mounts?: ExecMount[] }): Promise<StepOutcome>;
  close(): Promise<void>;
}

export async function executorFixture(): Promise<ExecutorFixture> {
  const executor = new RuncExecutor();
  await executor.check();
  const root = await mkdtemp('/tmp/cairn-exec-test-');
  const lower = join(root, 'lower');
  await makeBusyboxRootfs(lower);
  let steps = 0;
  return {
    executor,
    root,
    lower,
    async run(command, options = {}) {
      const upperDir = join(root, `upper-${steps++}`);
      await mkdir(upperDir);
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      const result = await executor.run({
        lowerDirs: [lower],
        argv: ['/bin/sh', '-c', command],
        env: ['PATH=/bin'],
        cwd: '/',
        user: '',
        mounts: [],
        network: 'none',
        hostname: 'cairn-test',
        ...options,
        upperDir,
        limits: { ...DEFAULT_LIMITS, ...options.limits },
        signal: options.signal ?? new AbortController().signal,
        onOutput: (chunk, stream) => (stream === 'stdout' ? out : err).push(chunk),
      });
      return { ...result, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), upperDir };
    },
    async close() {
      await rm(root, { recursive: true, force: true });
    },
  };
}

/** Paths in a directory, recursively, relative to it ("a", "a/b"), sorted. */
export async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).sort();
}
