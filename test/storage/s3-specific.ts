import type { S3Target } from '../support/s3.js';
export function s3StoreTests(_target: S3Target, _bucket: () => string): void {}
