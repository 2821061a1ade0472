/**
 * Retention's domain errors, named after facts and free of HTTP. Each carries a `kind`; the admin
 * API maps kinds to statuses in its one table (API_ERRORS in src/http/admin/errors.ts).
 */
export type RetentionErrorKind =
  | 'policy_invalid'
  | 'policy_not_found'
  | 'run_in_progress'
  | 'run_not_found'
  | 'branch_invalid'
  | 'mapping_invalid'
  | 'mapping_not_found'
  | 'webhook_not_configured'
  | 'webhook_unauthenticated'
  | 'webhook_invalid';

export class RetentionError extends Error {
  constructor(
    readonly kind: RetentionErrorKind,
    message: string,
  ) {
    super(message);
    // One name for every kind: the CLI's error table (src/cli/errors.ts) matches it by name.
    this.name = 'RetentionError';
  }
}

export class PolicyInvalidError extends RetentionError {
  constructor(reason: string) {
    super('policy_invalid', reason);
  }
}

export class PolicyNotFoundError extends RetentionError {
  constructor(name: string) {
    super('policy_not_found', `no retention policy "${name}"`);
  }
}

export class RunInProgressError extends RetentionError {
  constructor(policy: string) {
    super('run_in_progress', `a run of policy "${policy}" is in progress (here or on another replica)`);
  }
}

export class RunNotFoundError extends RetentionError {
  constructor(id: number) {
    super('run_not_found', `no retention run ${id}`);
  }
}

export class BranchInvalidError extends RetentionError {
  constructor(reason: string) {
    super('branch_invalid', reason);
  }
}

export class MappingInvalidError extends RetentionError {
  constructor(reason: string) {
    super('mapping_invalid', reason);
  }
}

export class MappingNotFoundError extends RetentionError {
  constructor(gitRepository: string) {
    super('mapping_not_found', `no mapping for Git repository "${gitRepository}"`);
  }
}

export class WebhookNotConfiguredError extends RetentionError {
  constructor(forge: string) {
    super('webhook_not_configured', `the ${forge} webhook receiver is not configured (no shared secret)`);
  }
}

export class WebhookUnauthenticatedError extends RetentionError {
  constructor(forge: string) {
    super('webhook_unauthenticated', `${forge} webhook signature or token does not match the shared secret`);
  }
}

export class WebhookInvalidError extends RetentionError {
  constructor(reason: string) {
    super('webhook_invalid', reason);
  }
}
