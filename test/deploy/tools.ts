/**
 * The deployment tools the deploy suites drive (docker-compose, helm), as
 * scripts/ci/install-deploy-tools.sh installs them. Outside CI a missing tool skips its suite; in
 * CI (CI=true) that is a failure, as with the real clients.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';

export const IN_CI = process.env.CI === 'true';

/** The path of an executable on PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * The tool's path; when it is missing, the reason to skip (outside CI) — in CI it throws, so the
 * suite fails instead of passing without having run.
 */
export function deployTool(name: string): { path: string } | { skip: string } {
  const path = which(name);
  if (path) return { path };
  const reason = `${name} is not installed (bash scripts/ci/install-deploy-tools.sh)`;
  if (IN_CI) throw new Error(`CI=true but ${reason}`);
  return { skip: reason };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

const execFileAsync = promisify(execFile);

/** Runs a command (no shell) and resolves with its exit status and output, whatever the status. */
export async function runTool(file: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<RunResult> {
  try {
    const { stdout, stderr } = await execFileAsync(file, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      maxBuffer: 32 * 1024 * 1024,
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code?: number | string; stdout?: string; stderr?: string };
    if (typeof failed.code !== 'number') throw error;
    return { code: failed.code, stdout: failed.stdout ?? '', stderr: failed.stderr ?? '' };
  }
}
