/**
 * Turns a failed start-up probe into one sentence an operator can act on: which bucket, which
 * endpoint, and which setting to look at. Never includes the credentials themselves.
 */
import { S3NetworkError, S3ResponseError } from './errors.js';

export interface CheckTarget {
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
}

export function describeCheckFailure(error: unknown, target: CheckTarget): string {
  const where = `S3 bucket "${target.bucket}" at ${target.endpoint}`;
  if (error instanceof S3NetworkError) return `${where} is unreachable: ${error.message}`;
  if (!(error instanceof S3ResponseError)) return `${where} failed the check: ${(error as Error).message}`;
  switch (error.code) {
    case 'NoSuchBucket':
      return `${where} does not exist (create it, or fix CAIRN_S3_BUCKET)`;
    case 'InvalidAccessKeyId':
      return `${where} refused the access key: check AWS_ACCESS_KEY_ID (InvalidAccessKeyId)`;
    case 'SignatureDoesNotMatch':
      return `${where} refused the request signature: check AWS_SECRET_ACCESS_KEY and CAIRN_S3_REGION (SignatureDoesNotMatch)`;
    case 'AccessDenied':
      return `${where} denied access: the credentials have no permission on this bucket (AccessDenied)`;
    case 'AuthorizationHeaderMalformed':
      return `${where} refused the request: check CAIRN_S3_REGION ("${target.region}") (${error.code})`;
    default:
      return `${where} answered ${error.status} ${error.code}: ${error.message}`;
  }
}
