/**
 * A pass-through stream that hashes and counts bytes on their way to storage, so a blob is
 * hashed while it is written, never read twice. It also enforces the byte count the client
 * announced: a body that ends early fails the stream, and storage then discards the chunk.
 */
import type { Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { SizeInvalidError } from './errors.js';

export class DigestingStream extends Transform {
  bytes = 0;

  constructor(
    private readonly hash: Hash,
    private readonly expectedLength?: number,
  ) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.expectedLength !== undefined && this.bytes > this.expectedLength) {
      callback(new SizeInvalidError('body is longer than Content-Length'));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.expectedLength !== undefined && this.bytes !== this.expectedLength) {
      callback(
        new SizeInvalidError(`body ended after ${this.bytes} of ${this.expectedLength} bytes`, {
          received: this.bytes,
          expected: this.expectedLength,
        }),
      );
      return;
    }
    callback();
  }
}
