/**
 * The executor's errors, named after facts. A step that runs and fails is not an error (it is an
 * ExecResult with its exit code); these are the cases where the step could not be run at all.
 */

/** The machine lacks what sandboxed RUN steps need; the message says what to install. */
export class ExecutorUnavailableError extends Error {
  constructor(readonly missing: string, readonly install: string) {
    super(`RUN steps cannot run on this machine: ${missing} (${install})`);
    this.name = 'ExecutorUnavailableError';
  }
}

/** A mount target that is not an absolute path inside the container, or climbs out with `..`. */
export class MountTargetInvalidError extends Error {
  constructor(readonly target: string) {
    super(`mount target "${target}" must be an absolute path without ".." components`);
    this.name = 'MountTargetInvalidError';
  }
}

/** The step's user or group is not in the root filesystem's /etc/passwd or /etc/group. */
export class UserNotFoundError extends Error {
  constructor(readonly user: string, readonly file: '/etc/passwd' | '/etc/group') {
    super(`unable to find ${file === '/etc/passwd' ? 'user' : 'group'} ${user}: no matching entries in ${file}`);
    this.name = 'UserNotFoundError';
  }
}

/** runc could not set the container up (not the step's own failure); the message is runc's. */
export class SandboxStartError extends Error {
  constructor(readonly reason: string) {
    super(`the sandbox could not start: ${reason}`);
    this.name = 'SandboxStartError';
  }
}
