/**
 * How the CLI reports a failure: one line on stderr and an exit status. Mistakes in what a person
 * typed or configured exit with 2 and say what to change; anything else is unexpected, exits with
 * 1 and says how to see the details (with --log-level debug the stack follows the line).
 * This is the CLI's one error table: every domain error a command can meet is mapped here.
 */
import { hostname } from 'node:os';
import { ConfigError } from '../config/errors.js';
// Types only: the classes are matched by name so that this table loads none of their modules.
import type { DatabaseDirectoryInUseError } from '../metadata/directory-lock.js';

/** The command line itself is wrong: unknown command or option, missing value, stray argument. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** What a command's failure means for the person. */
export interface Failure {
  readonly status: 1 | 2;
  readonly message: string;
  readonly unexpected: boolean;
}


const LISTEN_PROBLEMS: Record<string, string> = {
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'no such address on this machine',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  ENOTFOUND: 'unknown host name',
  EAI_AGAIN: 'host name lookup failed',
};

// A data directory, config file or key file that cannot be used as given: the person's to fix.
const PATH_PROBLEMS: Record<string, string> = {
  ENOTDIR: 'a part of the path is not a directory',
  EEXIST: 'a file is in the way of a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
};

const DATABASE_UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN']);

/**
 * Maps an error to its report. Error classes from the heavy modules are recognised by name so
 * that this table does not load them (`cairn --help` must stay fast).
 */
export function failureOf(error: unknown, advice: { directoryInUse: string }): Failure {
  const user = (message: string): Failure => ({ status: 2, message, unexpected: false });
  if (!(error instanceof Error)) return { status: 1, message: String(error), unexpected: true };
  if (error instanceof UsageError || error instanceof ConfigError) return user(error.message);
  if (error.name === 'DatabaseDirectoryInUseError') return user(directoryInUse(error as DatabaseDirectoryInUseError, advice.directoryInUse));
  if (error.name === 'AccountError') return user(error.message);
  if (error.name === 'RetentionError') return user(error.message);
  // The admin CLI (remote/): the server refused, could not be reached, or no login is stored.
  if (error.name === 'RemoteError') return user(error.message);
  if (error.name === 'ListenError') return user(error.message);
  if (error.name === 'BuildRefusedError') return { status: 1, message: error.message, unexpected: false };
  if (error.name === 'FileLockingUnavailableError') {
    return { status: 1, message: `${error.message}; the embedded database needs it: use PostgreSQL (DATABASE_URL) instead`, unexpected: false };
  }
  const { code, syscall, path } = error as NodeJS.ErrnoException;
  if (code && path && PATH_PROBLEMS[code]) return user(`cannot use ${path}: ${PATH_PROBLEMS[code]}`);
  if (code && DATABASE_UNREACHABLE.has(code) && (syscall === 'connect' || syscall === 'getaddrinfo')) {
    return { status: 1, message: `cannot reach the database: ${error.message}`, unexpected: false };
  }
  if (isPostgresError(error)) return { status: 1, message: `the database refused: ${error.message}`, unexpected: false };
  const named = error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
  return { status: 1, message: named || 'unknown error', unexpected: true };
}

/** The message of a failed listen, for `ListenError` (serve.ts). */
export function listenProblem(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return (code && LISTEN_PROBLEMS[code]) ?? (error as Error).message;
}

function directoryInUse(error: DatabaseDirectoryInUseError, advice: string): string {
  const holder = error.holder;
  const who = holder ? `PID ${holder.pid}${holder.host === hostname() ? '' : ` on host ${holder.host}`}, since ${holder.since}` : 'a process that has not recorded its PID yet';
  return `the embedded database in ${error.directory} is in use by another cairn process (${who}): ${advice}`;
}

// PostgreSQL errors (pg's DatabaseError) carry a severity and a five-character SQLSTATE.
function isPostgresError(error: Error): boolean {
  const e = error as Error & { severity?: unknown; code?: unknown };
  return typeof e.severity === 'string' && typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code);
}

