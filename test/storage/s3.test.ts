/**
 * S3BlobStore: the shared conformance suite against a real S3 server (radosgw in CI), then what
 * only S3 has: multipart parts and buffered tails, leftovers in the bucket, hand-over between
 * two stores (two replicas), sealing for read-back.
 */
import { after, before, describe } from 'node:test';
import { runBlobStoreConformance } from './conformance.js';
import { createBucket, s3Target, S3_SKIP, testStore } from '../support/s3.js';
import { s3StoreTests } from './s3-specific.js';

const target = s3Target();

describe('S3BlobStore', { skip: S3_SKIP }, () => {
  let bucket: { name: string; drop(): Promise<void> } | undefined;
  before(async () => {
    bucket = await createBucket(target!);
  });
  after(async () => {
    await bucket?.drop();
  });
  const bucketName = () => {
    if (!bucket) throw new Error('bucket not created');
    return bucket.name;
  };

  runBlobStoreConformance('s3', () => testStore(target!, bucketName()));
  s3StoreTests(target!, bucketName);
});
