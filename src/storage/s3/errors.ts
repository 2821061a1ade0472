/**
 * Failures of the S3 client, in the undici style: one base class with a stable `code`, one
 * small subclass per kind of failure. The store turns them into domain errors
 * (BlobNotFoundError, StorageUnavailableError…); nothing above the store sees these.
 */
export class S3ClientError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** S3 answered with an error status; `code` is S3's own (NoSuchKey, SlowDown, …). */
export class S3ResponseError extends S3ClientError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    readonly requestId?: string,
  ) {
    super(code, message);
  }
}

/** No answer: connection refused or reset, DNS, timeout. */
export class S3NetworkError extends S3ClientError {
  constructor(message: string, cause: unknown) {
    super('NetworkError', message, { cause });
  }
}

export function isStatus(error: unknown, ...statuses: number[]): error is S3ResponseError {
  return error instanceof S3ResponseError && statuses.includes(error.status);
}
