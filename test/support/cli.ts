/**
 * Runs the real `cairn` binary (`node bin/cairn.js …`) and checks how it speaks to people: a user
 * error is exactly one line on stderr, exit status 2, and no stack frames.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  env?: Record<string, string>;
  input?: string;
  /** node options before bin/cairn.js (e.g. --require a probe). */
  nodeArgs?: string[];
}

/**
 * The binary with a clean environment: none of the caller's CAIRN_*, DATABASE_URL or AWS_*
 * settings leak in, so each case sees exactly the settings it names.
 */
export function cairn(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(CAIRN_|DATABASE_URL$|AWS_)/.test(k)));
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), 'bin/cairn.js', ...args], {
    cwd: ROOT,
    env: { ...base, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  child.stdin.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    }),
  );
}

/** Exit status 2, one line on stderr matching `message`, no stack frames. */
export function assertUserError(result: CliResult, message: RegExp | string): void {
  const context = `stderr: ${JSON.stringify(result.stderr)}`;
  assert.equal(result.status, 2, context);
  assertOneLine(result.stderr);
  if (typeof message === 'string') assert.equal(result.stderr, `cairn: ${message}\n`);
  else assert.match(result.stderr, message);
}

export function assertOneLine(stderr: string): void {
  assert.match(stderr, /^cairn: [^\n]+\n$/, `want exactly one line on stderr, got ${JSON.stringify(stderr)}`);
  assert.doesNotMatch(stderr, /\bat [^\s]+ \(|at file:|node:internal/, 'no stack frames');
}
